/**
 * Which model serves a variant target — the part of the response-cache key that makes a replay
 * mean "the same model answered this before". The request body names only the route and the forced
 * arm, so without it a config that points the champion at another model replayed the old model's
 * answers and the regression gate passed on them.
 *
 * Identity comes from what the eval runs against, never from the cached answer itself:
 * - an in-process gateway: its config — model name, provider and upstream model (a silent upstream
 *   version bump changes the identity too);
 * - a gateway at --url: its admin API (`GET /admin/v1/routes`, $BELLWETHER_ADMIN_TOKEN) — the model
 *   name serving each arm right now, after any promote or rollback.
 * When neither can tell, the identity is unknown and the runner neither replays nor stores answers.
 */
import { AdminClient } from '../admin/client.js';
import type { RouteView } from '../admin/rollouts.js';
import type { Config } from '../config/types.js';

export interface ServedTarget {
  model: string;
  forceVariant?: 'champion' | 'challenger';
}

/** The serving identity of a target, or undefined when it cannot be known. */
export type ServingIdentity = (target: ServedTarget) => string | undefined;

function arms(champion: string, challenger: string | null | undefined, force: ServedTarget['forceVariant']): (string | null)[] {
  if (force === 'champion') return [champion];
  if (force === 'challenger') return [challenger ?? null];
  // Unforced, either arm may answer: both are part of the identity.
  return [champion, challenger ?? null];
}

interface ServingRoute {
  name: string;
  aliases: readonly string[];
  champion: string;
  challenger: string | null;
}

/** The route a target's `model` reaches: by route name or alias, as the gateway's RouteTable resolves it. */
function routeFor(routes: readonly ServingRoute[], model: string): ServingRoute | undefined {
  return routes.find((r) => r.name === model || r.aliases.includes(model));
}

export function identityFromConfig(config: Config): ServingIdentity {
  const describe = (name: string | null): string => {
    if (name === null) return 'none';
    const m = config.models[name];
    return m ? `${m.name}=${m.provider}/${m.upstreamModel}` : name;
  };
  const routes = Object.values(config.routes).map((r) => ({ name: r.name, aliases: r.aliases, champion: r.champion, challenger: r.challenger ?? null }));
  return (target) => {
    const route = routeFor(routes, target.model);
    if (route) return arms(route.champion, route.challenger, target.forceVariant).map(describe).join('|');
    return config.models[target.model] ? describe(target.model) : undefined;
  };
}

/** Asks the gateway which models serve its routes; undefined when the admin API cannot be read. */
export async function identityFromGateway(url: string, token: string | undefined): Promise<ServingIdentity | undefined> {
  let routes: ServingRoute[];
  try {
    const views = (await new AdminClient(url, token).get<{ routes: (Pick<RouteView, 'route' | 'champion' | 'challenger'> & Partial<Pick<RouteView, 'aliases'>>)[] }>('/routes')).routes;
    // A gateway from before aliases were listed: route names only.
    routes = views.map((v) => ({ name: v.route, aliases: v.aliases ?? [], champion: v.champion, challenger: v.challenger }));
  } catch {
    return undefined;
  }
  return (target) => {
    const route = routeFor(routes, target.model);
    return route ? arms(route.champion, route.challenger, target.forceVariant).map((m) => m ?? 'none').join('|') : undefined;
  };
}
