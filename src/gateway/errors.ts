// Errors are values with a class (PRODUCT.md section 7 `error_class`), decided where they happen and
// mapped to HTTP in exactly one place (server.ts error handler, with toGatewayError below / relay).
import type { FastifyError, FastifyReply } from 'fastify';

export type ErrorClass =
  | 'none'
  | 'timeout'
  | 'rate_limited'
  | 'upstream_5xx'
  | 'upstream_4xx'
  | 'connection'
  | 'stream_interrupted'
  | 'bad_request'
  | 'client_cancelled'
  | 'internal';

export const ERROR_CLASSES: readonly ErrorClass[] = [
  'none',
  'timeout',
  'rate_limited',
  'upstream_5xx',
  'upstream_4xx',
  'connection',
  'stream_interrupted',
  'bad_request',
  'client_cancelled',
  'internal',
];

export interface OpenAIErrorBody {
  error: { message: string; type: string; code: string | null; param?: string | null };
}

export class GatewayError extends Error {
  readonly status: number;
  readonly errorClass: ErrorClass;
  readonly type: string;
  readonly code: string | null;
  /** Upstream error body, relayed as-is when it is already OpenAI-shaped. */
  readonly body: OpenAIErrorBody | undefined;
  /** Why, in more detail than the class: e.g. which timeout fired. Logged, never sent to clients. */
  readonly cause_: string | undefined;
  readonly retryAfterMs: number | undefined;

  constructor(opts: {
    status: number;
    errorClass: ErrorClass;
    message: string;
    type?: string;
    code?: string | null;
    body?: OpenAIErrorBody;
    cause?: string;
    retryAfterMs?: number;
  }) {
    super(opts.message);
    this.name = 'GatewayError';
    this.status = opts.status;
    this.errorClass = opts.errorClass;
    this.type = opts.type ?? defaultType(opts.status);
    this.code = opts.code ?? null;
    this.body = opts.body;
    this.cause_ = opts.cause;
    this.retryAfterMs = opts.retryAfterMs;
  }

  toBody(): OpenAIErrorBody {
    return this.body ?? { error: { message: this.message, type: this.type, code: this.code } };
  }

  get retryable(): boolean {
    if (this.errorClass === 'rate_limited') {
      // OpenAI answers an exhausted quota with a 429 too; waiting does not refill it.
      return this.body?.error.code !== 'insufficient_quota' && this.body?.error.type !== 'insufficient_quota';
    }
    // Of the 4xx only these may succeed unchanged: 408 (the upstream gave up waiting for the request)
    // and 409 (a conflict with a concurrent request, e.g. OpenAI's "Conflict, please retry").
    if (this.errorClass === 'upstream_4xx') return this.status === 408 || this.status === 409;
    return this.errorClass === 'connection' || this.errorClass === 'timeout' || this.errorClass === 'upstream_5xx';
  }
}

function defaultType(status: number): string {
  if (status === 401 || status === 403) return 'authentication_error';
  if (status === 404) return 'not_found_error';
  if (status === 429) return 'rate_limit_error';
  if (status >= 500) return 'api_error';
  return 'invalid_request_error';
}

/** Error code of the 503 a request gets while the gateway drains. */
export const SHUTTING_DOWN = 'shutting_down';

/**
 * Draining (SIGTERM): in-flight requests and streams finish; a request that still arrives on an open
 * keep-alive connection is told to go elsewhere (SDKs retry a 503) and its connection closes. Called
 * at the top of every handler (and the pass-through's preHandler) rather than from a root onRequest
 * hook: that hook made every request run fastify's hook runner for a flag set once per process.
 */
export function refuseWhileDraining(ctx: { readonly draining: boolean }, reply: FastifyReply): void {
  if (!ctx.draining) return;
  void reply.header('connection', 'close');
  throw new GatewayError({ status: 503, errorClass: 'internal', message: 'The gateway is shutting down; retry the request.', type: 'api_error', code: SHUTTING_DOWN });
}

export function badRequest(message: string, code: string | null = null, param?: string): GatewayError {
  return new GatewayError({
    status: 400,
    errorClass: 'bad_request',
    message,
    code,
    ...(param ? { body: { error: { message, type: 'invalid_request_error', code, param } } } : {}),
  });
}

export function classifyStatus(status: number): ErrorClass {
  if (status === 429) return 'rate_limited';
  if (status >= 500) return 'upstream_5xx';
  if (status >= 400) return 'upstream_4xx';
  return 'none';
}

/** Anything thrown that is not a GatewayError is a bug or an environment failure: class `internal`. */
export function asGatewayError(err: unknown): GatewayError {
  if (err instanceof GatewayError) return err;
  return new GatewayError({
    status: 500,
    errorClass: 'internal',
    message: 'internal gateway error',
    type: 'api_error',
    cause: err instanceof Error ? err.message : String(err),
  });
}

/** Fastify's own errors (bad JSON, body too large...) get the same OpenAI error shape as ours. */
export function toGatewayError(err: FastifyError | GatewayError): GatewayError {
  if (err instanceof GatewayError) return err;
  const status = typeof err.statusCode === 'number' && err.statusCode >= 400 ? err.statusCode : 500;
  if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
    return new GatewayError({ status: 413, errorClass: 'bad_request', message: 'Request body is too large.', type: 'invalid_request_error', code: 'request_too_large' });
  }
  if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
    return new GatewayError({ status: 415, errorClass: 'bad_request', message: 'Send the request body as application/json.', type: 'invalid_request_error', code: 'unsupported_media_type' });
  }
  if (status < 500) {
    const message = err.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || err instanceof SyntaxError || err.code === 'FST_ERR_CTP_INVALID_JSON_BODY'
      ? 'We could not parse the JSON body of your request.'
      : err.message;
    return new GatewayError({ status, errorClass: 'bad_request', message, type: 'invalid_request_error', code: err.code ?? null });
  }
  return new GatewayError({ status: 500, errorClass: 'internal', message: 'internal gateway error', type: 'api_error', cause: err.message });
}
