// CPU accounting from /proc (Linux): how much CPU each bench process used during a measurement, and how
// much the rest of the machine used. A shared 2-core box makes wall-clock numbers noisy; CPU time per
// request of the proxy under test is the figure least disturbed by other processes, and "other" shows
// when a measurement was disturbed. Elsewhere the meter reports nothing (all undefined).
import { readFileSync } from 'node:fs';
import { cpus } from 'node:os';

const TICK_MS = 10; // USER_HZ is 100 on every mainstream Linux kernel

export interface CpuShare {
  /** CPU milliseconds used by each named process (or thread) during the measurement. */
  processMs: Record<string, number>;
  /** Share of the whole machine (all cores) used by processes that are not part of the bench, in %. */
  otherPct: number | undefined;
  wallMs: number;
}

interface Snapshot {
  at: number;
  machineBusy: number | undefined;
  machineTotal: number | undefined;
  process: Record<string, number | undefined>;
}

function machine(): { busy: number; total: number } | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
    const f = line.trim().split(/\s+/).slice(1, 9).map(Number);
    const total = f.reduce((a, b) => a + b, 0);
    const idle = (f[3] ?? 0) + (f[4] ?? 0);
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}

/** A process, or one thread of it (Linux: a thread id; the main thread's is the process id). */
export type CpuSubject = number | { pid: number; tid: number };

function ticks(subject: CpuSubject): number | undefined {
  const path = typeof subject === 'number' ? `/proc/${subject}/stat` : `/proc/${subject.pid}/task/${subject.tid}/stat`;
  try {
    const stat = readFileSync(path, 'utf8');
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(rest[11]) + Number(rest[12]);
  } catch {
    return undefined;
  }
}

export class CpuMeter {
  constructor(private readonly pids: Record<string, CpuSubject>) {}

  snapshot(): Snapshot {
    const m = machine();
    return {
      at: performance.now(),
      machineBusy: m?.busy,
      machineTotal: m?.total,
      process: Object.fromEntries(Object.entries(this.pids).map(([name, pid]) => [name, ticks(pid)])),
    };
  }

  since(start: Snapshot): CpuShare {
    const end = this.snapshot();
    const processMs: Record<string, number> = {};
    let own = 0;
    for (const name of Object.keys(this.pids)) {
      const a = start.process[name];
      const b = end.process[name];
      if (a === undefined || b === undefined) continue;
      processMs[name] = (b - a) * TICK_MS;
      if (typeof this.pids[name] === 'number') own += b - a; // a thread is already in its process
    }
    let otherPct: number | undefined;
    if (start.machineBusy !== undefined && end.machineBusy !== undefined && start.machineTotal !== undefined && end.machineTotal !== undefined) {
      const total = end.machineTotal - start.machineTotal;
      const other = Math.max(0, end.machineBusy - start.machineBusy - own);
      otherPct = total > 0 ? Math.round((1000 * other) / total) / 10 : undefined;
    }
    return { processMs, otherPct, wallMs: Math.round(end.at - start.at) };
  }
}

/**
 * One share for a measurement taken in rounds: CPU and wall time add up (so CPU per request stays total
 * CPU ÷ total requests), and other load is weighted by each round's wall time.
 */
export function combineShares(parts: readonly CpuShare[]): CpuShare {
  const processMs: Record<string, number> = {};
  let wallMs = 0;
  let otherWeighted = 0;
  let otherWall = 0;
  for (const part of parts) {
    for (const [name, ms] of Object.entries(part.processMs)) processMs[name] = (processMs[name] ?? 0) + ms;
    wallMs += part.wallMs;
    if (part.otherPct !== undefined) {
      otherWeighted += part.otherPct * part.wallMs;
      otherWall += part.wallMs;
    }
  }
  return { processMs, otherPct: otherWall > 0 ? Math.round((10 * otherWeighted) / otherWall) / 10 : undefined, wallMs };
}

export const CORES = cpus().length;
