/**
 * One line of a dataset (PRODUCT.md §8): a production request and its answer, already redacted.
 * The TypeBox schema is the single definition: the TypeScript type is derived from it and
 * readers (export, eval runner) validate with it.
 */
import { hash } from 'node:crypto';
import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';

export const DATASET_SCHEMA_VERSION = 1;

/** ISO 8601 pieces shared with the export filter (`since`/`until`), which also accepts a bare date. */
export const ISO_DATE = String.raw`(\d{4})-(\d{2})-(\d{2})`;
export const ISO_FRACTION = String.raw`(?:\.\d+)?`;
export const ISO_OFFSET = String.raw`(?:Z|[+-]\d{2}:\d{2})`;
// A stored timestamp is always complete: seconds and an offset.
const ISO_DATE_TIME = String.raw`^${ISO_DATE}T\d{2}:\d{2}:\d{2}${ISO_FRACTION}${ISO_OFFSET}$`;
const Count = Type.Integer({ minimum: 0 });

// Wire shapes stay open (additional properties allowed): providers add fields over time and a
// dataset must keep what the client actually sent.
export const DatasetMessageSchema = Type.Object(
  {
    role: Type.String(),
    content: Type.Optional(Type.Union([Type.String(), Type.Null(), Type.Array(Type.Unknown())])),
  },
  { additionalProperties: true },
);

export const DatasetToolCallSchema = Type.Object(
  {
    id: Type.String(),
    type: Type.String(),
    function: Type.Object({ name: Type.String(), arguments: Type.String() }, { additionalProperties: true }),
  },
  { additionalProperties: true },
);

/** Disjoint token buckets, the same as the `type` label of `bellwether_tokens_total`. */
export const DatasetUsageSchema = Type.Object(
  {
    input_tokens: Count,
    output_tokens: Count,
    cached_input_tokens: Type.Optional(Count),
    cache_write_tokens: Type.Optional(Count),
    reasoning_tokens: Type.Optional(Count),
  },
  { additionalProperties: true },
);

export const DatasetRecordSchema = Type.Object(
  {
    id: Type.String({ minLength: 1 }),
    schema_version: Type.Literal(DATASET_SCHEMA_VERSION),
    /** Also the dataset name. */
    route: Type.String({ minLength: 1 }),
    source: Type.Object(
      {
        type: Type.Literal('production'),
        request_id: Type.String(),
        /** The assigned arm; `shadow` for a mirrored call whose answer the client never saw. */
        variant: Type.Union([Type.Literal('champion'), Type.Literal('challenger'), Type.Literal('shadow')]),
        /** Configured model that answered. */
        model: Type.String(),
        sampled_at: Type.String({ pattern: ISO_DATE_TIME }),
        sampling_rate: Type.Number({ minimum: 0, maximum: 1 }),
      },
      { additionalProperties: false },
    ),
    request: Type.Object(
      {
        messages: Type.Array(DatasetMessageSchema),
        tools: Type.Optional(Type.Array(Type.Unknown())),
        response_format: Type.Optional(Type.Unknown()),
        /** Everything else the client sent (temperature, max_tokens, …). */
        params: Type.Record(Type.String(), Type.Unknown()),
      },
      { additionalProperties: false },
    ),
    response: Type.Object(
      {
        content: Type.Union([Type.String(), Type.Null()]),
        tool_calls: Type.Optional(Type.Array(DatasetToolCallSchema)),
        finish_reason: Type.Union([Type.String(), Type.Null()]),
      },
      { additionalProperties: true },
    ),
    /** null when the upstream reported no usage. */
    usage: Type.Union([DatasetUsageSchema, Type.Null()]),
    latency_s: Type.Number({ minimum: 0 }),
    /** null for non-streamed calls and streams that produced no content. */
    ttft_s: Type.Union([Type.Number({ minimum: 0 }), Type.Null()]),
    /** null when the model is unpriced: unknown cost is never 0 (NOTES.md). */
    cost_usd: Type.Union([Type.Number({ minimum: 0 }), Type.Null()]),
    outcome: Type.Union([Type.Literal('success'), Type.Literal('error')]),
    difficulty: Type.Optional(Type.Union([Type.Literal('easy'), Type.Literal('hard'), Type.Literal('adversarial')])),
    tags: Type.Array(Type.String()),
    reference: Type.Optional(Type.Unknown()),
    split: Type.Optional(Type.Union([Type.Literal('regression'), Type.Literal('full'), Type.Literal('holdout')])),
    /** How many values redaction replaced in this record. */
    redactions: Count,
    /** sha256 (hex) of the normalised, redacted input; see `inputHash`. Used for de-duplication. */
    input_hash: Type.String({ pattern: '^[0-9a-f]{64}$' }),
  },
  { additionalProperties: false },
);

export type DatasetMessage = Static<typeof DatasetMessageSchema>;
export type DatasetToolCall = Static<typeof DatasetToolCallSchema>;
export type DatasetUsage = Static<typeof DatasetUsageSchema>;
export type DatasetRecord = Static<typeof DatasetRecordSchema>;
export type DatasetRequest = DatasetRecord['request'];

const checker = TypeCompiler.Compile(DatasetRecordSchema);

export function isDatasetRecord(value: unknown): value is DatasetRecord {
  return checker.Check(value);
}

/** Human-readable reasons a value is not a record (first few), for logs and CLI errors. */
export function datasetRecordErrors(value: unknown, max = 5): string[] {
  const out: string[] = [];
  for (const e of checker.Errors(value)) {
    out.push(`${e.path || '/'}: ${e.message}`);
    if (out.length >= max) break;
  }
  return out;
}

/** Parses one JSONL line; undefined for a truncated, malformed or foreign line. */
export function parseDatasetLine(line: string): DatasetRecord | undefined {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return undefined;
  }
  return isDatasetRecord(value) ? value : undefined;
}

/**
 * Identity of a case's input for de-duplication: sha256 of messages + tools + response_format, plus
 * `params.input` and `params.instructions` when present (Responses API and embeddings bodies carry
 * their input there, with no messages), with object keys sorted and strings trimmed, so re-ordered
 * keys or trailing whitespace do not make a "new" case. Absent fields are left out, so chat hashes
 * are the same as before those two were added. Computed on the redacted request, so anyone can
 * recompute it from a line.
 */
export function inputHash(
  request: Pick<DatasetRequest, 'messages' | 'tools' | 'response_format'> & { params?: DatasetRequest['params'] },
): string {
  const canonical = canonicalJson({
    messages: request.messages,
    tools: request.tools,
    response_format: request.response_format,
    input: request.params?.input,
    instructions: request.params?.instructions,
  });
  // The one-shot `hash` (Node ≥ 20.12) costs half of createHash().update().digest() for inputs this size.
  return hash('sha256', canonical, 'hex');
}

/**
 * `JSON.stringify` of a copy of `value` with object keys sorted, strings trimmed and undefined
 * members left out — written out directly instead of building that copy: the sampling worker hashes
 * every record's input, and the copy (with `Array.prototype.sort`'s work arrays) was most of what
 * hashing allocated. For values `JSON.parse` can produce, which is all a request body holds.
 */
export function canonicalJson(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value.trim());
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) {
        let out = '[';
        for (let i = 0; i < value.length; i++) {
          const item: unknown = value[i];
          out += (i === 0 ? '' : ',') + (item === undefined ? 'null' : canonicalJson(item));
        }
        return out + ']';
      }
      const keys = sortedKeys(value);
      let out = '{';
      let first = true;
      for (const key of keys) {
        const item = (value as Record<string, unknown>)[key];
        if (item === undefined) continue;
        out += (first ? '' : ',') + JSON.stringify(key) + ':' + canonicalJson(item);
        first = false;
      }
      return out + '}';
    }
    default:
      // Numbers and booleans, as JSON writes them (a parsed body holds nothing else).
      return JSON.stringify(value) ?? 'null';
  }
}

/**
 * Object keys in the order the normalised copy had them: integer-like keys first, ascending (objects
 * always list those first, whatever the insertion order), then the rest sorted as
 * `Array.prototype.sort` sorts. Small objects (nearly all) by insertion, without sort's work arrays.
 */
function sortedKeys(value: object): string[] {
  const keys = Object.keys(value);
  let start = 0;
  while (start < keys.length && isArrayIndex(keys[start] as string)) start++;
  if (keys.length - start > 16) return [...keys.slice(0, start), ...keys.slice(start).sort()];
  for (let i = start + 1; i < keys.length; i++) {
    const key = keys[i] as string;
    let j = i - 1;
    for (; j >= start && (keys[j] as string) > key; j--) keys[j + 1] = keys[j] as string;
    keys[j + 1] = key;
  }
  return keys;
}

const ARRAY_INDEX = /^(?:0|[1-9]\d{0,9})$/;

/** A key objects list first: a canonical integer below 2^32 − 1. */
function isArrayIndex(key: string): boolean {
  const first = key.charCodeAt(0);
  return first >= 0x30 && first <= 0x39 && ARRAY_INDEX.test(key) && Number(key) < 4294967295;
}
