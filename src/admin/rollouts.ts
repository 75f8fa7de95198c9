// Admin API for rollouts (PRODUCT.md section 5): read state, change it, read the audit log.
// Every mutation names a reason and is compare-and-set on the rollout version; the token's name is
// the audit actor. Validation happens before a handler runs, so a rejected request never reaches the
// store or the audit log.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { RouteConfig } from '../config/types.js';
import type { GatewayContext } from '../gateway/context.js';
import { GatewayError } from '../gateway/errors.js';
import { ConflictError, RoutePausedError, StoreUnavailableError, effectivePercent, type RolloutChange, type RolloutMode, type RolloutState } from '../rollout/state.js';
import { actionBody, historyQuery, historyResponse, ifMatchHeaders, routeParams, routeView, routesResponse, setRolloutBody } from './schemas.js';

export interface RouteView {
  route: string;
  /** Other `model` names this route answers to. */
  aliases: string[];
  champion: string;
  challenger: string | null;
  percent: number;
  effectivePercent: number;
  mode: RolloutMode;
  state: string;
  version: number;
  updatedAt: string;
  updatedBy: string;
  shadowAllowed: boolean;
}

type Action = 'pause' | 'resume' | 'promote' | 'rollback';
const ACTIONS: readonly Action[] = ['pause', 'resume', 'promote', 'rollback'];

interface RouteParams {
  route: string;
}
interface Mutation {
  reason: string;
  expectedVersion?: number;
}
interface SetBody extends Mutation {
  percent: number;
  mode?: RolloutMode;
}

export function viewOf(ctx: GatewayContext, state: RolloutState): RouteView {
  return {
    route: state.route,
    aliases: routeConfig(ctx, state.route)?.aliases ?? [],
    champion: state.champion,
    challenger: state.challenger ?? null,
    percent: state.percent,
    effectivePercent: effectivePercent(state, ctx.rollouts.health().stale),
    mode: state.mode,
    state: state.state,
    version: state.version,
    updatedAt: state.updatedAt,
    updatedBy: state.updatedBy,
    shadowAllowed: routeConfig(ctx, state.route)?.shadow.allowed ?? false,
  };
}

export async function rolloutAdminRoutes(app: FastifyInstance, ctx: GatewayContext): Promise<void> {
  app.get('/routes', { schema: { response: { 200: routesResponse } } }, async () => {
    const health = ctx.rollouts.health();
    const routes = Object.keys(ctx.config.routes).map((name) => viewOf(ctx, stateOf(ctx, name)));
    return { routes, store: { backend: health.backend, reachable: health.reachable, stale: health.stale, lastSyncAt: health.lastSyncAt ?? null } };
  });

  app.get<{ Params: RouteParams }>('/routes/:route', { schema: { params: routeParams, response: { 200: routeView } } }, async (req, reply) => {
    const state = stateOf(ctx, req.params.route);
    return reply.header('etag', `"${state.version}"`).send(viewOf(ctx, state));
  });

  app.put<{ Params: RouteParams; Body: SetBody }>(
    '/routes/:route/rollout',
    { schema: { params: routeParams, body: setRolloutBody, headers: ifMatchHeaders, response: { 200: routeView } } },
    async (req, reply) => {
      const { percent, mode, reason } = req.body;
      const current = stateOf(ctx, req.params.route);
      const route = routeConfig(ctx, current.route);
      if ((mode ?? current.mode) === 'shadow' && route && !route.shadow.allowed) {
        throw invalid(`Route "${route.name}" does not allow shadow mode (shadow.allowed: false in the config).`, 'shadow_not_allowed');
      }
      return change(ctx, req, reply, { action: 'set', percent, ...(mode ? { mode } : {}), reason, actor: req.adminActor });
    },
  );

  for (const action of ACTIONS) {
    app.post<{ Params: RouteParams; Body: Mutation }>(
      `/routes/:route/${action}`,
      { schema: { params: routeParams, body: actionBody, headers: ifMatchHeaders, response: { 200: routeView } } },
      async (req, reply) => change(ctx, req, reply, { action, reason: req.body.reason, actor: req.adminActor }),
    );
  }

  app.get<{ Params: RouteParams; Querystring: { limit?: string } }>(
    '/routes/:route/history',
    { schema: { params: routeParams, querystring: historyQuery, response: { 200: historyResponse } } },
    async (req) => {
      const route = stateOf(ctx, req.params.route).route;
      const limit = Math.min(Number(req.query.limit ?? 100), 1000);
      const page = await guardStore(() => ctx.rollouts.history(route, limit));
      return { route, dropped: page.dropped, entries: page.entries.map(({ at, actor, action, from, to, reason }) => ({ at, actor, action, from, to, reason })) };
    },
  );
}

/** The version a change is conditional on: the body's `expectedVersion` or `If-Match`, which must agree. */
function expectedVersionOf(req: FastifyRequest<{ Body: Mutation }>): number | undefined {
  const body = req.body.expectedVersion;
  const header = ifMatch(req.headers['if-match']);
  // A client sending both and getting them out of step is a bug on its side; guessing which one it
  // meant could apply a change on top of a state it never saw.
  if (body !== undefined && header !== undefined && body !== header) {
    throw invalid(`expectedVersion ${body} and If-Match "${header}" disagree; send one version (or the same in both).`, 'conflicting_versions');
  }
  return body ?? header;
}

async function change(ctx: GatewayContext, req: FastifyRequest<{ Params: RouteParams; Body: Mutation }>, reply: FastifyReply, change: RolloutChange): Promise<FastifyReply> {
  const current = stateOf(ctx, req.params.route);
  if (!current.challenger) {
    return conflict(ctx, reply, current, 'no_challenger', `Route "${current.route}" has no challenger (the rollout is over). Name a new challenger in the config file to start another.`);
  }
  const expectedVersion = expectedVersionOf(req);
  try {
    const next = await guardStore(() => ctx.rollouts.apply(current.route, { ...change, ...(expectedVersion !== undefined ? { expectedVersion } : {}) }));
    req.log.info({ request_id: req.id, route: next.route, actor: change.actor, action: change.action, version: next.version, reason: change.reason }, 'rollout changed');
    return reply.header('etag', `"${next.version}"`).send(viewOf(ctx, next));
  } catch (err) {
    if (err instanceof RoutePausedError) return conflict(ctx, reply, err.current, 'route_paused', err.message);
    if (!(err instanceof ConflictError)) throw err;
    return conflict(ctx, reply, err.current, 'version_conflict', `${err.message}; re-read the route and retry if the change still makes sense.`);
  }
}

/** 409 with the state that stands, so a client can show it without another round trip. */
function conflict(ctx: GatewayContext, reply: FastifyReply, current: RolloutState, code: string, message: string): FastifyReply {
  return reply
    .code(409)
    .header('etag', `"${current.version}"`)
    .send({ error: { message, type: 'conflict_error', code }, current: viewOf(ctx, current) });
}

/** Own keys only: a path like /routes/constructor must not find what every JS object inherits. */
function routeConfig(ctx: GatewayContext, name: string): RouteConfig | undefined {
  return Object.hasOwn(ctx.config.routes, name) ? ctx.config.routes[name] : undefined;
}

function stateOf(ctx: GatewayContext, name: string): RolloutState {
  const state = routeConfig(ctx, name) ? ctx.rollouts.current(name) : undefined;
  if (!state) {
    throw new GatewayError({ status: 404, errorClass: 'bad_request', message: `Unknown route "${name.slice(0, 200)}". Known routes: ${Object.keys(ctx.config.routes).join(', ')}.`, type: 'not_found_error', code: 'unknown_route' });
  }
  return state;
}

async function guardStore<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (err instanceof StoreUnavailableError) {
      const message = err.outcomeUnknown
        ? 'The rollout state store did not confirm the change in time; it may have been applied. Check the route (and its history) before retrying.'
        : 'The rollout state store is unreachable; no change was made. Retry when it is back.';
      throw new GatewayError({ status: 503, errorClass: 'internal', message, type: 'api_error', code: 'state_store_unavailable', cause: err.message });
    }
    throw err;
  }
}

function ifMatch(header: string | string[] | undefined): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined) return undefined;
  return Number(value.replace(/^W\//, '').replaceAll('"', ''));
}

export function invalid(message: string, code: string): GatewayError {
  return new GatewayError({ status: 400, errorClass: 'bad_request', message, type: 'invalid_request_error', code });
}
