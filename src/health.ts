// /healthz (process up), /readyz (config loaded; rollout state store reachable and fresh), /metrics.
import type { FastifyInstance } from 'fastify';
import type { GatewayContext } from './gateway/context.js';
import { refuseWhileDraining } from './gateway/errors.js';

export async function healthApi(app: FastifyInstance, ctx: GatewayContext): Promise<void> {
  // While draining, /readyz answers 503 shutting_down (the load balancer takes the replica out) but
  // /healthz and /metrics keep answering: a liveness probe failing through the drain let the kubelet
  // kill the pod before its streams finished, and Prometheus lost the scrapes that saw the drain.
  app.get('/healthz', async () => ({ status: 'ok' }));

  // Contract (PRODUCT.md section 2): not ready (503) while the state store is unreachable or stale.
  // But a shared-state outage must not pull every replica out of a load balancer at once: they keep
  // serving (last known rollout, then champion-only), so orchestrators probe `/readyz?degraded=ok`,
  // which answers 200 while degraded. The body says which, and bellwether_rollout_state_stale too.
  app.get<{ Querystring: { degraded?: string } }>('/readyz', async (req, reply) => {
    refuseWhileDraining(ctx, reply);
    const store = ctx.rollouts.health();
    const degraded = !store.reachable || store.stale;
    const tolerate = req.query.degraded === 'ok';
    return reply.code(degraded && !tolerate ? 503 : 200).send({
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
