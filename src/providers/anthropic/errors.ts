// Anthropic errors → the OpenAI error shape with the right HTTP status and error class, decided here
// once for HTTP errors and for `error` events that arrive inside a stream.
import { GatewayError, classifyStatus } from '../../gateway/errors.js';
import { parseRetryAfter, statusOfErrorType } from '../upstream-errors.js';
import type { AnthropicErrorBody } from './wire.js';

/** The OpenAI `type` a client's SDK expects for the same situation. */
const OPENAI_TYPE: ReadonlyMap<string, string> = new Map([
  ['invalid_request_error', 'invalid_request_error'],
  ['authentication_error', 'authentication_error'],
  ['billing_error', 'insufficient_quota'],
  ['permission_error', 'permission_error'],
  ['not_found_error', 'invalid_request_error'],
  ['request_too_large', 'invalid_request_error'],
  ['rate_limit_error', 'rate_limit_error'],
  ['api_error', 'api_error'],
  ['timeout_error', 'api_error'],
  ['overloaded_error', 'server_error'],
]);

export function isAnthropicErrorBody(v: unknown): v is AnthropicErrorBody {
  const e = (v as { error?: { type?: unknown; message?: unknown } } | null)?.error;
  return typeof e === 'object' && e !== null && typeof e.type === 'string' && typeof e.message === 'string';
}

export function anthropicError(
  status: number | undefined,
  body: unknown,
  headers: Record<string, string | string[] | undefined>,
  providerName: string,
): GatewayError {
  const parsed = isAnthropicErrorBody(body) ? body.error : undefined;
  // An in-stream error has no HTTP status: its type says which (the shared table, upstream-errors.ts).
  const effective = status ?? statusOfErrorType(parsed?.type) ?? 500;
  const message = parsed?.message ?? `upstream provider "${providerName}" returned HTTP ${effective}`;
  const retryAfterMs = parseRetryAfter(headers);
  return new GatewayError({
    status: effective,
    errorClass: classifyStatus(effective),
    message,
    body: { error: { message, type: (parsed && OPENAI_TYPE.get(parsed.type)) ?? 'api_error', code: parsed?.type ?? null } },
    cause: status === undefined ? `upstream stream error ${parsed?.type ?? 'unknown'}` : `upstream HTTP ${effective}`,
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
  });
}
