// The fields of the wide completion line, serialised by hand into JSON members (`"key":value,…`).
// Building them as an object literal with conditional spreads and handing that to JSON.stringify
// cost ~12 µs of every request's ~250 µs CPU in the gateway (perf, at 64 connections): V8 builds
// such a literal property by property in the runtime, then the stringifier walks it again. The keys
// are fixed and the values are names, numbers and a few free-text strings, so a template does it.
import type { RequestLedger } from '../gateway/ledger.js';
import type { Usage } from './usage.js';

export type CostProvenance = 'computed' | 'estimated' | 'partial' | 'unknown' | 'none';

export interface LineFacts {
  /** The model that answered (or was tried last). */
  model: string;
  outcome: 'success' | 'error';
  totalMs: number;
  costUsd: number | undefined;
  costProvenance: CostProvenance;
}

/** The line's members, in this order: what a reader of the log sees first is what matters most. */
export function wideLineMembers(ledger: RequestLedger, facts: LineFacts): string {
  let out = `"request_id":${str(ledger.requestId)}`;
  const traceId = ledger.span?.traceId;
  if (traceId) out += `,"trace_id":${str(traceId)}`;
  out += `,"operation":${str(ledger.operation)},"route":${str(ledger.route.name)},"variant":${str(ledger.variant)},"forced":${ledger.forced},"client":${str(ledger.client)},"model":${str(facts.model)},"stream":${ledger.stream},"status":${num(ledger.status)},"outcome":"${facts.outcome}","error_class":${str(ledger.errorClass)}`;
  if (ledger.errorCause) out += `,"error_cause":${str(ledger.errorCause)}`;
  if (ledger.errorMessage) out += `,"error":${str(ledger.errorMessage)}`;
  out += ',"attempts":[';
  for (let i = 0; i < ledger.attempts.length; i++) {
    const a = ledger.attempts[i] as RequestLedger['attempts'][number];
    if (i > 0) out += ',';
    out += `{"model":${str(a.model.name)},"kind":${str(a.kind)},"outcome":${str(a.outcome)},"error_class":${str(a.errorClass)}`;
    if (a.cause) out += `,"cause":${str(a.cause)}`;
    if (a.status !== undefined && a.outcome === 'error') out += `,"status":${num(a.status)}`;
    out += `,"ms":${num(round(a.durationMs))}`;
    if (a.costUsd !== undefined) out += `,"cost_usd":${num(a.costUsd)}`;
    if (a.usageEstimated) out += ',"usage_estimated":true';
    out += '}';
  }
  out += ']';
  if (ledger.fallbackReason) out += `,"fallback":${str(ledger.fallbackReason)}`;
  const ttft = ledger.ttftMs === undefined ? 'null' : num(round(ledger.ttftMs));
  const overhead = round(ledger.overheadMs(facts.totalMs));
  out += `,"duration_ms":${num(round(facts.totalMs))},"ttft_ms":${ttft},"overhead_ms":${num(overhead)},"tokens":${usage(ledger.usage)},"cost_usd":${facts.costUsd === undefined ? 'null' : num(facts.costUsd)},"cost_provenance":"${facts.costProvenance}"`;
  return out;
}

function usage(u: Usage | undefined): string {
  if (u === undefined) return 'null';
  return `{"input":${num(u.input)},"cachedInput":${num(u.cachedInput)},"cacheWrite":${num(u.cacheWrite)},"output":${num(u.output)},"reasoning":${num(u.reasoning)}}`;
}

// What JSON.stringify escapes: quote, backslash, control characters and lone surrogates (a
// surrogate pair is left alone by it, so a string with one takes the slow path and stays exact).
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** A string as JSON, as JSON.stringify writes it. */
export function str(s: string): string {
  return NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : `"${s}"`;
}

/** A number as JSON, as JSON.stringify writes it (not finite → null). */
export function num(n: number): string {
  return Number.isFinite(n) ? String(n) : 'null';
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}
