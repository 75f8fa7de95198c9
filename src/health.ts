// /healthz (process up), /readyz (config loaded; rollout state store reachable and fresh, or degraded), /metrics.
import type { FastifyInstance } from 'fastify';
import type { GatewayContext } from './gateway/context.js';

export async function healthApi(app: FastifyInstance, ctx: GatewayContext): Promise<void> {
  app.get('/healthz', async () => ({ status: 'ok' }));

  // A shared-state outage must not fail readiness on every replica at once (that would take the
  // whole fleet out of the load balancer): replicas keep serving — last known rollout, then
  // champion-only — and report it here as "degraded" and in bellwether_rollout_state_stale.
  app.get('/readyz', async (_req, reply) => {
    const store = ctx.rollouts.health();
    const degraded = !store.reachable || store.stale;
    return reply.code(200).send({
      status: degraded ? 'degraded' : 'ready',
      ...(degraded ? { routing: store.stale ? 'champion_only' : 'last_known_state' } : {}),
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
