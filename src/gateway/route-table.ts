// `model` → route, by route name or alias (aliases let existing apps keep their model names).
import type { Config, RouteConfig } from '../config/types.js';
import { GatewayError } from './errors.js';

export class RouteTable {
  private readonly byName = new Map<string, RouteConfig>();

  constructor(config: Config) {
    for (const route of Object.values(config.routes)) {
      this.byName.set(route.name, route);
      for (const alias of route.aliases) this.byName.set(alias, route);
    }
  }

  resolve(model: unknown): RouteConfig {
    if (typeof model !== 'string' || model.length === 0) {
      throw new GatewayError({ status: 400, errorClass: 'bad_request', message: 'you must provide a model parameter', type: 'invalid_request_error', code: 'missing_model' });
    }
    const route = this.byName.get(model);
    if (!route) {
      throw new GatewayError({
        status: 404,
        errorClass: 'bad_request',
        message: `The model \`${model.slice(0, 200)}\` does not exist on this gateway. Known routes: ${[...new Set([...this.byName.values()].map((r) => r.name))].join(', ')}.`,
        type: 'invalid_request_error',
        code: 'model_not_found',
      });
    }
    return route;
  }
}
