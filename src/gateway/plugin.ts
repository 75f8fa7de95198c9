// The client API (PRODUCT.md section 4) as one fastify plugin.
import type { FastifyError, FastifyInstance } from 'fastify';
import type { GatewayContext } from './context.js';
import { handleInference, traceRefusal } from './inference.js';
import { registerPassthrough } from './passthrough.js';
import { parseJsonKeepingBytes } from './json-body.js';
import { type GatewayError, refuseWhileDraining, toGatewayError } from './errors.js';

export async function clientApi(app: FastifyInstance, ctx: GatewayContext): Promise<void> {
  // Breaker state is read at scrape time, so open → half-open (a matter of time passing) shows up.
  ctx.metrics.watchCircuitBreakers(() => ctx.breakers.snapshot());
  // Their own scope: the pass-through proxy below brings its own body handling.
  await app.register(async (inference) => {
    parseJsonKeepingBytes(inference);
    // What reaches this handler was refused before the pipeline opened its ledger (the pipeline
    // answers everything after that itself): traced here, answered by the server's handler.
    inference.setErrorHandler((err: FastifyError | GatewayError, req, reply) => {
      if (ctx.tracing.enabled) traceRefusal(ctx.tracing, req, reply, toGatewayError(err));
      throw err;
    });
    inference.post('/v1/chat/completions', (req, reply) => handleInference(ctx, 'chat', req, reply));
    inference.post('/v1/responses', (req, reply) => handleInference(ctx, 'responses', req, reply));
    inference.post('/v1/embeddings', (req, reply) => handleInference(ctx, 'embeddings', req, reply));
  });

  app.get('/v1/models', async (req, reply) => {
    refuseWhileDraining(ctx, reply);
    ctx.clients.authenticate(req.headers.authorization);
    const created = Math.floor(Date.now() / 1000);
    const data = Object.values(ctx.config.routes).flatMap((route) => [route.name, ...route.aliases].map((id) => modelObject(id, route.name, created)));
    return { object: 'list', data };
  });

  // The SDK's models.retrieve(): a route or alias is a model here. Left to the pass-through, the
  // upstream (which knows no routes) answered 404 for every name the client can actually use.
  app.get<{ Params: { model: string } }>('/v1/models/:model', async (req, reply) => {
    refuseWhileDraining(ctx, reply);
    ctx.clients.authenticate(req.headers.authorization);
    const route = ctx.routes.resolve(req.params.model);
    return modelObject(req.params.model, route.name, Math.floor(Date.now() / 1000));
  });

  await registerPassthrough(app, ctx);
}

function modelObject(id: string, route: string, created: number): Record<string, unknown> {
  return { id, object: 'model', created, owned_by: 'bellwether', ...(id !== route ? { route } : {}) };
}
