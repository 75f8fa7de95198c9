// A finished request → one redacted dataset line (PRODUCT.md section 8). Redaction happens here,
// before the record exists anywhere else.
import { randomUUID } from 'node:crypto';
import type { ResponseSummary } from '../gateway/ledger.js';
import { isoClock } from '../telemetry/iso-time.js';
import { DATASET_SCHEMA_VERSION, inputHash, type DatasetMessage, type DatasetRecord } from './dataset-record.js';
import type { Redactor } from './redact.js';
import { requestOf, responseOf, type SampleSource } from './sample-source.js';

const REQUEST_KEYS = new Set(['messages', 'tools', 'response_format', 'model', 'stream', 'stream_options', 'user']);

/** `rawInputHash`: the input hash of the unredacted request, reused when redaction changed nothing. */
export function buildRecord(source: SampleSource, redactor: Redactor, rawInputHash?: string): DatasetRecord {
  const rawRequest = rawRequestOf(source);
  const rawResponse = rawResponseOf(source, responseOf(source));
  const request = redactor.redactValue(rawRequest);
  const response = redactor.redactValue(rawResponse);
  const usage = source.usage;
  return {
    id: randomUUID(),
    schema_version: DATASET_SCHEMA_VERSION,
    route: source.route,
    source: {
      type: 'production',
      request_id: source.requestId,
      variant: source.variant,
      model: source.model,
      sampled_at: isoNow(),
      sampling_rate: source.samplingRate,
    },
    request: request.value,
    response: response.value,
    usage: usage
      ? { input_tokens: usage.input, output_tokens: usage.output, cached_input_tokens: usage.cachedInput, cache_write_tokens: usage.cacheWrite, reasoning_tokens: usage.reasoning }
      : null,
    latency_s: source.latencyS,
    ttft_s: source.ttftS,
    cost_usd: source.costUsd,
    outcome: source.errorClass === 'none' ? 'success' : 'error',
    tags: source.tags,
    redactions: request.count + response.count,
    input_hash: request.count === 0 && rawInputHash !== undefined ? rawInputHash : inputHash(request.value),
  };
}

const isoNow = isoClock();

/** The record's `request` before redaction. */
export function rawRequestOf(source: SampleSource): DatasetRecord['request'] {
  const body = requestOf(source);
  const params: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body)) if (!REQUEST_KEYS.has(key)) params[key] = value;
  return { ...inputOf(body), params };
}

/** The parts of a client body that `inputHash` covers, where the record keeps them (input and instructions in params). */
export function inputOf(body: Record<string, unknown>): Parameters<typeof inputHash>[0] {
  return {
    messages: Array.isArray(body.messages) ? (body.messages as DatasetMessage[]) : [],
    ...(body.tools !== undefined ? { tools: body.tools as unknown[] } : {}),
    ...(body.response_format !== undefined ? { response_format: body.response_format } : {}),
    params: { input: body.input, instructions: body.instructions },
  };
}

/** The record's `response` before redaction. */
export function rawResponseOf(source: SampleSource, summary: ResponseSummary | undefined): DatasetRecord['response'] {
  return {
    content: summary ? summary.content || (summary.toolCalls.length > 0 ? null : '') : null,
    ...(summary && summary.toolCalls.length > 0
      ? { tool_calls: summary.toolCalls.map((c, i) => ({ id: c.id ?? `call_${i}`, type: 'function', function: { name: c.name, arguments: c.arguments } })) }
      : {}),
    finish_reason: summary?.finishReason ?? null,
    ...(source.errorClass !== 'none' ? { error: { class: source.errorClass, message: source.errorMessage ?? '' } } : {}),
  };
}
