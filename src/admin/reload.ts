// Config reload (SIGHUP or POST /admin/v1/config/reload): load and validate the file first, and only
// if it is valid swap it in. An invalid file changes nothing: the running config keeps serving.
import type { Config } from '../config/types.js';
import type { GatewayContext } from '../gateway/context.js';
import { loadConfigFile } from '../config/load.js';
import { createProviders } from '../providers/registry.js';
import { RouteTable } from '../gateway/route-table.js';
import { ClientAuthenticator } from '../gateway/authenticate.js';
import type { ReloadOutcome } from './plugin.js';

/** Sections a running gateway can't swap (listening socket, state backend, dataset store): reported, not applied. */
const RESTART_SECTIONS = ['server', 'state', 'datasets'] as const;

export class ConfigReloader {
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly ctx: GatewayContext,
    private readonly env: NodeJS.ProcessEnv,
    /** Called with the new config once it is valid (admin tokens follow the file). */
    private readonly onConfig: (config: Config) => void,
  ) {}

  /** Reloads run one at a time, so two SIGHUPs can't interleave their swaps. */
  reload(actor: string, reason?: string): Promise<ReloadOutcome> {
    const run = this.queue.then(() => this.apply(actor, reason));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async apply(actor: string, reason: string | undefined): Promise<ReloadOutcome> {
    const { ctx } = this;
    let next: Config;
    try {
      next = loadConfigFile(ctx.config.file, this.env);
    } catch (err) {
      ctx.logger.warn({ err, actor, file: ctx.config.file }, 'config reload rejected; the running config stays in effect');
      throw err;
    }
    const previous = ctx.config;
    const restartRequired = RESTART_SECTIONS.filter((s) => JSON.stringify(previous[s]) !== JSON.stringify(next[s]));
    const retired = ctx.providers;
    // Requests already talking to an old provider finish on it (close() is graceful); new attempts
    // pick up the new providers, routes and keys.
    ctx.providers = createProviders(next);
    // New routes, arms and checks are on /metrics at 0 before their first request (PRODUCT.md section 7).
    ctx.metrics.reconfigure(next);
    ctx.routes = new RouteTable(next);
    ctx.clients = new ClientAuthenticator(next.auth.clientKeys);
    ctx.config = next;
    this.onConfig(next);
    await ctx.rollouts.reconfigure(next, actor, reason);
    void Promise.allSettled([...retired.values()].map((p) => p.close()));
    const routes = Object.keys(next.routes);
    ctx.logger.info({ actor, reason, file: next.file, routes, restartRequired }, 'config reloaded');
    return { file: next.file, routes, restartRequired };
  }
}
