// Rollout state shared by every replica through Redis.
//
// Layout (prefix = state.keyPrefix):
//   <prefix>rollout:state:<route>   string, the route's RolloutState as JSON (version inside)
//   <prefix>rollout:audit:<route>   stream, one entry per change; never trimmed by us
//   <prefix>rollout:changed         pub/sub channel; the message is the new state JSON
//
// Every write is one Lua script: compare the stored version, set, append the audit entry and
// publish, atomically — so a change and its audit entry exist together or not at all, and two
// concurrent writers can't both win (the loser gets ConflictError → 409).
//
// Replicas apply published changes immediately and also re-read all routes every
// resyncIntervalMs (a missed message, a Redis restart): one MGET per interval per replica, and
// unchanged JSON is not even parsed, so the default (500 ms) keeps "every replica within 1 s" true
// even for a lost pub/sub message. The request path never waits on Redis: it
// reads the local snapshot. If syncing fails for longer than staleAfterSeconds, health().stale turns
// true and the gateway sends everything to the champion until a sync succeeds again.
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config, RouteConfig } from '../config/types.js';
import {
  CONFIG_ACTOR,
  ConflictError,
  StoreUnavailableError,
  auditEntry,
  fromConfig,
  reconcile,
  transition,
  type AuditEntry,
  type AuditPage,
  type RolloutChange,
  type RolloutState,
  type RolloutStore,
  type StoreHealth,
} from './state.js';
import { parseAuditEntry, parseRolloutState } from './codec.js';

export interface RedisRolloutStoreOptions {
  url: string;
  keyPrefix: string;
  staleAfterSeconds: number;
  resyncIntervalMs: number;
  logger: Logger;
}

/**
 * KEYS: state key, audit stream. ARGV: mode ('cas' | 'create'), expected version, state JSON,
 * audit entry JSON, channel. 'cas' writes when the stored version equals the expected one, or when
 * the key is gone (Redis lost its data; the change builds on this replica's last known state).
 * 'create' writes only when the key is missing. Returns 'OK', or the stored JSON on a conflict.
 */
const WRITE_SCRIPT = `
local current = redis.call('GET', KEYS[1])
if current then
  if ARGV[1] == 'create' then return current end
  if cjson.decode(current).version ~= tonumber(ARGV[2]) then return current end
end
redis.call('SET', KEYS[1], ARGV[3])
redis.call('XADD', KEYS[2], '*', 'entry', ARGV[4])
redis.call('PUBLISH', ARGV[5], ARGV[3])
return 'OK'
`;

const RECONCILE_ATTEMPTS = 5;

export class RedisRolloutStore implements RolloutStore {
  private readonly redis: Redis;
  /** A subscribed ioredis connection can't run other commands, hence a second one. */
  private readonly sub: Redis;
  private readonly snapshot = new Map<string, RolloutState>();
  /**
   * Each route's state as Redis last had it, before adopt() made it safe for this replica's config.
   * What this replica writes back (reseed, a change while the key is gone) builds on this, so an old
   * replica never writes its champion-only view over a rollout it merely can't serve.
   */
  private readonly remote = new Map<string, RolloutState>();
  /** The JSON a resync last adopted per route: unchanged text is skipped (no parse, no repeated warnings). */
  private readonly resyncedText = new Map<string, string>();
  /** Bumped whenever a route's snapshot changes outside a resync, so an older resync read can't undo it. */
  private readonly touched = new Map<string, number>();
  private readonly staleAfterMs: number;
  private readonly channel: string;
  private config: Config;
  private lastSyncMs: number | undefined;
  private syncOk = false;
  private healthView: StoreHealth = { reachable: false, stale: true, lastSyncAt: undefined, backend: 'redis' };
  /** Who asked for a reconcile with the config file still owed to Redis (it was unreachable), and why. */
  private pendingReconcile: { actor: string; reason: string | undefined } | undefined = { actor: CONFIG_ACTOR, reason: undefined };
  private syncing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private outage = false;
  private closed = false;

  constructor(
    config: Config,
    private readonly options: RedisRolloutStoreOptions,
  ) {
    this.config = config;
    this.staleAfterMs = options.staleAfterSeconds * 1000;
    this.channel = `${options.keyPrefix}rollout:changed`;
    const common = {
      lazyConnect: true,
      connectTimeout: 2000,
      // Reconnect fast and forever: the fail-safe covers the gap, a quick resync ends it.
      retryStrategy: (times: number) => Math.min(50 * times, 1000),
    };
    // No offline queue: an admin change while Redis is down fails at once (503) instead of hanging.
    this.redis = new Redis(options.url, { ...common, enableOfflineQueue: false, maxRetriesPerRequest: 1, commandTimeout: 2000 });
    this.sub = new Redis(options.url, { ...common, maxRetriesPerRequest: null });
    const now = new Date();
    // Until the first sync the file's rollout is the best guess; health().stale keeps it champion-only.
    for (const route of Object.values(config.routes)) this.snapshot.set(route.name, fromConfig(route, 1, now));
  }

  async start(): Promise<void> {
    for (const conn of [this.redis, this.sub]) {
      // ioredis reports every failed reconnect as an 'error' event; the outage is logged once in sync().
      conn.on('error', (err: Error) => this.options.logger.debug({ err }, 'rollout state store connection error'));
    }
    this.sub.on('message', (_channel: string, message: string) => this.onMessage(message));
    // A (re)connected subscriber may have missed messages: resync at once rather than at the next tick.
    this.sub.on('ready', () => void this.sync());
    this.redis.on('ready', () => void this.sync());
    try {
      await Promise.all([this.redis.connect(), this.sub.connect()]);
      await this.sub.subscribe(this.channel);
      await this.sync();
    } catch (err) {
      this.markFailed(err);
    }
    this.timer = setInterval(() => void this.sync(), this.options.resyncIntervalMs);
    this.timer.unref();
    if (this.options.resyncIntervalMs >= this.staleAfterMs) {
      this.options.logger.warn(
        { resyncIntervalMs: this.options.resyncIntervalMs, staleAfterSeconds: this.options.staleAfterSeconds },
        'state.resyncIntervalMs is not below state.staleAfterSeconds: rollouts will flap to champion-only between syncs',
      );
    }
  }

  current(route: string): RolloutState | undefined {
    return this.snapshot.get(route);
  }

  all(): RolloutState[] {
    return [...this.snapshot.values()];
  }

  health(): StoreHealth {
    // On the request path: no allocation unless something changed since the last call.
    const stale = this.lastSyncMs === undefined || Date.now() - this.lastSyncMs > this.staleAfterMs;
    const reachable = this.syncOk && this.redis.status === 'ready';
    const view = this.healthView;
    const lastSyncAt = this.lastSyncMs === undefined ? undefined : view.lastSyncAt;
    if (view.stale !== stale || view.reachable !== reachable || view.lastSyncAt !== lastSyncAt) {
      this.healthView = { reachable, stale, lastSyncAt, backend: 'redis' };
    }
    return this.healthView;
  }

  async apply(route: string, change: RolloutChange): Promise<RolloutState> {
    const local = this.snapshot.get(route);
    if (!local) throw new Error(`unknown route "${route}"`);
    // Decide on Redis's copy, not the snapshot: the snapshot may be a resync interval behind.
    const base = (await this.read(route)) ?? this.remote.get(route) ?? local;
    if (change.expectedVersion !== undefined && change.expectedVersion !== base.version) throw new ConflictError(base);
    const next = transition(base, change, new Date());
    const stored = await this.write('cas', base.version, next, auditEntry(change.action, change.actor, change.reason, base, next));
    if (stored !== undefined) throw new ConflictError(stored);
    this.adopt(next, true);
    return next;
  }

  async reconfigure(config: Config, actor: string, reason?: string): Promise<void> {
    this.config = config;
    const now = new Date();
    // The same JSON may now adopt differently (a model was added or removed): read everything afresh.
    this.resyncedText.clear();
    for (const name of [...this.snapshot.keys()]) {
      if (config.routes[name]) continue;
      this.snapshot.delete(name);
      this.remote.delete(name);
    }
    for (const route of Object.values(config.routes)) {
      const known = this.remote.get(route.name) ?? this.snapshot.get(route.name);
      // Re-check what we hold against the new model list (a model may have been removed).
      this.adopt(known ?? fromConfig(route, 1, now), true);
    }
    this.pendingReconcile = { actor, reason };
    // A sync already in flight began before this file and may not reconcile it: let it finish, then
    // sync again, so a reload that returns has reached Redis.
    await this.syncing;
    await this.sync();
  }

  async history(route: string, limit = 100): Promise<AuditPage> {
    let raw: [string, string[]][];
    try {
      raw = await this.redis.xrevrange(this.auditKey(route), '+', '-', 'COUNT', limit);
    } catch (err) {
      throw new StoreUnavailableError(err);
    }
    const entries: AuditEntry[] = [];
    for (const [, fields] of raw) {
      const entry = parseAuditEntry(fields[1]);
      if (entry) entries.push(entry);
    }
    // The stream is never trimmed by the gateway, so nothing is ever dropped behind the reader's back.
    return { entries, dropped: 0 };
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await Promise.allSettled([this.redis, this.sub].map((c) => (c.status === 'ready' ? c.quit() : Promise.resolve(c.disconnect()))));
  }

  private stateKey(route: string): string {
    return `${this.options.keyPrefix}rollout:state:${route}`;
  }

  private auditKey(route: string): string {
    return `${this.options.keyPrefix}rollout:audit:${route}`;
  }

  private async read(route: string): Promise<RolloutState | undefined> {
    const text = await this.readText(route);
    return text === null ? undefined : parseRolloutState(text);
  }

  private async readText(route: string): Promise<string | null> {
    try {
      return await this.redis.get(this.stateKey(route));
    } catch (err) {
      throw new StoreUnavailableError(err);
    }
  }

  /** Runs WRITE_SCRIPT; undefined when written, else the state that won. */
  private async write(mode: 'cas' | 'create', expected: number, next: RolloutState, entry: AuditEntry): Promise<RolloutState | undefined> {
    // Not connected: nothing is sent, so the caller knows no change was made.
    if (this.redis.status !== 'ready') throw new StoreUnavailableError(new Error(`connection ${this.redis.status}`));
    let result: unknown;
    try {
      result = await this.redis.eval(
        WRITE_SCRIPT, 2, this.stateKey(next.route), this.auditKey(next.route),
        mode, String(expected), JSON.stringify(next), JSON.stringify(entry), this.channel,
      );
    } catch (err) {
      // Sent and unanswered (timeout, connection lost): Redis may run or have run the script.
      throw new StoreUnavailableError(err, true);
    }
    if (result === 'OK') return undefined;
    const winner = typeof result === 'string' ? parseRolloutState(result) : undefined;
    if (!winner) throw new StoreUnavailableError(new Error(`unreadable rollout state for route "${next.route}" in Redis`));
    return winner;
  }

  private sync(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.syncing ??= this.syncAll().finally(() => {
      this.syncing = undefined;
    });
    return this.syncing;
  }

  private async syncAll(): Promise<void> {
    try {
      const pending = this.pendingReconcile;
      if (pending !== undefined) {
        for (const route of Object.values(this.config.routes)) await this.reconcileRoute(route, pending.actor, pending.reason);
        // Only the request we served: a reconfigure during our reconcile left a newer one.
        if (this.pendingReconcile === pending) this.pendingReconcile = undefined;
      }
      const routes = Object.keys(this.config.routes);
      const generations = routes.map((r) => this.touched.get(r) ?? 0);
      const values = await this.redis.mget(routes.map((r) => this.stateKey(r)));
      for (const [i, route] of routes.entries()) {
        const text = values[i];
        if (text === null || text === undefined) {
          await this.reseed(route);
          continue;
        }
        // Nothing new since the last resync: the snapshot holds it already, or something newer.
        if (text === this.resyncedText.get(route)) continue;
        const remote = parseRolloutState(text);
        if (!remote) {
          this.options.logger.error({ route }, 'unreadable rollout state in Redis; keeping the last known state');
          continue;
        }
        if ((this.touched.get(route) ?? 0) === generations[i]) this.adopt(remote, false);
        this.resyncedText.set(route, text);
      }
      this.markSynced();
    } catch (err) {
      this.markFailed(err);
    }
  }

  /** Brings one route in Redis in line with the config file (precedence rule in state.ts). */
  private async reconcileRoute(route: RouteConfig, actor: string, given: string | undefined): Promise<void> {
    for (let attempt = 0; attempt < RECONCILE_ATTEMPTS; attempt++) {
      const now = new Date();
      const text = await this.readText(route.name);
      const stored = text === null ? undefined : parseRolloutState(text);
      if (text !== null && !stored) {
        // Not ours to overwrite (a newer version's state, a hand edit), and not a reason to fail the
        // whole sync: that would leave every route champion-only. This route keeps its last known state.
        this.options.logger.error({ route: route.name }, 'unreadable rollout state in Redis; not reconciled with the config file');
        return;
      }
      if (!stored) {
        const initial = fromConfig(route, 1, now);
        const winner = await this.write('create', 0, initial, auditEntry('config', actor, given ?? 'initial rollout from the config file', undefined, initial));
        this.adopt(winner ?? initial, true);
        if (!winner) return;
        continue; // another replica created it first: check theirs against our file
      }
      const next = reconcile(stored, route, now);
      if (!next) {
        this.adopt(stored, true);
        return;
      }
      const reason = given ?? (stored.origin === next.origin ? 'config file changed the initial rollout' : 'config file changed champion or challenger: new rollout');
      const winner = await this.write('cas', stored.version, next, auditEntry('config', actor, reason, stored, next));
      if (!winner) {
        this.adopt(next, true);
        return;
      }
    }
    this.options.logger.warn({ route: route.name }, 'could not reconcile the rollout with the config file (concurrent changes); keeping the stored state');
  }

  /**
   * The route's key vanished (Redis restarted without persistence): restore the last state this
   * replica read from Redis — not its own view, which lacks a challenger it doesn't know (old config).
   */
  private async reseed(route: string): Promise<void> {
    const known = this.remote.get(route) ?? this.snapshot.get(route);
    if (!known) return;
    const entry = auditEntry('reseed', 'gateway', 'rollout state was missing in Redis; restored from a replica\'s last known state', undefined, known);
    const winner = await this.write('create', 0, known, entry);
    if (winner) this.adopt(winner, true);
    else this.options.logger.warn({ route, version: known.version }, 'rollout state was missing in Redis; restored this replica\'s last known state');
  }

  private onMessage(message: string): void {
    const remote = parseRolloutState(message);
    if (!remote) return;
    const local = this.snapshot.get(remote.route);
    // Our own writes come back too; versions only grow between resyncs, so older news is ignored.
    if (local && remote.version <= local.version) return;
    this.adopt(remote, true);
  }

  /**
   * Puts a state into the snapshot. A replica still running an older config file may receive a state
   * naming models it doesn't know (rolling deploy): it then keeps a known champion and no challenger.
   */
  private adopt(state: RolloutState, outsideResync: boolean): void {
    const route = this.config.routes[state.route];
    if (!route) return;
    const known = (model: string | undefined) => model !== undefined && this.config.models[model] !== undefined;
    let safe = state;
    if (!known(state.champion) || (state.challenger !== undefined && !known(state.challenger))) {
      this.options.logger.warn({ route: state.route, champion: state.champion, challenger: state.challenger }, 'rollout names a model this replica does not know; serving its champion only');
      safe = { ...state, champion: known(state.champion) ? state.champion : route.champion, challenger: undefined };
    }
    const previous = this.snapshot.get(state.route);
    this.remote.set(state.route, state);
    this.snapshot.set(state.route, safe);
    if (outsideResync) this.touched.set(state.route, (this.touched.get(state.route) ?? 0) + 1);
    if (previous && previous.version !== safe.version) {
      this.options.logger.info({ route: safe.route, version: safe.version, percent: safe.percent, mode: safe.mode, state: safe.state, updatedBy: safe.updatedBy }, 'rollout applied');
    }
  }

  private markSynced(): void {
    this.lastSyncMs = Date.now();
    this.syncOk = true;
    this.healthView = { ...this.health(), lastSyncAt: new Date(this.lastSyncMs).toISOString() };
    if (this.outage) {
      this.outage = false;
      this.options.logger.info('rollout state store reachable again; state resynced');
    }
  }

  private markFailed(err: unknown): void {
    this.syncOk = false;
    if (this.outage || this.closed) return;
    this.outage = true;
    this.options.logger.error(
      { err, staleAfterSeconds: this.options.staleAfterSeconds },
      'rollout state store unreachable: keeping the last known rollout, then champion-only once it is older than staleAfterSeconds',
    );
  }
}
