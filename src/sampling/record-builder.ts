// A finished request → one redacted dataset line (PRODUCT.md section 8). Redaction happens here,
// before the record exists anywhere else.
import { randomUUID } from 'node:crypto';
import type { RequestLedger } from '../gateway/ledger.js';
import { DATASET_SCHEMA_VERSION, inputHash, type DatasetMessage, type DatasetRecord } from './dataset-record.js';
import type { Redactor } from './redact.js';

const REQUEST_KEYS = new Set(['messages', 'tools', 'response_format', 'model', 'stream', 'stream_options', 'user']);

export function buildRecord(ledger: RequestLedger, redactor: Redactor, samplingRate: number, tags: string[]): DatasetRecord {
  const body = ledger.request;
  const params: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(body)) if (!REQUEST_KEYS.has(key)) params[key] = value;
  const rawRequest = {
    messages: Array.isArray(body.messages) ? (body.messages as DatasetMessage[]) : [],
    ...(body.tools !== undefined ? { tools: body.tools as unknown[] } : {}),
    ...(body.response_format !== undefined ? { response_format: body.response_format } : {}),
    params,
  };
  const summary = ledger.response;
  const rawResponse = {
    content: summary ? summary.content || (summary.toolCalls.length > 0 ? null : '') : null,
    ...(summary && summary.toolCalls.length > 0
      ? { tool_calls: summary.toolCalls.map((c, i) => ({ id: c.id ?? `call_${i}`, type: 'function', function: { name: c.name, arguments: c.arguments } })) }
      : {}),
    finish_reason: summary?.finishReason ?? null,
    ...(ledger.errorClass !== 'none' ? { error: { class: ledger.errorClass, message: ledger.errorMessage ?? '' } } : {}),
  };
  const request = redactor.redactValue(rawRequest);
  const response = redactor.redactValue(rawResponse);
  const usage = ledger.usage;
  const model = ledger.answeredBy?.name ?? ledger.attempts[ledger.attempts.length - 1]?.model.name ?? ledger.route.champion;
  return {
    id: randomUUID(),
    schema_version: DATASET_SCHEMA_VERSION,
    route: ledger.route.name,
    source: {
      type: 'production',
      request_id: ledger.requestId,
      variant: ledger.variant,
      model,
      sampled_at: new Date().toISOString(),
      sampling_rate: samplingRate,
    },
    request: request.value,
    response: response.value,
    usage: usage
      ? { input_tokens: usage.input, output_tokens: usage.output, cached_input_tokens: usage.cachedInput, cache_write_tokens: usage.cacheWrite, reasoning_tokens: usage.reasoning }
      : null,
    latency_s: (ledger.endedMs ?? ledger.elapsedMs()) / 1000,
    ttft_s: ledger.ttftMs === undefined ? null : ledger.ttftMs / 1000,
    cost_usd: ledger.costUsd ?? null,
    outcome: ledger.errorClass === 'none' ? 'success' : 'error',
    tags,
    redactions: request.count + response.count,
    input_hash: inputHash(request.value),
  };
}
