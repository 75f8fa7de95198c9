// Turning what an upstream HTTP exchange produced into a classified GatewayError.
import { GatewayError, classifyStatus, type OpenAIErrorBody } from '../gateway/errors.js';
import { MIN_SECRET_LENGTH } from '../sampling/redact.js';

/** Retry-After as seconds or an HTTP date; `retry-after-ms` (OpenAI) wins when present. */
export function parseRetryAfter(headers: Record<string, string | string[] | undefined>, now = Date.now()): number | undefined {
  const ms = first(headers['retry-after-ms']);
  if (ms !== undefined && /^\d+(\.\d+)?$/.test(ms)) return Math.round(Number(ms));
  const value = first(headers['retry-after']);
  if (value === undefined) return undefined;
  if (/^\d+(\.\d+)?$/.test(value.trim())) return Math.round(Number(value) * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

export function isOpenAIErrorBody(v: unknown): v is OpenAIErrorBody {
  const e = (v as { error?: { message?: unknown } } | null)?.error;
  return typeof e === 'object' && e !== null && typeof e.message === 'string';
}

/** A provider's secrets in the order withoutSecrets needs: longest first. Sorted once, by the provider. */
export function longestFirst(secrets: readonly string[]): string[] {
  return [...new Set(secrets)].sort((a, b) => b.length - a.length);
}

/**
 * An upstream's error text with the provider's keys taken out: some upstreams echo the key they got
 * ("Incorrect API key provided: sk-…"), and the message goes on to the client and into the log.
 * `secrets` come longest first (longestFirst): a key that contains another is replaced whole, not
 * around the shorter one. Short values are left alone, as in samples (MIN_SECRET_LENGTH).
 */
export function withoutSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) if (secret.length >= MIN_SECRET_LENGTH && out.includes(secret)) out = out.replaceAll(secret, '[REDACTED]');
  return out;
}

export function httpError(
  status: number,
  headers: Record<string, string | string[] | undefined>,
  text: string,
  providerName: string,
  secrets: readonly string[] = [],
): GatewayError {
  let parsed: unknown;
  try {
    parsed = JSON.parse(withoutSecrets(text, secrets));
  } catch {
    parsed = undefined;
  }
  const body = isOpenAIErrorBody(parsed)
    ? { error: { message: parsed.error.message, type: parsed.error.type ?? 'api_error', code: parsed.error.code ?? null, ...(parsed.error.param !== undefined ? { param: parsed.error.param } : {}) } }
    : undefined;
  const retryAfterMs = parseRetryAfter(headers);
  return new GatewayError({
    status,
    errorClass: classifyStatus(status),
    message: body?.error.message ?? `upstream provider "${providerName}" returned HTTP ${status}`,
    ...(body ? { body } : {}),
    cause: `upstream HTTP ${status}`,
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
  });
}

/**
 * The HTTP status an error reported INSIDE a 200 stream stands for, read from its `type` and `code`:
 * the stream's status says nothing, so without this a rate limit or an invalid prompt would be
 * classified (and retried, or not) like a 500. OpenAI sends `{"error":{type,code}}` (type `requests` /
 * `tokens` with code `rate_limit_exceeded` for rate limits); the Responses API `{type:"error",code}`;
 * vLLM and other OpenAI-compatible servers put the HTTP status itself in `code`.
 */
export function streamErrorStatus(type: unknown, code: unknown): number {
  const numeric = typeof code === 'number' ? code : typeof code === 'string' && /^[45]\d\d$/.test(code) ? Number(code) : undefined;
  if (numeric !== undefined && numeric >= 400 && numeric <= 599) return numeric;
  return statusOfErrorType(code) ?? statusOfErrorType(type) ?? 500;
}

/** The status ERROR_TYPE_STATUS gives an error type or code; undefined for anything else. */
export function statusOfErrorType(key: unknown): number | undefined {
  return typeof key === 'string' ? ERROR_TYPE_STATUS.get(key) : undefined;
}

/**
 * Error types and codes and the HTTP status each stands for, whoever sent them: OpenAI and
 * OpenAI-compatible servers (in-stream errors), the Responses API, and Anthropic (its documented
 * types, for `error` events in a stream). One table, so an error gets the same status whichever
 * path it took. A Map: a plain object answers "constructor" or "toString" with a function.
 *
 * Anthropic's `overloaded_error` is 529, the status Anthropic itself answers with over HTTP (and the
 * one README promises): the same overload is reported alike as an HTTP 529, as an in-stream event,
 * or through an OpenAI-compatible proxy in front of Anthropic. Clients retry it like any 5xx.
 */
const ERROR_TYPE_STATUS: ReadonlyMap<string, number> = new Map([
  ['rate_limit_exceeded', 429],
  ['rate_limit_error', 429],
  ['requests', 429],
  ['tokens', 429],
  ['insufficient_quota', 429],
  ['server_error', 500],
  ['internal_error', 500],
  ['api_error', 500],
  ['server_overloaded', 503],
  ['overloaded', 503],
  ['service_unavailable', 503],
  ['overloaded_error', 529],
  ['timeout', 504],
  ['timeout_error', 504],
  ['invalid_request_error', 400],
  ['invalid_prompt', 400],
  ['context_length_exceeded', 400],
  ['invalid_value', 400],
  ['content_filter', 400],
  ['request_too_large', 413],
  ['authentication_error', 401],
  ['invalid_api_key', 401],
  ['billing_error', 402],
  ['permission_error', 403],
  ['not_found_error', 404],
  ['model_not_found', 404],
]);

const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
]);

/** A thrown transport error (no HTTP status) → connection / timeout / the abort reason we set. */
export function transportError(err: unknown, cancel: { aborted: boolean; reason: unknown }, providerName: string, during: 'connect' | 'stream'): GatewayError {
  if (cancel.aborted && cancel.reason instanceof GatewayError) return cancel.reason;
  if (err instanceof GatewayError) return err;
  const code = (err as { code?: string }).code ?? '';
  if (code === 'UND_ERR_CONNECT_TIMEOUT') {
    // The pool's connect timeout: a distinct cause, like the gateway's first_token / idle / total guards.
    return new GatewayError({ status: 504, errorClass: 'timeout', message: `upstream provider "${providerName}" timed out (connect)`, type: 'api_error', code: 'upstream_timeout', cause: 'connect' });
  }
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
    return new GatewayError({ status: 504, errorClass: 'timeout', message: `upstream provider "${providerName}" timed out`, type: 'api_error', code: 'upstream_timeout', cause: code });
  }
  if (during === 'stream') {
    return new GatewayError({ status: 502, errorClass: 'stream_interrupted', message: `upstream provider "${providerName}" stream was interrupted`, type: 'api_error', code: 'stream_interrupted', cause: code || (err as Error).message });
  }
  if (CONNECTION_CODES.has(code) || code.startsWith('UND_ERR') || code.startsWith('E')) {
    return new GatewayError({ status: 502, errorClass: 'connection', message: `cannot reach upstream provider "${providerName}"`, type: 'api_error', code: 'upstream_unreachable', cause: code || (err as Error).message });
  }
  return new GatewayError({ status: 502, errorClass: 'connection', message: `upstream provider "${providerName}" failed`, type: 'api_error', code: 'upstream_error', cause: (err as Error).message });
}
