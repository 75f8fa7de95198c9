// A deterministic stand-in for an LLM: given an OpenAI chat request and a model's `simulation`
// settings it plans an answer (text, tool call or JSON), its usage and its timing. The in-process
// `simulator` provider and the HTTP fake upstream both play these plans, so the demo, the tests and the
// bench exercise the same behaviour. Output-affecting choices are seeded by the request (same request,
// same answer — like temperature 0); errors and latency jitter are random per call.
import { createHash } from 'node:crypto';
import type { Simulation } from '../config/types.js';
import { textOf } from '../providers/chat-wire.js';

export interface SimToolCall {
  id: string;
  name: string;
  arguments: string;
}

/** One generated answer (one entry of `choices`). */
export interface SimChoice {
  /** Content split into the pieces a stream would emit (one "token" each). */
  pieces: string[];
  toolCalls: SimToolCall[];
  finishReason: 'stop' | 'length' | 'tool_calls';
}

export interface SimPlan extends SimChoice {
  error?: { status: number; type: string; code: string | null; message: string; retryAfterSeconds?: number };
  /** Choices 1..n-1 when the request asks for `n` > 1 (choice 0 is the plan itself). */
  moreChoices: SimChoice[];
  /** As OpenAI reports it for `n` choices: the prompt once, completion tokens summed over choices. */
  usage: {
    prompt_tokens: number;
    completion_tokens: number;
    total_tokens: number;
    prompt_tokens_details: { cached_tokens: number };
    completion_tokens_details: { reasoning_tokens: number };
  };
  /** Delay before response headers (network + queueing). */
  headerDelayMs: number;
  /** Delay from headers to the first content piece. */
  firstTokenMs: number;
  /** Delay between pieces. */
  interTokenMs: number;
}

export interface ChatMessage {
  role: string;
  content?: unknown;
  name?: string;
  tool_calls?: unknown;
  tool_call_id?: string;
}

export interface ChatRequestLike {
  messages?: ChatMessage[];
  tools?: { type?: string; function?: { name?: string; parameters?: JsonSchemaLike } }[];
  tool_choice?: unknown;
  response_format?: { type?: string; json_schema?: { schema?: JsonSchemaLike } };
  max_tokens?: number;
  max_completion_tokens?: number;
  n?: number;
}

export interface JsonSchemaLike {
  type?: string | string[];
  properties?: Record<string, JsonSchemaLike>;
  required?: string[];
  items?: JsonSchemaLike;
  enum?: unknown[];
  description?: string;
}

const DEFAULTS = {
  latencyMs: { mean: 0, jitter: 0 },
  firstTokenMs: { mean: 0, jitter: 0 },
  tokensPerSecond: 0,
  errorRate: 0,
  rateLimitRate: 0,
  invalidJsonRate: 0,
  recall: 1,
  style: 'verbose' as const,
  cachedInputRatio: 0,
  reasoningTokens: 0,
  seed: 1,
};

export function planChat(req: ChatRequestLike, sim: Simulation | undefined, random: () => number = Math.random): SimPlan {
  const s = { ...DEFAULTS, ...sim };
  const promptText = (req.messages ?? []).map((m) => textOf(m.content)).join('\n');
  const userText = lastUserText(req.messages ?? []);
  const rng = seeded(`${s.seed}\u0000${promptText}\u0000${JSON.stringify(req.tools ?? null)}\u0000${JSON.stringify(req.response_format ?? null)}`);
  const promptTokens = estimateTokens(promptText) + 3 * (req.messages?.length ?? 0);
  const cached = Math.floor(promptTokens * s.cachedInputRatio);

  const timing = {
    headerDelayMs: jittered(s.latencyMs, random),
    firstTokenMs: jittered(s.firstTokenMs, random),
    interTokenMs: s.tokensPerSecond > 0 ? 1000 / s.tokensPerSecond : 0,
  };

  const roll = random();
  if (roll < s.rateLimitRate) {
    return failure(429, 'requests', 'rate_limit_exceeded', 'Rate limit reached for requests. Please try again in 1s.', timing, 1);
  }
  if (roll < s.rateLimitRate + s.errorRate) {
    return failure(500, 'server_error', null, 'The server had an error while processing your request. Sorry about that!', timing);
  }

  // Each choice is its own sample: choice 0 keeps the single-answer output, the others vary it.
  const choices = Array.from({ length: choiceCount(req.n) }, (_, i) => planChoice(req, s, userText, i === 0 ? rng : seeded(`${i}\u0000${s.seed}\u0000${promptText}`)));
  const completion = choices.reduce((sum, c) => sum + c.completionTokens, 0) + s.reasoningTokens * choices.length;
  const [first, ...more] = choices.map(({ pieces, toolCalls, finishReason }): SimChoice => ({ pieces, toolCalls, finishReason }));
  return {
    ...(first as SimChoice),
    moreChoices: more,
    usage: {
      prompt_tokens: promptTokens,
      completion_tokens: completion,
      total_tokens: promptTokens + completion,
      prompt_tokens_details: { cached_tokens: cached },
      completion_tokens_details: { reasoning_tokens: s.reasoningTokens * choices.length },
    },
    ...timing,
  };
}

function choiceCount(n: unknown): number {
  return typeof n === 'number' && Number.isInteger(n) && n > 1 ? Math.min(n, 128) : 1;
}

function planChoice(req: ChatRequestLike, s: { recall: number; invalidJsonRate: number; style: 'verbose' | 'concise' }, userText: string, rng: () => number): SimChoice & { completionTokens: number } {
  let pieces: string[] = [];
  let toolCalls: SimToolCall[] = [];
  const tool = chooseTool(req);
  if (tool) {
    const args = JSON.stringify(valueFor(tool.parameters ?? { type: 'object' }, entities(userText), rng, s.recall));
    toolCalls = [{ id: `call_${hex(rng, 24)}`, name: tool.name, arguments: args }];
  } else if (req.response_format?.type === 'json_schema' || req.response_format?.type === 'json_object') {
    const schema = req.response_format.json_schema?.schema ?? {
      type: 'object',
      properties: { answer: { type: 'string' }, entities: { type: 'array', items: { type: 'string' } } },
    };
    let json = JSON.stringify(valueFor(schema, entities(userText), rng, s.recall, true));
    if (rng() < s.invalidJsonRate) json = corruptJson(json, rng);
    pieces = tokenize(json);
  } else {
    pieces = tokenize(prose(userText, s.style, rng));
  }

  const limit = req.max_completion_tokens ?? req.max_tokens;
  let finishReason: SimPlan['finishReason'] = toolCalls.length > 0 ? 'tool_calls' : 'stop';
  if (limit !== undefined && pieces.length > limit) {
    pieces = pieces.slice(0, Math.max(0, limit));
    finishReason = 'length';
  }
  const completionTokens = pieces.length + toolCalls.reduce((sum, t) => sum + estimateTokens(t.arguments) + 4, 0);
  return { pieces, toolCalls, finishReason, completionTokens };
}

/** Deterministic pseudo-embedding: unit vector derived from the text's hash. */
function embed(text: string, dimensions = 16): number[] {
  const rng = seeded(text);
  const v = Array.from({ length: dimensions }, () => rng() * 2 - 1);
  const norm = Math.hypot(...v) || 1;
  return v.map((x) => x / norm);
}

/**
 * The embeddings response api.openai.com sends for `body`: one vector per input, `dimensions`
 * honoured, and with `encoding_format: "base64"` each vector as the base64 of its little-endian
 * float32 bytes. The official SDK asks for base64 whenever the caller names no format and decodes
 * it, so a fake that always answers with float arrays hands SDK users garbage vectors.
 */
export function embeddingsBody(body: Record<string, unknown>, model: string) {
  const input = body.input;
  const inputs = Array.isArray(input) ? input.map((i) => (typeof i === 'string' ? i : JSON.stringify(i))) : [textOf(input) || String(input ?? '')];
  const dimensions = typeof body.dimensions === 'number' && Number.isInteger(body.dimensions) && body.dimensions > 0 ? body.dimensions : 16;
  const base64 = body.encoding_format === 'base64';
  const tokens = inputs.reduce((sum, text) => sum + estimateTokens(text), 0);
  return {
    object: 'list' as const,
    data: inputs.map((text, index) => {
      const vector = embed(text, dimensions);
      return { object: 'embedding' as const, index, embedding: base64 ? Buffer.from(new Float32Array(vector).buffer).toString('base64') : vector };
    }),
    model,
    usage: { prompt_tokens: tokens, total_tokens: tokens },
  };
}

function estimateTokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / 4));
}

function failure(
  status: number,
  type: string,
  code: string | null,
  message: string,
  timing: Pick<SimPlan, 'headerDelayMs' | 'firstTokenMs' | 'interTokenMs'>,
  retryAfterSeconds?: number,
): SimPlan {
  return {
    error: { status, type, code, message, ...(retryAfterSeconds !== undefined ? { retryAfterSeconds } : {}) },
    pieces: [],
    toolCalls: [],
    finishReason: 'stop',
    moreChoices: [],
    usage: {
      prompt_tokens: 0,
      completion_tokens: 0,
      total_tokens: 0,
      prompt_tokens_details: { cached_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0 },
    },
    ...timing,
  };
}

function chooseTool(req: ChatRequestLike): { name: string; parameters?: JsonSchemaLike } | undefined {
  const tools = (req.tools ?? []).filter((t) => t.function?.name);
  if (tools.length === 0 || req.tool_choice === 'none') return undefined;
  // After a tool result the model answers in prose, as real models do.
  const last = req.messages?.[req.messages.length - 1];
  if (last?.role === 'tool') return undefined;
  const forced = req.tool_choice as { function?: { name?: string } } | undefined;
  const wanted = typeof forced === 'object' ? forced.function?.name : undefined;
  const tool = tools.find((t) => t.function?.name === wanted) ?? tools[0];
  const fn = tool?.function;
  if (!fn?.name) return undefined;
  return fn.parameters ? { name: fn.name, parameters: fn.parameters } : { name: fn.name };
}

/** Builds a value for a JSON schema, filling strings and string arrays with entities from the prompt. */
function valueFor(schema: JsonSchemaLike, found: string[], rng: () => number, recall: number, top = false): unknown {
  const type = Array.isArray(schema.type) ? schema.type.find((t) => t !== 'null') : schema.type;
  if (schema.enum && schema.enum.length > 0) return schema.enum[0];
  switch (type) {
    case 'object': {
      const out: Record<string, unknown> = {};
      for (const [key, sub] of Object.entries(schema.properties ?? {})) out[key] = valueFor(sub, found, rng, recall);
      if (top && !schema.properties) out.answer = found.join(', ');
      return out;
    }
    case 'array': {
      const kept = found.filter(() => rng() < recall);
      const itemType = schema.items?.type;
      if (itemType === 'string' || itemType === undefined) return kept;
      return kept.map((e) => valueFor(schema.items ?? {}, [e], rng, 1));
    }
    case 'integer':
    case 'number': {
      const num = found.map((e) => Number(e.replace(/[^0-9.]/g, ''))).find((x) => Number.isFinite(x) && x > 0);
      return num ?? 1;
    }
    case 'boolean':
      return true;
    default:
      return found[0] ?? 'unknown';
  }
}

const ENTITY = /\b(?:[A-Z][a-zA-Z&'-]+(?:\s+(?:of|de|la|von|van|and|&)?\s*[A-Z][a-zA-Z&'-]+)*|\d{4}-\d{2}-\d{2}|\$?\d[\d,]*(?:\.\d+)?%?|[\w.+-]+@[\w-]+\.[\w.]+)/g;
const STOP = new Set(['The', 'A', 'An', 'In', 'On', 'At', 'I', 'We', 'You', 'It', 'This', 'That', 'Please', 'Extract', 'Return', 'List', 'Find', 'Give', 'What', 'Who', 'When', 'Where', 'Which', 'How', 'Why', 'Text', 'Source', 'JSON', 'Answer', 'From', 'And', 'For', 'Ignore', 'Also', 'Tell', 'Summarize', 'Summarise', 'Describe', 'Explain', 'Write', 'Show', 'Name', 'Identify', 'Classify', 'Translate', 'Here', 'Note', 'Output', 'Input', 'Use', 'Only', 'Do', 'Be']);

/** Named things in the text: capitalised phrases, dates, numbers and e-mail addresses, in order, unique. */
export function entities(text: string): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (const match of text.matchAll(ENTITY)) {
    let e = match[0].trim();
    const words = e.split(/\s+/);
    while (words.length > 0 && STOP.has(words[0] ?? '')) words.shift();
    // A lone capitalised word opening a sentence is just grammar ("Weather in Lisbon?").
    const before = text.slice(0, match.index).trimEnd();
    if (words.length === 1 && /^[A-Z][a-z]+$/.test(words[0] ?? '') && (before === '' || /[.!?:]$/.test(before))) continue;
    e = words.join(' ');
    if (e.length < 2 || seen.has(e)) continue;
    seen.add(e);
    out.push(e);
  }
  return out;
}

function prose(userText: string, style: 'verbose' | 'concise', rng: () => number): string {
  const topic = userText.replace(/\s+/g, ' ').trim().split(' ').slice(0, 8).join(' ') || 'your request';
  const found = entities(userText).slice(0, 5);
  if (style === 'concise') {
    return `${topic}: ${found.length > 0 ? found.join(', ') : 'noted'}. Done.`;
  }
  const openers = ['Certainly!', 'Of course!', 'Great question!', 'Happy to help!'];
  const opener = openers[Math.floor(rng() * openers.length)] ?? 'Certainly!';
  return (
    `${opener} Here is a careful answer about "${topic}". ` +
    (found.length > 0 ? `The key items I found are ${found.join(', ')}. ` : '') +
    'I considered the context you gave, checked each point against it, and kept only what it supports. ' +
    'Let me know if you would like more detail on any part of this.'
  );
}

function corruptJson(json: string, rng: () => number): string {
  // Two failure shapes seen from small models: truncated objects and prose-wrapped JSON.
  if (rng() < 0.5) return json.slice(0, Math.max(1, Math.floor(json.length * 0.6)));
  return `Sure! Here is the JSON:\n${json}`;
}

function tokenize(text: string): string[] {
  return text.match(/\S+\s*|\s+/g) ?? [];
}


function lastUserText(messages: ChatMessage[]): string {
  for (let i = messages.length - 1; i >= 0; i--) {
    if (messages[i]?.role === 'user') return textOf(messages[i]?.content);
  }
  return '';
}

function jittered(range: { mean: number; jitter?: number | undefined }, random: () => number): number {
  const jitter = range.jitter ?? 0;
  return Math.max(0, range.mean + (random() * 2 - 1) * jitter);
}

function hex(rng: () => number, length: number): string {
  let out = '';
  while (out.length < length) out += Math.floor(rng() * 16).toString(16);
  return out;
}

/** mulberry32 seeded from a sha256 of the key. */
export function seeded(key: string): () => number {
  let a = createHash('sha256').update(key).digest().readUInt32LE(0);
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
