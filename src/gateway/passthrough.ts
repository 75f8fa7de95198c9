// Every other /v1/* path (files, batches, moderations...) goes to the champion's provider unchanged,
// with the client's key swapped for the provider's. Uses @fastify/http-proxy (undici underneath).
// "The champion" is the first route's champion as of this request: after `rollout promote` or a config
// reload the pass-through follows it, with the new provider's address and key.
import type { FastifyInstance } from 'fastify';
import httpProxy from '@fastify/http-proxy';
import type { ModelConfig, RouteConfig } from '../config/types.js';
import type { PassthroughTarget } from '../providers/types.js';
import type { GatewayContext } from './context.js';
import { GatewayError, refuseWhileDraining } from './errors.js';
import { CREDENTIAL_HEADERS } from '../telemetry/logger.js';

/**
 * Credentials the client may have sent (CREDENTIAL_HEADERS: keys, proxy credentials, cookies) are
 * for the gateway, never for the provider, which gets its own key. x-bellwether-* headers are ours too.
 */
const CLIENT_ONLY_HEADERS: ReadonlySet<string> = new Set(CREDENTIAL_HEADERS);

interface Destination {
  route: RouteConfig;
  champion: ModelConfig;
  target: PassthroughTarget;
}

export async function registerPassthrough(app: FastifyInstance, ctx: GatewayContext): Promise<void> {
  // Resolved once per request (keyed by fastify's request object) in the preHandler, read back when
  // the proxy builds the upstream call.
  const destinations = new WeakMap<object, Destination>();
  const destinationOf = (req: object): Destination => {
    const destination = destinations.get(req);
    if (!destination) throw new Error('pass-through request without a destination');
    return destination;
  };
  await app.register(httpProxy, {
    // No fixed upstream: reply-from would pin every request to that origin, whatever getUpstream says.
    upstream: '',
    prefix: '/v1',
    preHandler: async (req, reply) => {
      refuseWhileDraining(ctx, reply);
      ctx.clients.authenticate(req.headers.authorization);
      const destination = currentDestination(ctx);
      destinations.set(req, destination);
      // PRODUCT.md section 4: every proxied call says who answered, pass-through included.
      void reply.headers({
        'x-bellwether-request-id': req.id,
        'x-bellwether-route': destination.route.name,
        'x-bellwether-variant': 'champion',
        'x-bellwether-model': destination.champion.name,
        'x-bellwether-attempts': '1',
      });
    },
    // `dest` is the path after /v1; the provider's own prefix (e.g. /v1, /openai/v1) goes in front.
    handler: (req, reply, dest, options) => reply.from(destinationOf(req).target.prefix + dest, options),
    replyOptions: {
      getUpstream: (req) => destinationOf(req).target.upstream,
      rewriteRequestHeaders: (req, headers) => {
        const out: Record<string, string | string[] | undefined> = {};
        for (const name in headers) {
          if (!CLIENT_ONLY_HEADERS.has(name) && !name.startsWith('x-bellwether-')) out[name] = headers[name];
        }
        return { ...out, ...destinationOf(req).target.headers };
      },
    },
  });
}

function currentDestination(ctx: GatewayContext): Destination {
  const route = Object.values(ctx.config.routes)[0];
  const name = route ? (ctx.rollouts.current(route.name)?.champion ?? route.champion) : undefined;
  const champion = name ? ctx.config.models[name] : undefined;
  const target = champion ? ctx.providers.get(champion.provider)?.passthrough() : undefined;
  if (!route || !champion || !target) {
    throw new GatewayError({ status: 404, errorClass: 'bad_request', message: 'This endpoint is not available: the champion provider does not accept pass-through requests.', type: 'invalid_request_error', code: 'unknown_url' });
  }
  return { route, champion, target };
}
