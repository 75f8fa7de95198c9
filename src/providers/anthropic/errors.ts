// Anthropic errors → the OpenAI error shape with the right HTTP status and error class, decided here
// once for HTTP errors and for `error` events that arrive inside a stream.
import { GatewayError, classifyStatus } from '../../gateway/errors.js';
import { parseRetryAfter } from '../upstream-errors.js';
import type { AnthropicErrorBody } from './wire.js';

/** Anthropic's documented error types and the status each comes with. */
const STATUS: Record<string, number> = {
  invalid_request_error: 400,
  authentication_error: 401,
  billing_error: 402,
  permission_error: 403,
  not_found_error: 404,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  timeout_error: 504,
  overloaded_error: 529,
};

/** The OpenAI `type` a client's SDK expects for the same situation. */
const OPENAI_TYPE: Record<string, string> = {
  invalid_request_error: 'invalid_request_error',
  authentication_error: 'authentication_error',
  billing_error: 'insufficient_quota',
  permission_error: 'permission_error',
  not_found_error: 'invalid_request_error',
  request_too_large: 'invalid_request_error',
  rate_limit_error: 'rate_limit_error',
  api_error: 'api_error',
  timeout_error: 'api_error',
  overloaded_error: 'server_error',
};

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
  const effective = status ?? (parsed ? (STATUS[parsed.type] ?? 500) : 500);
  const message = parsed?.message ?? `upstream provider "${providerName}" returned HTTP ${effective}`;
  const retryAfterMs = parseRetryAfter(headers);
  return new GatewayError({
    status: effective,
    errorClass: classifyStatus(effective),
    message,
    body: { error: { message, type: (parsed && OPENAI_TYPE[parsed.type]) ?? 'api_error', code: parsed?.type ?? null } },
    cause: status === undefined ? `upstream stream error ${parsed?.type ?? 'unknown'}` : `upstream HTTP ${effective}`,
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
  });
}
