// Every other /v1/* path (files, batches, moderations...) goes to the champion's provider unchanged,
// with the client's key swapped for the provider's. Uses @fastify/http-proxy (undici underneath).
import type { FastifyInstance } from 'fastify';
import httpProxy from '@fastify/http-proxy';
import type { GatewayContext } from './context.js';
import { GatewayError } from './errors.js';

export async function registerPassthrough(app: FastifyInstance, ctx: GatewayContext): Promise<void> {
  const firstRoute = Object.values(ctx.config.routes)[0];
  const champion = firstRoute ? ctx.config.models[firstRoute.champion] : undefined;
  const target = champion ? ctx.providers.get(champion.provider)?.passthrough() : undefined;
  if (!target || !firstRoute || !champion) {
    app.all('/v1/*', async () => {
      throw new GatewayError({ status: 404, errorClass: 'bad_request', message: 'This endpoint is not available: the champion provider does not accept pass-through requests.', type: 'invalid_request_error', code: 'unknown_url' });
    });
    return;
  }
  const providerHeaders = target.headers;
  await app.register(httpProxy, {
    upstream: target.upstream,
    prefix: '/v1',
    rewritePrefix: target.prefix,
    preHandler: async (req, reply) => {
      ctx.clients.authenticate(req.headers.authorization);
      // PRODUCT.md section 4: every proxied call says who answered, pass-through included.
      void reply.headers({
        'x-bellwether-request-id': req.id,
        'x-bellwether-route': firstRoute.name,
        'x-bellwether-variant': 'champion',
        'x-bellwether-model': champion.name,
        'x-bellwether-attempts': '1',
      });
    },
    replyOptions: {
      rewriteRequestHeaders: (_req, headers) => {
        const out: Record<string, string | string[] | undefined> = { ...headers };
        delete out.authorization;
        delete out['x-bellwether-variant'];
        return { ...out, ...providerHeaders };
      },
    },
  });
}
