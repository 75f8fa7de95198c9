// The admin API (`/admin/v1/*`, PRODUCT.md section 5) as one encapsulated fastify plugin: its own
// strict validator, admin-token authentication before anything else runs, and the rollout and
// config routes. Other admin features (datasets...) join through `extensions` to share the auth.
import type { FastifyError, FastifyInstance, FastifyPluginAsync } from 'fastify';
import { Ajv } from 'ajv';
import type { GatewayContext } from '../gateway/context.js';
import { GatewayError, refuseWhileDraining } from '../gateway/errors.js';
import { ConfigError } from '../config/load.js';
import type { AdminAuthenticator } from './tokens.js';
import { invalid, rolloutAdminRoutes } from './rollouts.js';
import { reloadBody } from './schemas.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** Name of the admin token that authenticated this request: the audit actor. */
    adminActor: string;
  }
}

export interface ReloadOutcome {
  file: string;
  routes: string[];
  /** Sections that changed in the file but only take effect after a restart. */
  restartRequired: string[];
}

export interface AdminOptions {
  ctx: GatewayContext;
  /** Read per request: a config reload can change the tokens. */
  authenticator: () => AdminAuthenticator;
  reload: (actor: string, reason: string | undefined) => Promise<ReloadOutcome>;
  extensions?: FastifyPluginAsync[];
}

// No coercion ("25" is not a number here), no silent removal of unknown fields: reject instead.
const ajv = new Ajv({ allErrors: false, coerceTypes: false, removeAdditional: false, useDefaults: false, strict: false });

export async function adminApi(app: FastifyInstance, opts: AdminOptions): Promise<void> {
  app.setValidatorCompiler(({ schema }) => ajv.compile(schema));
  app.setErrorHandler((err: FastifyError | GatewayError, _req, _reply) => {
    // Re-thrown errors go to the gateway's error handler, which owns the error body format.
    if ('validation' in err && err.validation) throw invalid(`Invalid request: ${err.message}`, 'invalid_request');
    throw err;
  });
  app.decorateRequest('adminActor', '');
  app.addHook('onRequest', async (req, reply) => {
    refuseWhileDraining(opts.ctx, reply);
    req.adminActor = opts.authenticator().authenticate(req.headers.authorization);
  });

  await app.register(async (routes) => rolloutAdminRoutes(routes, opts.ctx));

  app.post<{ Body: { reason?: string } }>(
    '/config/reload',
    {
      schema: { body: reloadBody },
      // `curl -X POST` without a body is a fair way to ask for a reload.
      preValidation: async (req) => {
        req.body ??= {};
      },
    },
    async (req) => {
      try {
        const outcome = await opts.reload(req.adminActor, req.body.reason);
        return { status: 'reloaded', ...outcome };
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        throw new GatewayError({ status: 400, errorClass: 'bad_request', message: `Config rejected; the running config stays in effect:\n${err.lines.join('\n')}`, type: 'invalid_request_error', code: 'invalid_config' });
      }
    },
  );

  for (const extension of opts.extensions ?? []) await app.register(extension);
}
