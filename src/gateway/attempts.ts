// The attempt loop around one upstream call: retries with backoff (honouring Retry-After), the
// time-to-first-token guard, the circuit breaker, and fallback from a failing challenger to the
// champion. Nothing has been written to the client while we are here, so every retryable failure is
// still safe to retry; once relay.ts has written a byte, nothing is retried. A stream is handed to the
// relay only once its first token (or its end) arrived: the events before it are held back, so a
// failure between the role chunk and the first token (Anthropic's overloaded_error after
// message_start, a rate limit reported in the stream) is retried or falls back like its HTTP status.
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ModelConfig, Pricing } from '../config/types.js';
import type { Provider, ProviderResponse, StreamEvent } from '../providers/types.js';
import { costUsd } from '../accounting/cost.js';
import { pricingFor } from '../accounting/pricing.js';
import { GatewayError, asGatewayError } from './errors.js';
import type { AttemptRecord, RequestLedger } from './ledger.js';
import type { Attempt } from '../telemetry/metrics.js';
import type { CircuitBreakers } from './circuit-breaker.js';
import type { Tracing } from '../telemetry/tracing.js';
import { providerFor } from './responses-adapter.js';
import { Cancellation } from '../providers/cancellation.js';
import { commitsAnswer } from './first-token.js';

export interface AttemptContext {
  providers: Map<string, Provider>;
  config: { models: Record<string, ModelConfig> };
  breakers: CircuitBreakers;
  tracing: Tracing;
}

/** An upstream answer ready to relay; for streams the events up to the first token have arrived. */
export type UpstreamAnswer =
  | { kind: 'json'; response: Extract<ProviderResponse, { kind: 'json' }>; attempt: AttemptRecord }
  | {
      kind: 'stream';
      /**
       * The events held back before `committed`: usually none or one (a role chunk), so an array is
       * allocated only for two or more — one per stream otherwise, on the hot path.
       */
      held: StreamEvent | StreamEvent[] | undefined;
      /** The event that commits the answer (see commitsAnswer), or the last one held at HOLD_LIMIT. */
      committed: StreamEvent;
      rest: AsyncIterator<StreamEvent>;
      attempt: AttemptRecord;
      /** This attempt's own cancellation (idle and first-token guards end it, not the whole request). */
      cancel: Cancellation;
      /** Still armed: the head may end without a token (the hold limit, a finish without output). */
      firstToken: NodeJS.Timeout;
      pricing: Pricing | undefined;
    };

export function timeoutError(cause: string, ms: number): GatewayError {
  return new GatewayError({
    status: 504,
    errorClass: 'timeout',
    message: `upstream timed out (${cause.replace('_', ' ')} after ${ms} ms)`,
    type: 'api_error',
    code: 'upstream_timeout',
    cause,
  });
}

/** Aborts `cancel` with a timeout naming `cause` after `ms`, unless cleared. */
export function guard(cancel: Cancellation, ms: number, cause: string): NodeJS.Timeout {
  const timer = setTimeout(() => cancel.abort(timeoutError(cause, ms)), ms);
  timer.unref();
  return timer;
}

/** Events held back while waiting for the first token; past it the stream is relayed anyway. */
const HOLD_LIMIT = 16;

/** Safe to try again: nothing reached the client, and the failure may be transient. */
function retryable(error: GatewayError): boolean {
  // A stream cut before its first token is a transport failure like a reset, not a partial answer:
  // the events before it were held back, so nothing reached the client.
  return error.retryable || error.errorClass === 'stream_interrupted';
}

export async function callUpstream(
  ctx: AttemptContext,
  ledger: RequestLedger,
  primary: ModelConfig,
  buildBody: (model: ModelConfig) => Record<string, unknown>,
  request: Cancellation,
): Promise<UpstreamAnswer> {
  const route = ledger.route;
  const plan: { model: ModelConfig; kind: 'primary' | 'fallback' }[] = [{ model: primary, kind: 'primary' }];
  const champion = ctx.config.models[route.champion];
  const canFallBack = ledger.variant === 'challenger' && route.fallback === 'champion' && champion && champion.name !== primary.name;
  if (canFallBack) plan.push({ model: champion, kind: 'fallback' });

  let lastError: GatewayError | undefined;
  for (const { model, kind } of plan) {
    if (kind === 'primary' && canFallBack && !ctx.breakers.allow(model.name, route.circuitBreaker)) {
      // Open breaker: the challenger's traffic goes straight to the champion (and is counted).
      ledger.fallbackReason = 'circuit_open';
      continue;
    }
    for (let n = 0; n < route.retry.maxAttempts; n++) {
      const attemptKind: Attempt = kind === 'fallback' ? 'fallback' : n === 0 ? 'first' : 'retry';
      try {
        const answer = await attemptOnce(ctx, ledger, model, attemptKind, buildBody(model), request);
        if (kind === 'fallback' && ledger.fallbackReason === undefined) ledger.fallbackReason = 'error';
        ledger.answeredBy = model;
        return answer;
      } catch (err) {
        lastError = asGatewayError(err);
        if (lastError.errorClass === 'client_cancelled' || request.aborted) throw request.reason instanceof GatewayError ? request.reason : lastError;
        // A breaker that opened on this failure sends the rest straight to the fallback.
        const more = n + 1 < route.retry.maxAttempts && !(kind === 'primary' && canFallBack && ctx.breakers.state(model.name) === 'open');
        if (!retryable(lastError) || !more) break;
        const delay = backoffDelay(route.retry, n, lastError.retryAfterMs);
        // A wait the total timeout would cut short ends in a 504 instead of the upstream's answer and
        // its Retry-After: give up on this model now (the fallback, if any, is still tried).
        if (delay >= route.timeouts.totalMs - ledger.elapsedMs()) break;
        // The backoff is the upstream's say-so (Retry-After, rate limits), not gateway work: it is
        // upstream time for the overhead metric, like the attempts around it.
        const waitStart = performance.now();
        try {
          await wait(delay, request);
        } finally {
          ledger.upstreamWaitMs += performance.now() - waitStart;
        }
      }
    }
    // Any failure falls back, 4xx included: a challenger that rejects what the champion accepts (an
    // unsupported content part, a bad key) is exactly what users must not pay for.
  }
  throw lastError ?? new GatewayError({ status: 503, errorClass: 'internal', message: 'no upstream available', type: 'api_error' });
}

async function attemptOnce(
  ctx: AttemptContext,
  ledger: RequestLedger,
  model: ModelConfig,
  kind: Attempt,
  body: Record<string, unknown>,
  request: Cancellation,
): Promise<UpstreamAnswer> {
  const configured = ctx.providers.get(model.provider);
  if (!configured) throw new GatewayError({ status: 500, errorClass: 'internal', message: `provider ${model.provider} missing`, type: 'api_error' });
  const provider = providerFor(configured, ledger.operation);
  const { pricing } = pricingFor(model, configured.type);
  // A stream attempt gets its own cancellation (its first-token and idle guards must not end the whole
  // request, so a retry can follow); a JSON attempt has nothing to stop but the request itself.
  const cancel = ledger.stream ? request.child() : request;

  const record: AttemptRecord = { model, provider: provider.name, kind, startedAt: performance.now(), durationMs: 0, outcome: 'success', errorClass: 'none' };
  ledger.attempts.push(record);
  if (ctx.tracing.enabled) {
    record.span = ctx.tracing.startUpstreamSpan(
      {
        operation: ledger.operation,
        provider: configured.type,
        requestModel: model.upstreamModel,
        route: ledger.route.name,
        variant: ledger.variant,
        attempt: ledger.attempts.length,
        ...(provider.origin !== undefined ? { url: provider.origin } : {}),
      },
      ledger.span,
    );
  }
  const firstToken = ledger.stream ? guard(cancel, ledger.route.timeouts.firstTokenMs, 'first_token') : undefined;
  const waitStart = performance.now();
  let handedOver = false;
  try {
    const response = await provider.call({
      operation: ledger.operation,
      model,
      body,
      stream: ledger.stream,
      cancel,
      connectTimeoutMs: ledger.route.timeouts.connectMs,
      ...(record.span ? { traceHeaders: record.span.headers() } : {}),
    });
    if (response.kind === 'json') {
      record.durationMs = performance.now() - record.startedAt;
      record.usage = response.usage;
      record.costUsd = costUsd(response.usage, pricing);
      ctx.breakers.record(model.name, true);
      if (record.span) endAttemptSpan(record, response.json);
      return { kind: 'json', response, attempt: record };
    }
    const rest = response.events[Symbol.asyncIterator]();
    if (!firstToken) {
      await rest.return?.();
      throw new GatewayError({ status: 502, errorClass: 'internal', message: 'stream answer to a non-stream request', type: 'api_error' });
    }
    let held: StreamEvent | StreamEvent[] | undefined;
    for (let count = 1; ; count++) {
      const next = await rest.next();
      if (next.done) {
        // Ended before its first token (an empty body, only comments, a role chunk and nothing else):
        // nothing reached the client yet, so this is a transport failure like a reset — retried, or
        // reported with its status.
        const cause = count === 1 ? 'eof_before_first_event' : 'eof_before_first_token';
        throw new GatewayError({ status: 502, errorClass: 'stream_interrupted', message: 'upstream stream ended before its first token', type: 'api_error', code: 'stream_interrupted', cause });
      }
      const event = next.value;
      if (event.usage) record.usage = event.usage;
      if (count >= HOLD_LIMIT || commitsAnswer(ledger.operation, event)) {
        handedOver = true;
        return { kind: 'stream', held, committed: event, rest, attempt: record, cancel, firstToken, pricing };
      }
      if (held === undefined) held = event;
      else if (Array.isArray(held)) held.push(event);
      else held = [held, event];
    }
  } catch (err) {
    const error = cancel.aborted && cancel.reason instanceof GatewayError ? cancel.reason : asGatewayError(err);
    record.durationMs = performance.now() - record.startedAt;
    record.outcome = 'error';
    record.errorClass = error.errorClass;
    record.status = error.status;
    if (error.cause_) record.cause = error.cause_;
    priceFailedAttempt(record, error, pricing);
    endAttemptSpan(record);
    if (saysNothingAboutHealth(error)) ctx.breakers.release(model.name);
    else ctx.breakers.record(model.name, false);
    // Stop the upstream exchange (an unread error body, a half-open stream) before moving on.
    if (cancel !== request) cancel.abort(error);
    throw error;
  } finally {
    ledger.upstreamWaitMs += performance.now() - waitStart;
    if (firstToken && !handedOver) clearTimeout(firstToken);
  }
}

/** Upstream statuses that reject the client's own request: the champion would say the same. */
const CLIENT_FAULT_STATUSES: ReadonlySet<number> = new Set([400, 413, 415, 422]);

/**
 * Failures that are no verdict on the model, so the circuit breaker does not count them: the client
 * went away, the gateway itself refused the request while translating it (`bad_request`: n > 1 or
 * empty messages for Anthropic), or the upstream rejected the client's own request (400, 413, 415,
 * 422). Counting those let one client's run of invalid requests open the challenger's breaker.
 * Every other status counts: 401/403/402 (the gateway's provider credentials or billing), 404 (a
 * mistyped upstreamModel, an Azure deployment that does not exist), 408/409 (transient), 429 and 5xx.
 * Decided here for the whole attempt, before and after the first token (relay.ts).
 */
export function saysNothingAboutHealth(error: GatewayError): boolean {
  if (error.errorClass === 'client_cancelled' || error.errorClass === 'bad_request') return true;
  return error.errorClass === 'upstream_4xx' && CLIENT_FAULT_STATUSES.has(error.status);
}

/**
 * What a failed attempt cost. An error the upstream answered with (an HTTP status, an error event) is
 * not billed. An attempt WE stopped or lost after the request went out (a first-token or total
 * timeout, a cut stream, the client leaving) may have been billed for the prompt: priced from the
 * usage it reported before failing (Anthropic's message_start), else its cost is unknown — counted
 * in bellwether_cost_unknown_total and marking the request's cost partial, never taken as 0.
 */
function priceFailedAttempt(record: AttemptRecord, error: GatewayError, pricing: Pricing | undefined): void {
  const upstreamSaidNo = error.errorClass === 'rate_limited' || error.errorClass === 'upstream_5xx' || error.errorClass === 'upstream_4xx';
  const lostAfterSending = (error.errorClass === 'timeout' && error.cause_ !== 'connect') || error.errorClass === 'stream_interrupted' || error.errorClass === 'client_cancelled';
  if (upstreamSaidNo || !lostAfterSending) {
    record.usage = undefined;
    return;
  }
  if (record.usage) record.costUsd = costUsd(record.usage, pricing);
  else record.billingUnknown = true;
}

/** Closes an attempt's CLIENT span with what is known about it (never prompt or completion text). */
export function endAttemptSpan(record: AttemptRecord, answer?: Record<string, unknown>, finishReason?: string | null): void {
  if (!record.span) return;
  const usage = record.usage;
  const choices = answer?.choices as { finish_reason?: string | null }[] | undefined;
  const reason = finishReason ?? choices?.[0]?.finish_reason ?? (typeof answer?.status === 'string' ? answer.status : undefined);
  record.span?.end({
    ...(typeof answer?.model === 'string' ? { responseModel: answer.model } : {}),
    ...(usage ? { inputTokens: usage.input + usage.cachedInput + usage.cacheWrite, outputTokens: usage.output, ...(record.usageEstimated ? { usageEstimated: true } : {}) } : {}),
    ...(reason ? { finishReasons: [reason] } : {}),
    ...(record.outcome === 'error' ? { errorType: record.errorClass } : {}),
  });
}

/** Full-jitter exponential backoff; a Retry-After from the upstream sets the floor (capped). */
export function backoffDelay(
  retry: { baseDelayMs: number; maxDelayMs: number; maxRetryAfterMs: number },
  n: number,
  retryAfterMs: number | undefined,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** n);
  const delay = random() * ceiling;
  return retryAfterMs === undefined ? delay : Math.max(delay, Math.min(retryAfterMs, retry.maxRetryAfterMs));
}

async function wait(delay: number, request: Cancellation): Promise<void> {
  if (delay <= 0) return;
  try {
    await sleep(delay, undefined, { signal: request.signal });
  } catch {
    throw request.reason instanceof GatewayError ? request.reason : asGatewayError(request.reason);
  }
}
