// Reading rollout state and audit entries back from Redis. Redis is shared with other tools and
// versions of the gateway, so what comes back is checked once here instead of trusted everywhere.
import type { AuditAction, AuditEntry, RolloutMode, RolloutPhase, RolloutState } from './state.js';

const MODES: readonly RolloutMode[] = ['split', 'shadow'];
const PHASES: readonly RolloutPhase[] = ['active', 'paused', 'promoted', 'rolled_back'];
const ACTIONS: readonly AuditAction[] = ['set', 'pause', 'resume', 'promote', 'rollback', 'config', 'reseed'];

type Json = Record<string, unknown>;

function object(text: string | undefined): Json | undefined {
  if (text === undefined) return undefined;
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : undefined;
  } catch {
    return undefined;
  }
}

const isString = (v: unknown): v is string => typeof v === 'string';
const oneOf = <T extends string>(list: readonly T[], v: unknown): v is T => typeof v === 'string' && (list as readonly string[]).includes(v);

export function parseRolloutState(text: string): RolloutState | undefined {
  const o = object(text);
  if (!o) return undefined;
  const { route, champion, challenger, percent, mode, state, version, updatedAt, updatedBy, origin } = o;
  if (!isString(route) || !isString(champion) || !isString(updatedAt) || !isString(updatedBy) || !isString(origin)) return undefined;
  if (challenger !== undefined && challenger !== null && !isString(challenger)) return undefined;
  if (typeof percent !== 'number' || percent < 0 || percent > 100) return undefined;
  if (!Number.isInteger(version) || !oneOf(MODES, mode) || !oneOf(PHASES, state)) return undefined;
  return { route, champion, challenger: challenger ?? undefined, percent, mode, state, version: version as number, updatedAt, updatedBy, origin };
}

export function parseAuditEntry(text: string | undefined): AuditEntry | undefined {
  const o = object(text);
  if (!o) return undefined;
  const { at, route, actor, action, from, to, reason } = o;
  if (!isString(at) || !isString(route) || !isString(actor) || !isString(reason) || !oneOf(ACTIONS, action)) return undefined;
  const side = (v: unknown): Partial<RolloutState> => (v !== null && typeof v === 'object' ? (v as Partial<RolloutState>) : {});
  return { at, route, actor, action, from: side(from), to: side(to), reason };
}
