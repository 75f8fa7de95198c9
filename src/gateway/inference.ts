// The request pipeline for inference calls, top to bottom:
// authenticate → resolve route → assign variant → call provider with retries → relay → account → hooks.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ModelConfig, RouteConfig } from '../config/types.js';
import type { Operation } from '../providers/types.js';
import type { Variant } from '../telemetry/metrics.js';
import { recordRequest } from '../accounting/record.js';
import { assignedPercent } from '../rollout/state.js';
import { assignBucket, isChallenger, unitKey } from '../rollout/assign.js';
import { GatewayError, asGatewayError, badRequest, refuseWhileDraining } from './errors.js';
import { RequestLedger } from './ledger.js';
import { callUpstream, guard } from './attempts.js';
import { relayStream } from './relay.js';
import { summaryLater } from './summary.js';
import { Cancellation } from '../providers/cancellation.js';
import type { ClientIdentity } from './authenticate.js';
import type { GatewayContext } from './context.js';
import type { Tracing } from '../telemetry/tracing.js';

export const VARIANT_HEADER = 'x-bellwether-variant';

export async function handleInference(ctx: GatewayContext, operation: Operation, req: FastifyRequest, reply: FastifyReply): Promise<void> {
  refuseWhileDraining(ctx, reply);
  const client = ctx.clients.authenticate(req.headers.authorization);
  const body = requireObject(req.body);
  const route = ctx.routes.resolve(body.model);
  let variant: Variant | undefined;
  let forced: boolean;
  let primary: ModelConfig;
  try {
    ({ variant, forced } = assignVariant(ctx, route, req, body, client));
    primary = modelFor(ctx, route, variant);
  } catch (err) {
    // Refused before any upstream call (a variant this key may not force, no challenger...): the
    // answer still says which route it was about, like every other answer (PRODUCT.md section 4).
    void reply.headers(refusalHeaders(route, variant));
    throw err;
  }
  const stream = operation !== 'embeddings' && body.stream === true;

  const ledger = new RequestLedger(req.id, operation, route, variant, forced, stream, client.name, body);
  ledger.requestBytes = req.jsonBodyBytes ?? undefined;
  ledger.clientAskedUsage = (body.stream_options as { include_usage?: unknown } | undefined)?.include_usage === true;
  if (ctx.tracing.enabled) {
    ledger.span = ctx.tracing.startRequestSpan({ method: req.method, path: req.routeOptions.url ?? '/v1', requestId: req.id, headers: req.headers });
    const rollout = ctx.rollouts.current(route.name);
    ledger.span.setRouting({ route: route.name, variant, model: primary.name, forced, ...(rollout ? { rolloutPercent: rollout.percent, rolloutMode: rollout.mode } : {}) });
  }

  const cancel = new Cancellation();
  const total = guard(cancel, route.timeouts.totalMs, 'total');
  const onClose = () => {
    if (!reply.raw.writableFinished) {
      cancel.abort(new GatewayError({ status: 499, errorClass: 'client_cancelled', message: 'client closed the connection', cause: 'client_closed' }));
    }
  };
  reply.raw.once('close', onClose);
  const inflight = ctx.metrics.hot.inflight.get(route.name, variant);
  inflight.inc();

  try {
    const answer = await callUpstream(ctx, ledger, primary, (model) => upstreamBody(operation, body, model, stream), cancel);
    const headers = responseHeaders(ledger);
    if (answer.kind === 'stream') {
      reply.hijack();
      await relayStream(answer, ledger, reply.raw, headers, ctx.breakers);
    } else {
      const upstream = answer.response;
      ledger.usage = upstream.usage;
      ledger.respondedWith(summaryLater(operation, upstream), upstream.body);
      const cost = ledger.costUsd;
      headers['x-bellwether-cost-usd'] = cost === undefined ? 'unknown' : cost.toFixed(8);
      headers['content-type'] = 'application/json; charset=utf-8';
      headers['content-length'] = String(Buffer.byteLength(upstream.body));
      ledger.endedMs = ledger.elapsedMs();
      // The upstream's bytes go out as they came: nothing for fastify's serialisers or hooks to do, and
      // its reply pipeline cost a measurable share of the CPU per request (bench profile).
      reply.hijack();
      reply.raw.writeHead(upstream.status, headers);
      reply.raw.end(upstream.body);
    }
  } catch (err) {
    const error = cancel.aborted && cancel.reason instanceof GatewayError ? cancel.reason : asGatewayError(err);
    ledger.fail(error.errorClass, error.status, error.message, error.cause_);
    if (!reply.sent && !reply.raw.headersSent && !reply.raw.destroyed) {
      const headers = responseHeaders(ledger);
      if (error.retryAfterMs !== undefined) headers['retry-after'] = String(Math.ceil(error.retryAfterMs / 1000));
      await reply.code(error.status).headers(headers).send(error.toBody());
    }
  } finally {
    clearTimeout(total);
    reply.raw.off('close', onClose);
    ledger.endedMs ??= ledger.elapsedMs();
    inflight.dec();
    recordRequest(ctx.metrics, ctx.logger, ledger);
    for (const listener of ctx.listeners) {
      try {
        listener(ledger);
      } catch (err) {
        ctx.logger.error({ err, request_id: ledger.requestId }, 'completion listener failed');
      }
    }
  }
}

function requireObject(body: unknown): Record<string, unknown> {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    throw badRequest('The request body must be a JSON object.', 'invalid_body');
  }
  return body as Record<string, unknown>;
}

function assignVariant(
  ctx: GatewayContext,
  route: RouteConfig,
  req: FastifyRequest,
  body: Record<string, unknown>,
  client: ClientIdentity,
): { variant: Variant; forced: boolean } {
  const state = ctx.rollouts.current(route.name);
  const forcedHeader = req.headers[VARIANT_HEADER];
  if (forcedHeader !== undefined) {
    if (!client.canForceVariant) {
      throw new GatewayError({ status: 403, errorClass: 'bad_request', message: `This API key may not force a variant (${VARIANT_HEADER}).`, type: 'permission_error', code: 'variant_forcing_not_allowed' });
    }
    if (forcedHeader !== 'champion' && forcedHeader !== 'challenger') {
      throw badRequest(`${VARIANT_HEADER} must be "champion" or "challenger".`, 'invalid_variant');
    }
    if (forcedHeader === 'challenger' && !state?.challenger) {
      throw badRequest(`Route "${route.name}" has no challenger.`, 'no_challenger');
    }
    return { variant: forcedHeader, forced: true };
  }
  if (!state) return { variant: 'champion', forced: false };
  const percent = assignedPercent(state, ctx.rollouts.health().stale);
  if (percent <= 0) return { variant: 'champion', forced: false };
  const bucket = assignBucket(route.name, unitKey(route.assignment, req.headers, body));
  return { variant: isChallenger(bucket, percent) ? 'challenger' : 'champion', forced: false };
}

function modelFor(ctx: GatewayContext, route: RouteConfig, variant: Variant): ModelConfig {
  const state = ctx.rollouts.current(route.name);
  const name = variant === 'challenger' ? (state?.challenger ?? route.challenger) : (state?.champion ?? route.champion);
  const model = name ? ctx.config.models[name] : undefined;
  if (!model) throw new GatewayError({ status: 500, errorClass: 'internal', message: `route ${route.name} has no ${variant} model`, type: 'api_error' });
  return model;
}

/** The client's body as the upstream gets it (also used by shadow calls, so both arms see the same). */
export function upstreamBody(operation: Operation, body: Record<string, unknown>, model: ModelConfig, stream: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = { ...body, model: model.upstreamModel };
  // The Responses API always reports usage in response.completed (and rejects include_usage).
  if (stream && operation === 'chat') {
    // Without this, streamed calls report no usage and would be priced at nothing (NOTES.md).
    out.stream_options = { ...((body.stream_options as Record<string, unknown> | undefined) ?? {}), include_usage: true };
  }
  return out;
}

/**
 * The server span of a request refused before the pipeline opened its ledger (a bad key, an unknown
 * model, a body that is not JSON or too large): every answered inference request has one, so a
 * client's trace shows why its call failed. Only on that path, so traced only when it happens.
 */
export function traceRefusal(tracing: Tracing, req: FastifyRequest, reply: FastifyReply, error: GatewayError): void {
  const span = tracing.startRequestSpan({
    method: req.method,
    path: req.routeOptions.url ?? '/v1',
    requestId: req.id,
    headers: req.headers,
    startTime: Date.now() - reply.elapsedTime,
  });
  span.end({ statusCode: error.status, outcome: 'error', errorClass: error.errorClass, attempts: 0 });
}

/** Headers for an answer given before any upstream attempt: no model answered, none was tried. */
function refusalHeaders(route: RouteConfig, variant: Variant | undefined): Record<string, string> {
  const headers: Record<string, string> = { 'x-bellwether-route': route.name };
  if (variant !== undefined) headers['x-bellwether-variant'] = variant;
  headers['x-bellwether-attempts'] = '0';
  return headers;
}

function responseHeaders(ledger: RequestLedger): Record<string, string> {
  const model = ledger.answeredBy?.name ?? ledger.attempts[ledger.attempts.length - 1]?.model.name;
  const headers: Record<string, string> = {
    'x-bellwether-request-id': ledger.requestId,
    'x-bellwether-route': ledger.route.name,
    'x-bellwether-variant': ledger.variant,
  };
  if (model) headers['x-bellwether-model'] = model;
  headers['x-bellwether-attempts'] = String(ledger.attemptCount);
  if (ledger.fallbackReason !== undefined && ledger.answeredBy) headers['x-bellwether-fallback'] = 'true';
  return headers;
}
