// OpenAI's HTTP API, and everything that speaks it (vLLM, Ollama, LiteLLM, Azure OpenAI...). One
// implementation configured by data: where each operation lives, and how the key is sent.
import { Pool, type Dispatcher } from 'undici';
import type { IncomingHttpHeaders } from 'node:http';
import type { ProviderConfig } from '../../config/types.js';
import { fromOpenAIUsage, type OpenAIUsageWire, type Usage } from '../../accounting/usage.js';
import type { Operation, PassthroughTarget, Provider, ProviderCall, ProviderResponse, StreamEvent } from '../types.js';
import { createParser, type EventSourceMessage, type EventSourceParser } from 'eventsource-parser';
import { DeferredChunk, SseText, canDefer } from '../sse.js';
import { parseObject } from '../json-object.js';
import { httpError, longestFirst, streamErrorStatus, transportError } from '../upstream-errors.js';
import { GatewayError } from '../../gateway/errors.js';
import type { Cancellation } from '../cancellation.js';

interface Dialect {
  /** Request path for an operation and upstream model, relative to the origin. */
  path(operation: Operation, upstreamModel: string): string;
  headers: Record<string, string>;
  operations: ReadonlySet<Operation>;
  /** Azure puts the deployment in the URL; the body's `model` is ignored there. */
  passthroughPrefix: string | undefined;
}

type OpenAIish = Extract<ProviderConfig, { type: 'openai' | 'openai-compatible' | 'azure-openai' }>;

const PATHS: Record<Operation, string> = { chat: '/chat/completions', embeddings: '/embeddings', responses: '/responses' };

function dialectFor(config: OpenAIish, basePath: string): Dialect {
  if (config.type === 'azure-openai') {
    const version = encodeURIComponent(config.apiVersion);
    // The resource endpoint, whether the base URL was given with the `/openai` (or `/openai/v1`)
    // suffix that Azure's portal and SDK samples show, or without.
    const resource = basePath.replace(/\/openai(?:\/v1)?$/, '');
    return {
      // Chat and embeddings live under the deployment, with a dated api-version. The Responses API
      // is only served by the v1 API: /openai/v1/responses, no api-version, the deployment in the
      // body's `model` (learn.microsoft.com/azure/ai-foundry/openai/how-to/responses).
      path: (op, deployment) =>
        op === 'responses'
          ? `${resource}/openai/v1/responses`
          : `${resource}/openai/deployments/${encodeURIComponent(deployment)}${PATHS[op]}?api-version=${version}`,
      headers: { 'api-key': config.apiKey },
      operations: new Set(['chat', 'embeddings', 'responses']),
      passthroughPrefix: undefined,
    };
  }
  const headers: Record<string, string> = { ...(config.headers ?? {}) };
  if (config.apiKey) headers.authorization = `Bearer ${config.apiKey}`;
  return {
    path: (op) => `${basePath}${PATHS[op]}`,
    headers,
    // Most self-hosted OpenAI-compatible servers don't implement /responses; the gateway translates.
    operations: new Set<Operation>(config.type === 'openai' ? ['chat', 'embeddings', 'responses'] : ['chat', 'embeddings']),
    passthroughPrefix: basePath,
  };
}

/**
 * A configured header whose name says it carries a credential: `api-key`, `authorization`,
 * `x-auth-token`, `x-goog-api-key`… Broader than CREDENTIAL_HEADERS (telemetry/logger.ts) on purpose:
 * that fixed list decides what is stripped from a client's request or a log line, where removing an
 * ordinary header would break something; here a false match only masks one more configured value in
 * error messages and samples, while a miss would leak a key the operator put in `headers`.
 */
const CREDENTIAL_HEADER = /key|token|secret|auth|passw|credential|cookie|signature/i;
const AUTH_SCHEME = /^(?:bearer|basic|token|key|api-?key)\s+(\S+)$/i;

/**
 * Every credential this provider sends: its `apiKey`, and the values of credential-like headers set
 * through `headers` (a server behind an API gateway often wants `api-key` or `x-api-key` instead of a
 * bearer token). A scheme-prefixed value (`Bearer …`, `Basic …`) also contributes its bare token,
 * which is what an upstream echoes back. They feed withoutSecrets and the sampling redactor.
 */
function credentials(config: OpenAIish): string[] {
  const out = config.apiKey ? [config.apiKey] : [];
  const headers = config.type === 'azure-openai' ? {} : (config.headers ?? {});
  for (const [name, value] of Object.entries(headers)) {
    if (!CREDENTIAL_HEADER.test(name) || !value) continue;
    out.push(value);
    const token = AUTH_SCHEME.exec(value.trim())?.[1];
    if (token) out.push(token);
  }
  return [...new Set(out)];
}

export class OpenAICompatibleProvider implements Provider {
  readonly type: OpenAIish['type'];
  private readonly pool: Pool;
  readonly origin: string;
  private readonly dialect: Dialect;
  /** Built once, longest first (credentials()): every exchange takes them along to keep them out of error messages. */
  private readonly keys: string[];

  constructor(
    readonly name: string,
    config: OpenAIish,
    connectTimeoutMs = 10_000,
    /** Stream events queued before the upstream is paused (tests lower it). */
    private readonly streamHighWater = HIGH_WATER,
  ) {
    this.type = config.type;
    this.keys = longestFirst(credentials(config));
    const url = new URL(config.baseUrl);
    this.origin = url.origin;
    this.dialect = dialectFor(config, url.pathname.replace(/\/+$/, ''));
    this.pool = new Pool(this.origin, {
      connections: config.connections ?? 128,
      keepAliveTimeout: 30_000,
      connect: { timeout: config.timeouts?.connectMs ?? connectTimeoutMs },
      // The gateway enforces first-token / idle / total timeouts itself, per route.
      headersTimeout: 0,
      bodyTimeout: 0,
    });
  }

  supports(operation: Operation): boolean {
    return this.dialect.operations.has(operation);
  }

  passthrough(): PassthroughTarget | undefined {
    if (this.dialect.passthroughPrefix === undefined) return undefined;
    return { upstream: this.origin, prefix: this.dialect.passthroughPrefix, headers: this.dialect.headers };
  }

  secrets(): string[] {
    return this.keys;
  }

  async call(call: ProviderCall): Promise<ProviderResponse> {
    const request = {
      method: 'POST' as const,
      path: this.dialect.path(call.operation, call.model.upstreamModel),
      headers: { ...call.traceHeaders, ...this.dialect.headers, 'content-type': 'application/json', accept: call.stream ? 'text/event-stream' : 'application/json' },
      body: JSON.stringify(call.body),
    };
    return new Promise((resolve, reject) => {
      const exchange = new Exchange(call.cancel, this.name, call.stream, resolve, reject, this.streamHighWater, this.keys, call.operation === 'chat');
      try {
        this.pool.dispatch(request, exchange);
      } catch (err) {
        exchange.onResponseError(undefined, err as Error);
      }
    });
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}

/** Queued stream events beyond which the upstream is paused until the relay catches up. */
const HIGH_WATER = 64;

const DONE: IteratorReturnResult<undefined> = Object.freeze({ done: true, value: undefined });

/**
 * One exchange, straight from the dispatcher. `pool.request` would wrap the body in a Readable and
 * listen to an AbortSignal; for a streamed answer the relay would then pull each chunk through the
 * Readable's async iterator and two generators. That machinery cost more CPU per request than
 * everything else the provider does, and delayed each stream's first event (bench profile).
 * A JSON answer (or any error body) is gathered whole; an SSE answer is decoded and split into events
 * as chunks arrive, and the relay pulls them from a short queue — past HIGH_WATER queued events the
 * upstream is paused, so a slow client slows the upstream instead of growing the heap.
 */
class Exchange implements Dispatcher.DispatchHandler {
  private controller: Dispatcher.DispatchController | undefined;
  private status = 0;
  private headers: IncomingHttpHeaders = {};
  private streaming = false;
  private readonly chunks: Buffer[] = [];
  private settled = false;
  /** Assigned in the constructor; a no-op until then, for a cancellation that has already ended. */
  private stopListening: () => void = () => {};
  // Streaming state.
  private readonly queue: StreamEvent[] = [];
  private head = 0;
  private ended = false;
  private failure: GatewayError | undefined;
  /** The relay's pending next(), while the queue is empty. */
  private waiter: { resolve: (next: IteratorResult<StreamEvent>) => void; reject: (error: GatewayError) => void } | undefined;
  /** The upstream is paused (HIGH_WATER); kept here, undici's controller reads it through a getter. */
  private paused = false;
  /** The relay has read the last event, the failure, or stopped reading. */
  private finished = false;
  private text: SseText | undefined;
  private parser: EventSourceParser | undefined;

  constructor(
    private readonly cancel: Cancellation,
    private readonly name: string,
    private readonly wantsStream: boolean,
    private readonly resolve: (response: ProviderResponse) => void,
    private readonly reject: (error: GatewayError) => void,
    private readonly highWater = HIGH_WATER,
    /** The provider's keys, kept out of error messages (withoutSecrets). */
    private readonly secrets: readonly string[] = [],
    /** Chat chunks that carry no usage and no error are parsed when first read (DeferredChunk). */
    private readonly defer = false,
  ) {
    // A request still queued for a connection fails at once; the dispatcher drops it when it starts.
    this.stopListening = cancel.onAbort((reason) => {
      this.controller?.abort(reason instanceof Error ? reason : new Error(String(reason)));
      this.fail(transportError(reason, cancel, name, this.status ? 'stream' : 'connect'));
    });
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    if (this.cancel.aborted) controller.abort(this.cancel.reason instanceof Error ? this.cancel.reason : new Error('cancelled'));
  }

  onResponseStart(_controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    this.status = statusCode;
    this.headers = headers;
    if (this.wantsStream && statusCode < 400 && String(headers['content-type'] ?? '').includes('text/event-stream')) {
      this.streaming = true;
      this.text = new SseText();
      this.parser = createParser({ onEvent: (message) => this.push(message) });
      this.settled = true;
      this.resolve({ kind: 'stream', status: statusCode, events: this.events() });
    }
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (!this.streaming) {
      this.chunks.push(chunk);
      return;
    }
    this.parser?.feed(this.text?.write(chunk) ?? '');
    if (this.queue.length - this.head >= this.highWater && !this.paused) {
      this.paused = true;
      controller.pause();
    }
    this.wakeUp();
  }

  onResponseEnd(): void {
    if (this.streaming) {
      this.parser?.feed(this.text?.end() ?? '');
      this.ended = true;
      this.stopListening();
      this.wakeUp();
      return;
    }
    if (this.settled) return;
    const bytes = this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks);
    try {
      if (this.status >= 400) throw httpError(this.status, this.headers, bytes.toString('utf8'), this.name, this.secrets);
      // Built before settling: a body that is not a JSON object throws here and must reject the call.
      const answer = jsonAnswer(this.status, bytes, this.headers, this.name);
      this.settled = true;
      this.stopListening();
      this.resolve(answer);
    } catch (err) {
      this.fail(err as GatewayError);
    }
  }

  onResponseError(_controller: Dispatcher.DispatchController | undefined, error: Error): void {
    this.fail(transportError(error, this.cancel, this.name, this.status ? 'stream' : 'connect'));
  }

  private fail(error: GatewayError): void {
    this.stopListening();
    if (!this.settled) {
      this.settled = true;
      this.reject(error);
      return;
    }
    this.failure ??= error;
    this.wakeUp();
  }

  private push(message: EventSourceMessage): void {
    if (this.failure) return;
    if (message.data === '[DONE]') {
      this.queue.push({ data: '[DONE]' });
      return;
    }
    if (this.defer && canDefer(message)) {
      this.queue.push(new DeferredChunk(message.data));
      return;
    }
    // Only an object is a chunk; anything else (a bare number as keep-alive) is relayed untouched.
    const json = parseObject(message.data);
    if (json && (('error' in json && json.error) || json.type === 'error' || json.type === 'response.failed' || message.event === 'error')) {
      const error = streamError(json, message.data, this.name, this.secrets);
      this.controller?.abort(error);
      this.fail(error);
      return;
    }
    const event: StreamEvent = { data: message.data };
    if (message.event) event.event = message.event;
    if (json) event.json = json;
    const usage = streamUsage(json);
    if (usage) event.usage = usage;
    this.queue.push(event);
  }

  /** Hands the relay what it waits for, if it waits and something arrived. */
  private wakeUp(): void {
    const waiter = this.waiter;
    if (waiter === undefined) return;
    const next = this.take();
    if (next === undefined) return;
    this.waiter = undefined;
    if (next instanceof GatewayError) waiter.reject(next);
    else waiter.resolve(next);
  }

  /**
   * The relay's end of the queue. Written out rather than as an async generator: a generator's
   * `yield` awaits its value and resumes through extra promise jobs; with it and the per-event read
   * of undici's `paused` getter, this module took ~140 µs of the gateway's CPU per 23-event stream,
   * ~75 µs without (perf, 2026-11-28). A relay waiting for the upstream is handed its event directly
   * (wakeUp), not woken to come and fetch it.
   */
  private events(): AsyncIterableIterator<StreamEvent> {
    return {
      [Symbol.asyncIterator]() {
        return this;
      },
      next: () => this.nextEvent(),
      return: () => {
        this.stopReading();
        return Promise.resolve(DONE);
      },
    };
  }

  private nextEvent(): Promise<IteratorResult<StreamEvent>> {
    const next = this.take();
    // Waiting, the relay is resumed straight from onResponseData with its event: one promise job.
    if (next === undefined) return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
    return next instanceof GatewayError ? Promise.reject(next) : Promise.resolve(next);
  }

  /** The relay's next event, its end or the failure; undefined while there is nothing to give yet. */
  private take(): IteratorResult<StreamEvent> | GatewayError | undefined {
    if (this.finished) return DONE;
    if (this.head < this.queue.length) {
      const event = this.queue[this.head++] as StreamEvent;
      if (this.head === this.queue.length) {
        this.queue.length = 0;
        this.head = 0;
      }
      if (this.paused && this.queue.length - this.head <= this.highWater / 4) {
        this.paused = false;
        this.controller?.resume();
      }
      return { done: false, value: event };
    }
    if (this.failure) {
      this.finished = true;
      return this.failure;
    }
    if (this.ended) {
      this.finished = true;
      return DONE;
    }
    return undefined;
  }

  /** The relay stopped reading (client gone, error): no orphan upstream stream. */
  private stopReading(): void {
    if (this.finished) return;
    this.finished = true;
    this.wakeUp();
    if (!this.ended && !this.failure) {
      this.stopListening();
      this.controller?.abort(new Error('stream consumer stopped'));
    }
  }
}

/** Usage in a chat chunk (`usage`) or in the Responses API's `response.completed` event. */
function streamUsage(json: Record<string, unknown> | undefined): Usage | undefined {
  if (!json) return undefined;
  if (json.usage) return fromOpenAIUsage(json.usage as OpenAIUsageWire);
  const response = json.response as { usage?: OpenAIUsageWire | null } | undefined;
  if (json.type === 'response.completed' || json.type === 'response.incomplete') return fromOpenAIUsage(response?.usage);
  return undefined;
}

/**
 * An error reported inside a stream: chat's `{error}` chunk, or the Responses API's error events —
 * classified by its type and code (streamErrorStatus), with the upstream's own body kept for the client.
 */
function streamError(json: Record<string, unknown>, data: string, name: string, secrets: readonly string[]): GatewayError {
  if (json.type === 'error' || json.type === 'response.failed') {
    const e = (json.type === 'error' ? json : (json.response as { error?: unknown } | undefined)?.error) as { message?: unknown; code?: unknown; type?: unknown } | undefined;
    const message = typeof e?.message === 'string' ? e.message : `upstream provider "${name}" reported an error`;
    const status = streamErrorStatus(e?.type, e?.code);
    const type = typeof e?.type === 'string' && e.type !== 'error' ? e.type : status === 429 ? 'rate_limit_error' : status >= 500 ? 'server_error' : 'invalid_request_error';
    return httpError(status, {}, JSON.stringify({ error: { message, type, code: typeof e?.code === 'string' ? e.code : null } }), name, secrets);
  }
  // `{"error":{…}}`, or a bare object under `event: error` (some OpenAI-compatible servers).
  const e = (typeof json.error === 'object' && json.error !== null ? json.error : json) as { type?: unknown; code?: unknown };
  return httpError(streamErrorStatus(e.type, e.code), {}, data, name, secrets);
}

/**
 * A JSON answer relayed as the upstream's own bytes. Decoding and the full parse are deferred until
 * someone needs the object (checks, sampling, translation): the hot path only needs usage, read
 * from the tail.
 */
function jsonAnswer(status: number, bytes: Buffer, headers: IncomingHttpHeaders, name: string): Extract<ProviderResponse, { kind: 'json' }> {
  if (bytes[firstNonSpace(bytes)] !== OPEN_BRACE) parseJsonObject(bytes.toString('utf8'), headers, name); // throws the 502 with its cause
  const answer = new JsonAnswer(status, bytes, headers, name);
  answer.usage = usageFromTail(tailFrom(bytes, USAGE_KEY)) ?? fromOpenAIUsage(answer.json.usage as OpenAIUsageWire | undefined);
  return answer;
}

/**
 * A JSON answer whose body is parsed on first use. A class with a prototype getter, not an object
 * literal with a `get json()` closure: V8 keeps a literal's accessor pair in old space, so each dead
 * answer still pointed from old space at its young closure — and every scavenge kept and promoted
 * that request's body, headers and parse result until the next full GC. At 500 req/s that was
 * ~540 KB promoted per scavenge and 3–5 ms pauses, the gateway's p99; with this class ~15 KB and
 * 1–2.5 ms (`--trace-gc-nvp`; a 20-line script reproduces it: 910 KB vs 6 KB per scavenge).
 */
class JsonAnswer {
  readonly kind = 'json' as const;
  usage: Usage | undefined;
  private parsed: Record<string, unknown> | undefined;

  constructor(
    readonly status: number,
    readonly body: Buffer,
    private readonly headers: IncomingHttpHeaders,
    private readonly name: string,
  ) {}

  get json(): Record<string, unknown> {
    return (this.parsed ??= parseJsonObject(this.body.toString('utf8'), this.headers, this.name));
  }
}

const OPEN_BRACE = 0x7b;
const USAGE_KEY = Buffer.from('"usage"');

function firstNonSpace(bytes: Buffer): number {
  let i = 0;
  while (bytes[i] === 0x20 || bytes[i] === 0x0a || bytes[i] === 0x0d || bytes[i] === 0x09) i++;
  return i;
}

/**
 * The text from one byte before the last `key` on: all usageFromTail looks at (it checks the
 * character before the key for an escape). Empty when the key is absent.
 */
function tailFrom(bytes: Buffer, key: Buffer): string {
  const at = bytes.lastIndexOf(key);
  return at <= 0 ? '' : bytes.toString('utf8', at - 1);
}

/** OpenAI puts `"usage":{…}` after the choices; parse just that object. Undefined if unsure. */
export function usageFromTail(text: string): Usage | undefined {
  const key = text.lastIndexOf('"usage"');
  if (key <= 0 || text[key - 1] === '\\') return undefined;
  let i = key + 7;
  while (text[i] === ' ' || text[i] === '\n' || text[i] === '\t' || text[i] === '\r') i++;
  if (text[i] !== ':') return undefined;
  i++;
  while (text[i] === ' ' || text[i] === '\n' || text[i] === '\t' || text[i] === '\r') i++;
  if (text[i] !== '{') return undefined;
  // Usage objects hold keys, numbers and objects one level deep (…_tokens_details): braces inside
  // strings can't occur. Deeper nesting doesn't match and falls back to the full parse.
  USAGE_OBJECT.lastIndex = i;
  const match = USAGE_OBJECT.exec(text);
  if (!match) return undefined;
  try {
    return fromOpenAIUsage(JSON.parse(match[0]) as OpenAIUsageWire);
  } catch {
    return undefined;
  }
}

// Unrolled (no per-character alternation): runs of plain characters around nested objects.
const USAGE_OBJECT = /\{[^{}]*(?:\{[^{}]*\}[^{}]*)*\}/y;

function parseJsonObject(text: string, headers: IncomingHttpHeaders, name: string): Record<string, unknown> {
  try {
    const json: unknown = JSON.parse(text);
    if (json && typeof json === 'object' && !Array.isArray(json)) return json as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new GatewayError({
    status: 502,
    errorClass: 'upstream_5xx',
    message: `upstream provider "${name}" returned a body that is not a JSON object`,
    type: 'api_error',
    code: 'bad_upstream_response',
    cause: `content-type ${String(headers['content-type'])}`,
  });
}
