// Rollout state per route and the store interface it lives behind. The request path only ever reads
// the local snapshot (`current`) synchronously; stores keep that snapshot fresh in the background.
import type { Config } from '../config/types.js';

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

export interface AuditEntry {
  at: string;
  route: string;
  actor: string;
  action: string;
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

export class ConflictError extends Error {
  constructor(readonly current: RolloutState) {
    super(`rollout of route "${current.route}" changed concurrently (now version ${current.version})`);
    this.name = 'ConflictError';
  }
}

export interface RolloutStore {
  start(): Promise<void>;
  current(route: string): RolloutState | undefined;
  all(): RolloutState[];
  apply(route: string, change: RolloutChange): Promise<RolloutState>;
  history(route: string, limit?: number): Promise<AuditEntry[]>;
  health(): StoreHealth;
  close(): Promise<void>;
}

export function originOf(champion: string, challenger: string | undefined): string {
  return `${champion}->${challenger ?? ''}`;
}

export function initialStates(config: Config, now = new Date()): RolloutState[] {
  return Object.values(config.routes).map((r) => ({
    route: r.name,
    champion: r.champion,
    challenger: r.challenger,
    percent: r.rollout.percent,
    mode: r.rollout.mode,
    state: 'active',
    version: 1,
    updatedAt: now.toISOString(),
    updatedBy: 'config',
    origin: originOf(r.champion, r.challenger),
  }));
}

/** The challenger's share right now, after pause/rollback and the fail-safe for stale state. */
export function effectivePercent(state: RolloutState, stale: boolean): number {
  if (stale || !state.challenger) return 0;
  if (state.state === 'paused' || state.state === 'rolled_back') return 0;
  return state.percent;
}

/** Pure transition used by every store, so memory and Redis behave identically. */
export function transition(current: RolloutState, change: RolloutChange, now: Date): RolloutState {
  const next: RolloutState = { ...current, version: current.version + 1, updatedAt: now.toISOString(), updatedBy: change.actor };
  switch (change.action) {
    case 'set':
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
