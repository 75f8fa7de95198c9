// In-memory rollout state: the embedded default (one replica, nothing to run).
import type { Config } from '../config/types.js';
import { ConflictError, initialStates, transition, type AuditEntry, type RolloutChange, type RolloutState, type RolloutStore, type StoreHealth } from './state.js';

const MAX_AUDIT_ENTRIES = 10_000;

export class MemoryRolloutStore implements RolloutStore {
  private readonly states = new Map<string, RolloutState>();
  private readonly audit = new Map<string, AuditEntry[]>();

  constructor(config: Config) {
    for (const s of initialStates(config)) this.states.set(s.route, s);
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
    const entries = this.audit.get(route) ?? [];
    entries.push({ at: next.updatedAt, route, actor: change.actor, action: change.action, from: pick(current), to: pick(next), reason: change.reason });
    // Bounded so a runaway script can't exhaust memory; the Redis store keeps the full log.
    if (entries.length > MAX_AUDIT_ENTRIES) entries.splice(0, entries.length - MAX_AUDIT_ENTRIES);
    this.audit.set(route, entries);
    return next;
  }

  async history(route: string, limit = 100): Promise<AuditEntry[]> {
    return (this.audit.get(route) ?? []).slice(-limit).reverse();
  }

  health(): StoreHealth {
    return { reachable: true, stale: false, lastSyncAt: new Date().toISOString(), backend: 'memory' };
  }

  async close(): Promise<void> {}
}

export function pick(s: RolloutState): Partial<RolloutState> {
  return { champion: s.champion, challenger: s.challenger, percent: s.percent, mode: s.mode, state: s.state, version: s.version };
}
