// Rollout state per route and the store interface it lives behind. The request path only ever reads
// the local snapshot (`current`) synchronously; stores keep that snapshot fresh in the background.
import type { Config, RouteConfig } from '../config/types.js';

export type RolloutMode = 'split' | 'shadow';
export type RolloutPhase = 'active' | 'paused' | 'promoted' | 'rolled_back';

export interface RolloutState {
  route: string;
  champion: string;
  challenger: string | undefined;
  percent: number;
  mode: RolloutMode;
  state: RolloutPhase;
  version: number;
  updatedAt: string;
  updatedBy: string;
  /** champion/challenger as the config file had them; a change there starts a new rollout. */
  origin: string;
}

export type AuditAction = RolloutChange['action'] | 'config' | 'reseed';

export interface AuditEntry {
  at: string;
  route: string;
  actor: string;
  action: AuditAction;
  from: Partial<RolloutState>;
  to: Partial<RolloutState>;
  reason: string;
}

export interface StoreHealth {
  reachable: boolean;
  /** True once the last successful sync is older than staleAfterSeconds: serve champion only. */
  stale: boolean;
  lastSyncAt: string | undefined;
  backend: 'memory' | 'redis';
}

export interface RolloutChange {
  action: 'set' | 'pause' | 'resume' | 'promote' | 'rollback';
  actor: string;
  reason: string;
  /** Compare-and-set: reject with ConflictError when the stored version differs. */
  expectedVersion?: number;
  percent?: number;
  mode?: RolloutMode;
}

/** One page of a route's audit log, newest first. `dropped` > 0 says older entries are gone. */
export interface AuditPage {
  entries: AuditEntry[];
  dropped: number;
}

export class ConflictError extends Error {
  constructor(readonly current: RolloutState) {
    super(`rollout of route "${current.route}" changed concurrently (now version ${current.version})`);
    this.name = 'ConflictError';
  }
}

/**
 * `set` on a paused route. Setting a percent used to resume it silently, undoing a colleague's pause
 * during an incident; resuming is its own, deliberate action.
 */
export class RoutePausedError extends Error {
  constructor(readonly current: RolloutState) {
    super(
      `Route "${current.route}" is paused (by ${current.updatedBy} at ${current.updatedAt}); setting a percent would resume it. ` +
        `If the pause is over, run \`bellwether rollout resume ${current.route}\` (POST /admin/v1/routes/${current.route}/resume) first, then set the percent.`,
    );
    this.name = 'RoutePausedError';
  }
}

/** The shared store can't be reached: a change can't be made safely, so it is refused (503). */
export class StoreUnavailableError extends Error {
  constructor(
    cause: unknown,
    /** The write was sent but never confirmed (a timeout): Redis may still have applied it. */
    readonly outcomeUnknown = false,
  ) {
    super(`rollout state store unavailable: ${cause instanceof Error ? cause.message : String(cause)}`);
    this.name = 'StoreUnavailableError';
  }
}

export interface RolloutStore {
  start(): Promise<void>;
  /** Hot path: synchronous read of the local snapshot, no I/O, no allocation. */
  current(route: string): RolloutState | undefined;
  all(): RolloutState[];
  apply(route: string, change: RolloutChange): Promise<RolloutState>;
  /** Adopt a reloaded config file under the precedence rule (see `reconcile`); `reason` goes into the audit log. */
  reconfigure(config: Config, actor: string, reason?: string): Promise<void>;
  history(route: string, limit?: number): Promise<AuditPage>;
  health(): StoreHealth;
  close(): Promise<void>;
}

export function originOf(champion: string, challenger: string | undefined): string {
  return `${champion}->${challenger ?? ''}`;
}

export const CONFIG_ACTOR = 'config';

/** The rollout the file describes. `updatedBy` is always "config": it marks a state nobody changed at runtime. */
export function fromConfig(r: RouteConfig, version: number, now: Date): RolloutState {
  return {
    route: r.name,
    champion: r.champion,
    challenger: r.challenger,
    percent: r.rollout.percent,
    mode: r.rollout.mode,
    state: 'active',
    version,
    updatedAt: now.toISOString(),
    updatedBy: CONFIG_ACTOR,
    origin: originOf(r.champion, r.challenger),
  };
}

/**
 * The precedence rule between the config file and runtime changes, in one place for every store:
 * - the file defines the initial rollout of a route;
 * - runtime changes (admin API / CLI) override it for as long as the route's champion and challenger
 *   in the file stay the same;
 * - a new champion or challenger in the file starts a new rollout (next version) from the file;
 * - while nobody changed the rollout at runtime, a new percent or mode in the file is adopted too.
 * Returns the state to write, or undefined when the stored state stands.
 */
export function reconcile(stored: RolloutState, route: RouteConfig, now: Date): RolloutState | undefined {
  const file = fromConfig(route, stored.version + 1, now);
  if (stored.origin !== file.origin) return file;
  const untouched = stored.updatedBy === CONFIG_ACTOR;
  if (untouched && (stored.percent !== file.percent || stored.mode !== file.mode)) return file;
  return undefined;
}

/** The fields an audit entry records on each side of a change. */
export function auditView(s: RolloutState): Partial<RolloutState> {
  return { champion: s.champion, challenger: s.challenger, percent: s.percent, mode: s.mode, state: s.state, version: s.version };
}

export function auditEntry(action: AuditAction, actor: string, reason: string, from: RolloutState | undefined, to: RolloutState): AuditEntry {
  return { at: to.updatedAt, route: to.route, actor, action, from: from ? auditView(from) : {}, to: auditView(to), reason };
}

/** The challenger's share right now, after pause/rollback and the fail-safe for stale state. */
export function effectivePercent(state: RolloutState, stale: boolean): number {
  if (stale || !state.challenger) return 0;
  if (state.state === 'paused' || state.state === 'rolled_back') return 0;
  return state.percent;
}

/**
 * The share of users assigned to the challenger: the effective percent in split mode, none in shadow
 * mode (there the percent is the share of champion requests copied to it). One definition for the
 * request path and bellwether_rollout_challenger_ratio, so the gauge matches what users get.
 */
export function assignedPercent(state: RolloutState, stale: boolean): number {
  return state.mode === 'shadow' ? 0 : effectivePercent(state, stale);
}

/**
 * Pure transition used by every store, so memory and Redis behave identically. Throws
 * RoutePausedError for `set` on a paused route (after `rollback`, `set` starts a new rollout).
 */
export function transition(current: RolloutState, change: RolloutChange, now: Date): RolloutState {
  const next: RolloutState = { ...current, version: current.version + 1, updatedAt: now.toISOString(), updatedBy: change.actor };
  switch (change.action) {
    case 'set':
      if (current.state === 'paused') throw new RoutePausedError(current);
      if (change.percent !== undefined) next.percent = change.percent;
      if (change.mode !== undefined) next.mode = change.mode;
      next.state = 'active';
      break;
    case 'pause':
      next.state = 'paused';
      break;
    case 'resume':
      next.state = 'active';
      break;
    case 'promote':
      // The challenger becomes the champion for everyone. Users already on the challenger stay on
      // that model; the rest move to it once — nobody flips back.
      if (current.challenger) next.champion = current.challenger;
      next.challenger = undefined;
      next.percent = 0;
      next.state = 'promoted';
      break;
    case 'rollback':
      next.percent = 0;
      next.state = 'rolled_back';
      break;
  }
  return next;
}
