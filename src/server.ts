// Builds a gateway from a Config. No side effects at import time: nothing listens, connects or reads
// the environment until buildGateway/startGateway is called.
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance } from 'fastify';
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import type { Config } from './config/types.js';
import { createProviders } from './providers/registry.js';
import { Metrics } from './telemetry/metrics.js';
import { createLogger } from './telemetry/logger.js';
import { assignedPercent, type RolloutStore } from './rollout/state.js';
import { createRolloutStore, stateAgeSeconds } from './rollout/store.js';
import { ShadowMirror } from './rollout/shadow.js';
import { adminApi, type ReloadOutcome } from './admin/plugin.js';
import { ConfigReloader } from './admin/reload.js';
import { AdminAuthenticator, resolveAdminTokens } from './admin/tokens.js';
import { ClientAuthenticator } from './gateway/authenticate.js';
import { RouteTable } from './gateway/route-table.js';
import { CircuitBreakers } from './gateway/circuit-breaker.js';
import { clientApi } from './gateway/plugin.js';
import { GatewayError, SHUTTING_DOWN, refuseWhileDraining, toGatewayError } from './gateway/errors.js';
import type { GatewayContext } from './gateway/context.js';
import { healthApi } from './health.js';
import { createTracing, type Tracing } from './telemetry/tracing.js';
import { createSamplingPipeline } from './sampling/pipeline.js';
import { feedbackApi } from './gateway/feedback.js';
import { datasetAdminRoutes } from './admin/datasets.js';

export interface GatewayOptions {
  logger?: Logger;
  /** Override the rollout store (tests, or the Redis store built by createRolloutStore). */
  rollouts?: RolloutStore;
  /** Environment for $BELLWETHER_ADMIN_TOKEN and config reloads (default: process.env). */
  env?: NodeJS.ProcessEnv;
  /** Tracing (default: from the OTEL_* variables in env; off unless an OTLP endpoint is set). */
  tracing?: Tracing;
}

export interface Gateway {
  app: FastifyInstance;
  ctx: GatewayContext;
  /** Reload the config file (SIGHUP, POST /admin/v1/config/reload); an invalid file changes nothing. */
  reload(actor?: string): Promise<ReloadOutcome>;
  /** Set when no admin token was configured and one was generated; the entry point prints it once. */
  generatedAdminToken: string | undefined;
}

export async function buildGateway(config: Config, options: GatewayOptions = {}): Promise<Gateway> {
  const logger = options.logger ?? createLogger(config.logging.level);
  const env = options.env ?? process.env;
  const rollouts = options.rollouts ?? createRolloutStore(config, logger);
  await rollouts.start();
  const metrics = new Metrics(config, {
    rollouts: () => {
      const stale = rollouts.health().stale;
      return rollouts.all().map((s) => ({
        route: s.route,
        champion: s.champion,
        challenger: s.challenger ?? '',
        mode: s.mode,
        state: s.state,
        effectiveRatio: assignedPercent(s, stale) / 100,
      }));
    },
    rolloutStore: () => ({ ageSeconds: stateAgeSeconds(rollouts), stale: rollouts.health().stale }),
  });
  const ctx: GatewayContext = {
    config,
    providers: createProviders(config),
    metrics,
    rollouts,
    logger,
    clients: new ClientAuthenticator(config.auth.clientKeys),
    routes: new RouteTable(config),
    breakers: new CircuitBreakers(),
    listeners: [],
    tracing: options.tracing ?? createTracing(env),
    draining: false,
  };
  const shadow = new ShadowMirror(ctx);
  ctx.listeners.push(shadow.listener);
  let adminTokens = resolveAdminTokens(config, env);
  // Every secret the gateway holds is redacted from samples, whatever shape it turns up in.
  const secretsHeld = (c: Config): string[] => [
    ...[...ctx.providers.values()].flatMap((p) => p.secrets()),
    ...c.auth.clientKeys.map((k) => k.key),
    ...adminTokens.tokens.map((t) => t.token),
  ];
  let secrets = secretsHeld(config);
  const sampling = createSamplingPipeline(config, metrics, logger, secrets);
  ctx.listeners.push(sampling.listener);
  let adminAuth = new AdminAuthenticator(adminTokens.tokens);
  const reloader = new ConfigReloader(ctx, env, (next) => {
    adminTokens = resolveAdminTokens(next, env, adminTokens.generated);
    adminAuth = new AdminAuthenticator(adminTokens.tokens);
    // Old secrets stay redacted too: requests taken before the reload may still be on their way to a
    // dataset, and a rotated key is still a key.
    secrets = [...new Set([...secrets, ...secretsHeld(next)])];
    sampling.reconfigure(next, secrets);
  });

  const app = Fastify({
    loggerInstance: logger as FastifyBaseLogger,
    // The pipeline writes one wide line per request itself (accounting/record.ts).
    logController: new LogController({ disableRequestLogging: true, requestIdLogLabel: 'request_id' }),
    // Fastify would build a pino child per request just to bind request_id; every line we write names
    // request_id itself, and the child cost ~1 µs of every request's CPU.
    childLoggerFactory: (parent) => parent,
    bodyLimit: config.server.bodyLimitBytes,
    genReqId: () => randomUUID(),
    requestIdHeader: false,
    // Fastify's own 503 while closing is `{"error":"Service Unavailable",...}`: not the OpenAI shape
    // our clients parse, and without a request id. Each handler answers instead (refuseWhileDraining).
    return503OnClosing: false,
    forceCloseConnections: 'idle',
  });

  app.setErrorHandler((err: FastifyError | GatewayError, req, reply) => {
    const error = toGatewayError(err);
    // A drain 503 is the gateway working as designed (clients retry elsewhere), not a failure to page on.
    if (error.status >= 500 && error.code !== SHUTTING_DOWN) req.log.error({ err, request_id: req.id }, 'request failed');
    else req.log.info({ request_id: req.id, status: error.status, error_class: error.errorClass, error: error.message, path: req.url.split('?')[0] }, 'request rejected');
    void reply.code(error.status).header('x-bellwether-request-id', req.id).send(error.toBody());
  });
  app.setNotFoundHandler(async (req, reply) => {
    refuseWhileDraining(ctx, reply);
    return reply.code(404).header('x-bellwether-request-id', req.id).send({ error: { message: `Unknown path ${req.method} ${req.url.split('?')[0]}`, type: 'invalid_request_error', code: 'unknown_url' } });
  });

  // Draining (SIGTERM): in-flight requests and streams finish, new ones get a 503 (refuseWhileDraining).
  app.addHook('preClose', async () => {
    ctx.draining = true;
  });

  await app.register(healthApi, ctx);
  await app.register(async (v1) => clientApi(v1, ctx));
  await app.register(async (v1) => feedbackApi(v1, ctx, sampling));
  await app.register(adminApi, {
    prefix: '/admin/v1',
    ctx,
    authenticator: () => adminAuth,
    reload: (actor, reason) => reloader.reload(actor, reason),
    extensions: [datasetAdminRoutes(() => sampling.store, () => Object.keys(ctx.config.routes))],
  });

  app.addHook('onClose', async () => {
    // Before the providers: their pools wait for requests in flight, shadow calls among them.
    const shadowCalls = await shadow.close();
    if (shadowCalls > 0) logger.info({ shadow_calls: shadowCalls }, `shutdown ended ${shadowCalls} shadow call(s) in flight; they are not measured`);
    await Promise.allSettled([...ctx.providers.values()].map((p) => p.close()));
    await rollouts.close();
    await sampling.close(Math.min(5000, config.server.shutdownGraceMs));
    await ctx.tracing.shutdown();
  });
  return { app, ctx, reload: (actor = 'config') => reloader.reload(actor), generatedAdminToken: adminTokens.generated };
}

export interface RunningGateway extends Gateway {
  url: string;
  close(): Promise<void>;
}

export async function startGateway(opts: { config: Config; port?: number; host?: string } & GatewayOptions): Promise<RunningGateway> {
  const gateway = await buildGateway(opts.config, opts);
  const address = await gateway.app.listen({ port: opts.port ?? opts.config.server.port, host: opts.host ?? opts.config.server.host });
  const url = address.replace('[::]', '127.0.0.1').replace('0.0.0.0', '127.0.0.1');
  return { ...gateway, url, close: () => gateway.app.close() };
}
