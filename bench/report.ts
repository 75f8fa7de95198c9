// Turning measurements into the printed tables, the target verdicts and the JSON file.
import Table from 'cli-table3';
import type { CpuShare } from './cpu.js';
import type { LoadResult, OpenStreamsResult, StreamResult } from './measure.js';
import { ratio, round } from './stats.js';

export type Who = 'direct' | 'passthrough' | 'gateway';
export const WHO: Who[] = ['direct', 'passthrough', 'gateway'];
const LABEL: Record<Who, string> = { direct: 'direct (upstream)', passthrough: 'pass-through (undici)', gateway: 'gateway' };

export interface Results {
  meta: Record<string, unknown>;
  throughput: Record<Who, LoadResult>;
  fixedRate: Record<Who, LoadResult & { maxInflight: number }>;
  /** autocannon's overallRate, reported for comparison; bursty (see README). Absent in --quick. */
  fixedRateAutocannon: Record<Who, LoadResult> | undefined;
  streaming: Record<Who, StreamResult>;
  memory: Partial<Record<'passthrough' | 'gateway', OpenStreamsResult & { rssIdleStartBytes: number | undefined }>>;
  /** Per measurement phase (throughput, fixedRate, ...), CPU used by each process and by the rest of the machine. */
  cpu: Partial<Record<string, Record<Who, CpuShare>>>;
  /** Per measurement phase, each target's figures in each round: the spread behind the merged results. */
  rounds: Partial<Record<string, RoundFigures[]>>;
}

/** One target's figures in one round of a phase (streaming: p50Ms and p99Ms are the whole stream's). */
export interface RoundFigures {
  round: number;
  who: Who;
  reqPerSec: number;
  p50Ms: number;
  p99Ms: number;
  ttfbP50Ms?: number;
  cpuUsPerReq: number;
  otherPct: number | undefined;
}

/** The process that serves a request for each way of calling: the upstream itself, or the proxy in front. */
const SERVER: Record<Who, string> = { direct: 'upstream', passthrough: 'passthrough', gateway: 'gateway' };

/** CPU microseconds the serving process spent per request (its own work only, not the upstream's). */
export function cpuPerRequestUs(share: CpuShare | undefined, who: Who, requests: number): number {
  const ms = share?.processMs[SERVER[who]];
  return ms === undefined || requests === 0 ? NaN : Math.round((ms * 1000) / requests);
}

/** Highest share of the machine used by processes outside the bench during any measurement. */
export function worstOtherLoad(r: Results): number | undefined {
  let worst: number | undefined;
  for (const phase of Object.values(r.cpu)) {
    for (const share of Object.values(phase ?? {})) {
      if (share.otherPct !== undefined) worst = Math.max(worst ?? 0, share.otherPct);
    }
  }
  return worst;
}

export interface Verdict {
  target: string;
  measured: number;
  limit: number;
  unit: string;
  pass: boolean;
  /** Errors or missing data make a verdict unreliable; it is then not a PASS. */
  note?: string;
}

export function verdicts(r: Results): Verdict[] {
  const out: Verdict[] = [];
  const errs = (...loads: { non2xx: number; errors: number }[]): string | undefined => {
    const n = loads.reduce((s, l) => s + l.non2xx + l.errors, 0);
    return n > 0 ? `${n} failed requests` : undefined;
  };
  const add = (v: Verdict): void => {
    const valid = Number.isFinite(v.measured) && Number.isFinite(v.limit);
    out.push({ ...v, pass: valid && v.pass && v.note === undefined, ...(valid ? {} : { note: v.note ?? 'no data' }) });
  };
  const t = r.throughput;
  add({
    target: 'throughput @64 ≥ 60 % of pass-through',
    measured: t.gateway.reqPerSec,
    limit: round(0.6 * t.passthrough.reqPerSec, 1),
    unit: 'req/s',
    pass: t.gateway.reqPerSec >= 0.6 * t.passthrough.reqPerSec,
    ...opt(errs(t.gateway, t.passthrough)),
  });
  const f = r.fixedRate;
  add({
    target: '500 req/s: p50 ≤ direct p50 + 1 ms',
    measured: f.gateway.latency.p50Ms,
    limit: round(f.direct.latency.p50Ms + 1),
    unit: 'ms',
    pass: f.gateway.latency.p50Ms <= f.direct.latency.p50Ms + 1,
    ...opt(errs(f.gateway, f.direct)),
  });
  add({
    target: '500 req/s: p99 ≤ 1.5 × pass-through p99',
    measured: f.gateway.latency.p99Ms,
    limit: round(1.5 * f.passthrough.latency.p99Ms),
    unit: 'ms',
    pass: f.gateway.latency.p99Ms <= 1.5 * f.passthrough.latency.p99Ms,
    ...opt(errs(f.gateway, f.passthrough)),
  });
  const s = r.streaming;
  const streamErrors = s.gateway.errors + s.gateway.incomplete + s.passthrough.errors + s.passthrough.incomplete;
  add({
    target: 'stream TTFB p50 ≤ pass-through + 1 ms',
    measured: s.gateway.ttfb.p50Ms,
    limit: round(s.passthrough.ttfb.p50Ms + 1),
    unit: 'ms',
    pass: s.gateway.ttfb.p50Ms <= s.passthrough.ttfb.p50Ms + 1,
    ...opt(streamErrors > 0 ? `${streamErrors} failed or incomplete streams` : undefined),
  });
  return out;
}

function opt(note: string | undefined): { note?: string } {
  return note === undefined ? {} : { note };
}

type Comparison = [what: string, figure: (gw: RoundFigures, ref: Record<Who, RoundFigures>) => string, unit: string];

/**
 * One line under a phase's table: the judged comparisons in each round on their own, so a reader sees
 * whether the merged figure is typical or carried by one round.
 */
function perRound(r: Results, phase: string, comparisons: Comparison[]): string {
  const all = r.rounds[phase] ?? [];
  const byRound = [...new Set(all.map((f) => f.round))].map((n) => Object.fromEntries(all.filter((f) => f.round === n).map((f) => [f.who, f])) as Record<Who, RoundFigures>);
  const line = ([what, figure, unit]: Comparison): string => `${what}: ${byRound.map((ref) => figure(ref.gateway, ref)).join(', ')}${unit}`;
  return byRound.length === 0 ? '' : `per round, ${comparisons.map(line).join('; ')}`;
}

const PLAIN = { style: { head: [], border: [] } };
const ms = (v: number): string => (Number.isFinite(v) ? v.toFixed(2) : '—');
const x = (v: number): string => (Number.isFinite(v) ? `${v.toFixed(2)}×` : '—');
const mb = (b: number | undefined): string => (b === undefined ? '—' : (b / 1048576).toFixed(1));
const signed = (v: number): string => (Number.isFinite(v) ? `${v >= 0 ? '+' : ''}${v.toFixed(2)}` : '—');
const failures = (l: { non2xx: number; errors: number }): string => String(l.non2xx + l.errors);
const us = (v: number): string => (Number.isFinite(v) ? String(v) : '—');
const pct = (v: number | undefined): string => (v === undefined ? '—' : `${v.toFixed(0)} %`);

export function render(r: Results, v: Verdict[]): string {
  const parts: string[] = [];

  const t = new Table({ head: ['1. throughput, 64 conns, non-stream', 'req/s', 'p50 ms', 'p99 ms', '÷ direct', '÷ pass-through', 'CPU µs/req', 'failed', 'other load'], ...PLAIN });
  for (const who of WHO) {
    const l = r.throughput[who];
    const share = r.cpu.throughput?.[who];
    t.push([LABEL[who], l.reqPerSec.toFixed(0), ms(l.latency.p50Ms), ms(l.latency.p99Ms), x(ratio(l.reqPerSec, r.throughput.direct.reqPerSec)), x(ratio(l.reqPerSec, r.throughput.passthrough.reqPerSec)), us(cpuPerRequestUs(share, who, l.ok + l.non2xx)), failures(l), pct(share?.otherPct)]);
  }
  const gwCpu = cpuPerRequestUs(r.cpu.throughput?.gateway, 'gateway', r.throughput.gateway.ok + r.throughput.gateway.non2xx);
  const ptCpu = cpuPerRequestUs(r.cpu.throughput?.passthrough, 'passthrough', r.throughput.passthrough.ok + r.throughput.passthrough.non2xx);
  if (Number.isFinite(gwCpu) && Number.isFinite(ptCpu) && gwCpu > 0) {
    t.push([{ colSpan: 9, content: `CPU per request, gateway ÷ pass-through: ${x(ratio(gwCpu, ptCpu))} — where CPU-bound, the gateway can serve ~${Math.round((100 * ptCpu) / gwCpu)} % of the pass-through's rate` }]);
  }
  parts.push(t.toString(), perRound(r, 'throughput', [['gateway ÷ pass-through req/s', (gw, ref) => x(ratio(gw.reqPerSec, ref.passthrough.reqPerSec)), '']]));

  const f = new Table({ head: ['2. fixed 500 req/s, non-stream', 'req/s', 'p50 ms', 'p99 ms', 'p50 − direct', 'p99 ÷ pass-through', 'CPU µs/req', 'failed', 'other load'], ...PLAIN });
  f.push([{ colSpan: 9, content: 'open loop (evenly spaced, undici) — judged' }]);
  for (const who of WHO) {
    const l = r.fixedRate[who];
    const share = r.cpu.fixedRate?.[who];
    f.push([LABEL[who], l.reqPerSec.toFixed(0), ms(l.latency.p50Ms), ms(l.latency.p99Ms), signed(l.latency.p50Ms - r.fixedRate.direct.latency.p50Ms), x(ratio(l.latency.p99Ms, r.fixedRate.passthrough.latency.p99Ms)), us(cpuPerRequestUs(share, who, l.ok + l.non2xx)), failures(l), pct(share?.otherPct)]);
  }
  if (r.fixedRateAutocannon) {
    const a = r.fixedRateAutocannon;
    f.push([{ colSpan: 9, content: 'autocannon overallRate, 10 conns (each sends its per-second quota back to back: bursty) — for reference' }]);
    for (const who of WHO) {
      const l = a[who];
      const share = r.cpu.fixedRateAutocannon?.[who];
      f.push([LABEL[who], l.reqPerSec.toFixed(0), ms(l.latency.p50Ms), ms(l.latency.p99Ms), signed(l.latency.p50Ms - a.direct.latency.p50Ms), x(ratio(l.latency.p99Ms, a.passthrough.latency.p99Ms)), us(cpuPerRequestUs(share, who, l.ok + l.non2xx)), failures(l), pct(share?.otherPct)]);
    }
  }
  parts.push(
    f.toString(),
    perRound(r, 'fixedRate', [
      ['open loop, gateway p50 − direct p50', (gw, ref) => signed(gw.p50Ms - ref.direct.p50Ms), ' ms'],
      ['gateway p99 ÷ pass-through p99', (gw, ref) => x(ratio(gw.p99Ms, ref.passthrough.p99Ms)), ''],
    ]),
  );

  const s = new Table({ head: ['3. stream, 10 ms between chunks', 'TTFB p50 ms', 'TTFB p99 ms', 'TTFB p50 − pass-through', 'stream p50 ms', 'streams', 'CPU µs/stream', 'failed', 'other load'], ...PLAIN });
  for (const who of WHO) {
    const l = r.streaming[who];
    const share = r.cpu.streaming?.[who];
    s.push([LABEL[who], ms(l.ttfb.p50Ms), ms(l.ttfb.p99Ms), signed(l.ttfb.p50Ms - r.streaming.passthrough.ttfb.p50Ms), ms(l.total.p50Ms), String(l.streams), us(cpuPerRequestUs(share, who, l.streams + l.errors)), String(l.errors + l.incomplete), pct(share?.otherPct)]);
  }
  parts.push(s.toString(), perRound(r, 'streaming', [['gateway − pass-through TTFB p50', (gw, ref) => signed((gw.ttfbP50Ms ?? NaN) - (ref.passthrough.ttfbP50Ms ?? NaN)), ' ms']]));

  const m = new Table({ head: ['4. RSS with open streams', 'RSS at start MB', 'RSS before MB', 'RSS peak MB', 'KB per stream', 'open / requested', 'failed'], ...PLAIN });
  for (const who of ['passthrough', 'gateway'] as const) {
    const l = r.memory[who];
    if (!l) continue;
    const per = l.rssPeakBytes !== undefined && l.rssBeforeBytes !== undefined ? ((l.rssPeakBytes - l.rssBeforeBytes) / 1024 / l.requested).toFixed(1) : '—';
    m.push([LABEL[who], mb(l.rssIdleStartBytes), mb(l.rssBeforeBytes), mb(l.rssPeakBytes), per, `${l.minOpenWhileSampling} / ${l.requested}`, String(l.failed)]);
  }
  const gw = r.memory.gateway;
  const pt = r.memory.passthrough;
  if (gw?.rssPeakBytes !== undefined && pt?.rssPeakBytes !== undefined) {
    m.push([{ colSpan: 7, content: `gateway peak ÷ pass-through peak: ${x(ratio(gw.rssPeakBytes, pt.rssPeakBytes))}` }]);
  }
  parts.push(m.toString());

  const g = new Table({ head: ['target (issue 2)', 'gateway', 'limit', 'result'], ...PLAIN });
  for (const verdict of v) {
    g.push([verdict.target, `${verdict.measured} ${verdict.unit}`, `${verdict.limit} ${verdict.unit}`, verdict.pass ? 'PASS' : `FAIL${verdict.note ? ` (${verdict.note})` : ''}`]);
  }
  parts.push(g.toString());
  return parts.join('\n');
}
