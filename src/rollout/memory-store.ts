// In-memory rollout state: the embedded default (one replica, nothing to run).
import type { Config } from '../config/types.js';
import {
  CONFIG_ACTOR,
  ConflictError,
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

/** Per route. Bounded so a runaway script can't exhaust memory; `history` reports what was dropped. */
export const MAX_MEMORY_AUDIT_ENTRIES = 10_000;

// Memory is always "in sync" with itself: one frozen object, so the hot path's health() allocates nothing.
const HEALTH: StoreHealth = Object.freeze({ reachable: true, stale: false, lastSyncAt: undefined, backend: 'memory' });

export class MemoryRolloutStore implements RolloutStore {
  private readonly states = new Map<string, RolloutState>();
  private readonly audit = new Map<string, AuditEntry[]>();
  private readonly dropped = new Map<string, number>();

  constructor(config: Config) {
    const now = new Date();
    for (const route of Object.values(config.routes)) {
      const state = fromConfig(route, 1, now);
      this.states.set(route.name, state);
      this.record(auditEntry('config', CONFIG_ACTOR, 'initial rollout from the config file', undefined, state));
    }
  }

  async start(): Promise<void> {}

  current(route: string): RolloutState | undefined {
    return this.states.get(route);
  }

  all(): RolloutState[] {
    return [...this.states.values()];
  }

  async apply(route: string, change: RolloutChange): Promise<RolloutState> {
    const current = this.states.get(route);
    if (!current) throw new Error(`unknown route "${route}"`);
    if (change.expectedVersion !== undefined && change.expectedVersion !== current.version) throw new ConflictError(current);
    const next = transition(current, change, new Date());
    this.states.set(route, next);
    this.record(auditEntry(change.action, change.actor, change.reason, current, next));
    return next;
  }

  async reconfigure(config: Config, actor: string, reason?: string): Promise<void> {
    const now = new Date();
    for (const name of [...this.states.keys()]) if (!config.routes[name]) this.states.delete(name);
    for (const route of Object.values(config.routes)) {
      const stored = this.states.get(route.name);
      const next = stored ? reconcile(stored, route, now) : fromConfig(route, 1, now);
      if (!next) continue;
      this.states.set(route.name, next);
      this.record(auditEntry('config', actor, reason ?? 'config file reloaded', stored, next));
    }
  }

  async history(route: string, limit = 100): Promise<AuditPage> {
    return { entries: (this.audit.get(route) ?? []).slice(-limit).reverse(), dropped: this.dropped.get(route) ?? 0 };
  }

  health(): StoreHealth {
    return HEALTH;
  }

  async close(): Promise<void> {}

  private record(entry: AuditEntry): void {
    const entries = this.audit.get(entry.route) ?? [];
    entries.push(entry);
    if (entries.length > MAX_MEMORY_AUDIT_ENTRIES) {
      const excess = entries.length - MAX_MEMORY_AUDIT_ENTRIES;
      entries.splice(0, excess);
      this.dropped.set(entry.route, (this.dropped.get(entry.route) ?? 0) + excess);
    }
    this.audit.set(entry.route, entries);
  }
}
