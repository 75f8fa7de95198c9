// Summarises a V8 .cpuprofile (from `npm run bench -- --cpu-prof`): the frames and files where the
// gateway spent its own CPU time, and the inclusive time of the project's own functions.
// Standalone: `node dist/bench/profile-top.js <file.cpuprofile> [n]`.
import { existsSync, readFileSync } from 'node:fs';
import { SourceMap, type SourceMapPayload } from 'node:module';
import { dirname, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}

interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface Hot {
  frame: string;
  ms: number;
  percent: number;
}

export interface ProfileSummary {
  busyMs: number;
  idleMs: number;
  selfByFrame: Hot[];
  selfByFile: Hot[];
  /** Inclusive time of the project's own functions (src/ and bench/), at their TypeScript lines. */
  inclusiveProject: Hot[];
}

const IDLE = new Set(['(idle)', '(program)', '(garbage collector)']);

const maps = new Map<string, SourceMap | undefined>();

/** Compiled project frames (dist/**.js) are reported at their TypeScript source line via the .js.map. */
function original(frame: CallFrame): string | undefined {
  if (!frame.url.startsWith('file://') || !frame.url.includes('/dist/')) return undefined;
  const js = fileURLToPath(frame.url);
  if (!maps.has(js)) {
    const mapFile = `${js}.map`;
    maps.set(js, existsSync(mapFile) ? new SourceMap(JSON.parse(readFileSync(mapFile, 'utf8')) as SourceMapPayload) : undefined);
  }
  const entry = maps.get(js)?.findEntry(frame.lineNumber, frame.columnNumber);
  if (!entry || !('originalSource' in entry)) return undefined;
  const source = resolve(dirname(js), entry.originalSource.replace(/^file:\/\//, ''));
  return `${relative(process.cwd(), source)}:${entry.originalLine + 1}`;
}

function where(frame: CallFrame): string {
  const mapped = original(frame);
  if (mapped) return `${frame.functionName || '(anonymous)'} ${mapped}`;
  const file = frame.url.replace(/^file:\/\//, '').replace(/^.*\/node_modules\//, 'node_modules/');
  // V8 lines are 0-based.
  return `${frame.functionName || '(anonymous)'} ${file || '(native)'}${file ? `:${frame.lineNumber + 1}` : ''}`;
}

function fileOf(frame: CallFrame): string {
  const file = frame.url.replace(/^file:\/\//, '');
  const pkg = /\/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
  if (pkg?.[1]) return `node_modules/${pkg[1]}`;
  if (file.startsWith('node:')) return file;
  if (file.includes('/dist/')) return relative(process.cwd(), file.replace('/dist/', '/').replace(/\.js$/, '.ts'));
  return file || frame.functionName;
}

export function summariseProfile(profile: CpuProfile, top = 25): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, i) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));

  // Samples taken while the profiler serialises itself (under the bench's gateway-child) are not the
  // gateway's work.
  const profiler = new Set<number>();
  for (const n of profile.nodes) {
    for (let cur: number | undefined = n.id; cur !== undefined; cur = parent.get(cur)) {
      if (/\/bench\/gateway-child\.(js|ts)$/.test(byId.get(cur)?.callFrame.url ?? '')) {
        profiler.add(n.id);
        break;
      }
    }
  }
  let busy = 0;
  let idle = 0;
  const frame = new Map<string, number>();
  const file = new Map<string, number>();
  const inclusive = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    if (!node) continue;
    if (node.callFrame.functionName === '(idle)') {
      idle += us;
      continue;
    }
    if (profiler.has(id)) continue;
    busy += us;
    const key = where(node.callFrame);
    frame.set(key, (frame.get(key) ?? 0) + us);
    const f = IDLE.has(node.callFrame.functionName) ? node.callFrame.functionName : fileOf(node.callFrame);
    file.set(f, (file.get(f) ?? 0) + us);
    // Charge this sample to every distinct project function on its stack.
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const n = byId.get(cur);
      if (!n || !/\/dist\/(src|bench)\//.test(n.callFrame.url)) continue;
      const k = where(n.callFrame);
      if (seen.has(k)) continue;
      seen.add(k);
      inclusive.set(k, (inclusive.get(k) ?? 0) + us);
    }
  }
  const rank = (m: Map<string, number>): Hot[] =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, us]) => ({ frame: k, ms: Math.round(us / 1000), percent: Math.round((1000 * us) / Math.max(1, busy)) / 10 }));
  return { busyMs: Math.round(busy / 1000), idleMs: Math.round(idle / 1000), selfByFrame: rank(frame), selfByFile: rank(file), inclusiveProject: rank(inclusive) };
}

export function readProfile(path: string): CpuProfile {
  return JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
}

export function formatSummary(s: ProfileSummary, top = 25): string {
  const lines = [`CPU: ${s.busyMs} ms busy, ${s.idleMs} ms idle (percentages are of busy time)`];
  const block = (title: string, rows: Hot[]): void => {
    lines.push('', title);
    for (const r of rows.slice(0, top)) lines.push(`  ${r.percent.toFixed(1).padStart(5)} %  ${String(r.ms).padStart(6)} ms  ${r.frame}`);
  };
  block('self time by function:', s.selfByFrame);
  block('self time by file / package:', s.selfByFile);
  block('inclusive time, project functions:', s.inclusiveProject);
  return lines.join('\n');
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: node dist/bench/profile-top.js <file.cpuprofile> [top]\n');
    process.exit(2);
  }
  process.stdout.write(`${formatSummary(summariseProfile(readProfile(file), Number(process.argv[3] ?? 25)))}\n`);
}
