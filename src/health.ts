// /healthz (process up), /readyz (config loaded, state store reachable and fresh), /metrics.
import type { FastifyInstance } from 'fastify';
import type { GatewayContext } from './gateway/context.js';

export async function healthApi(app: FastifyInstance, ctx: GatewayContext): Promise<void> {
  app.get('/healthz', async () => ({ status: 'ok' }));

  app.get('/readyz', async (_req, reply) => {
    const store = ctx.rollouts.health();
    const ready = store.reachable && !store.stale;
    return reply.code(ready ? 200 : 503).send({
      status: ready ? 'ready' : 'not_ready',
      config: ctx.config.file,
      state: store,
      circuitBreakers: ctx.breakers.snapshot(),
    });
  });

  app.get('/metrics', async (_req, reply) => {
    const body = await ctx.metrics.registry.metrics();
    return reply.type(ctx.metrics.registry.contentType).send(body);
  });
}
