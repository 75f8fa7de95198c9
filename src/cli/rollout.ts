// `bellwether rollout status|set|pause|resume|promote|rollback|history`: the SRE's view of the admin
// API. Tables for people, `--json` for scripts, exit code 1 on any failure. Mutations always send the
// version the command just read, so a change someone else made in between is a 409, never overwritten.
import { Command, InvalidArgumentError, Option } from 'commander';
import Table from 'cli-table3';
import { AdminApiError, type AdminClient } from '../admin/client.js';
import { adminClient, withConnection } from './admin-connection.js';
import type { RouteView } from '../admin/rollouts.js';

export interface CliIO {
  out(text: string): void;
  err(text: string): void;
  /** Records the process exit code (tests capture it instead of exiting). */
  fail(code: number): void;
}

const processIO: CliIO = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  fail: (code) => {
    process.exitCode = code;
  },
};

interface CommonOptions {
  url?: string;
  token?: string;
  json?: boolean;
}
interface MutationOptions extends CommonOptions {
  reason: string;
  expectVersion?: number;
}

interface RoutesResponse {
  routes: RouteView[];
  store: { backend: string; reachable: boolean; stale: boolean; lastSyncAt: string | null };
}
interface HistoryEntry {
  at: string;
  actor: string;
  action: string;
  from: Partial<RouteView>;
  to: Partial<RouteView>;
  reason: string;
}
interface HistoryResponse {
  route: string;
  dropped: number;
  entries: HistoryEntry[];
}

const ACTIONS = {
  pause: 'pause the challenger: everyone gets the champion, the percent is kept; set is refused until resume',
  resume: 'resume a paused rollout at its percent',
  promote: 'make the challenger the champion for everyone (100 %)',
  rollback: 'send the challenger 0 % of traffic',
} as const;

export function rolloutCommand(io: CliIO = processIO): Command {
  const rollout = new Command('rollout').description('inspect and move rollouts on every replica (admin API)');

  common(rollout.command('status'), io)
    .description('show the rollout of every route, or of one')
    .argument('[route]', 'route name')
    .action(run(io, async (route: string | undefined, opts: CommonOptions) => {
      const client = adminClient(opts);
      if (route !== undefined) {
        const view = await client.get<RouteView>(`/routes/${encodeURIComponent(route)}`);
        return print(io, opts, view, () => routesTable([view]));
      }
      const res = await client.get<RoutesResponse>('/routes');
      return print(io, opts, res, () => `${routesTable(res.routes)}\n${storeLine(res.store)}`);
    }));

  mutation(rollout.command('set'), io)
    .description('set the challenger percent (0-100) and optionally the mode')
    .argument('<route>', 'route name')
    .argument('<percent>', 'challenger share, 0-100', parsePercent)
    .addOption(new Option('--mode <mode>', 'split: users get the challenger; shadow: copies only').choices(['split', 'shadow']))
    .action(run(io, async (route: string, percent: number, opts: MutationOptions & { mode?: string }) => {
      await mutate(io, opts, route, (client, path, version) =>
        client.put<RouteView>(`${path}/rollout`, { percent, ...(opts.mode ? { mode: opts.mode } : {}), reason: opts.reason, expectedVersion: version }),
      );
    }));

  for (const [action, description] of Object.entries(ACTIONS)) {
    mutation(rollout.command(action), io)
      .description(description)
      .argument('<route>', 'route name')
      .action(run(io, async (route: string, opts: MutationOptions) => {
        await mutate(io, opts, route, (client, path, version) => client.post<RouteView>(`${path}/${action}`, { reason: opts.reason, expectedVersion: version }));
      }));
  }

  common(rollout.command('history'), io)
    .description('who changed the rollout, when, how and why (newest first)')
    .argument('<route>', 'route name')
    .option('--limit <n>', 'entries to show (1-1000)', parseLimit, 20)
    .action(run(io, async (route: string, opts: CommonOptions & { limit: number }) => {
      const res = await adminClient(opts).get<HistoryResponse>(`/routes/${encodeURIComponent(route)}/history?limit=${opts.limit}`);
      return print(io, opts, res, () => historyTable(res));
    }));

  return rollout;
}

function common(cmd: Command, io: CliIO): Command {
  return withConnection(cmd)
    .option('--json', 'print JSON instead of tables')
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) });
}

function mutation(cmd: Command, io: CliIO): Command {
  return common(cmd, io)
    .requiredOption('--reason <text>', 'why (recorded in the audit log)', parseReason)
    .option('--expect-version <n>', 'fail unless the rollout is still at this version (default: the version just read)', parseVersion);
}


/** Reads the route (for its version and the before/after line), then changes it at that version. */
async function mutate(
  io: CliIO,
  opts: MutationOptions,
  route: string,
  send: (client: AdminClient, path: string, version: number) => Promise<RouteView>,
): Promise<void> {
  const client = adminClient(opts);
  const path = `/routes/${encodeURIComponent(route)}`;
  const before = await client.get<RouteView>(path);
  const after = await send(client, path, opts.expectVersion ?? before.version);
  print(io, opts, after, () => `${describeChange(before, after)}\n${routesTable([after])}`);
}

/** Wraps an action: API and connection errors become a message and exit code 1, never a stack trace. */
function run<A extends unknown[]>(io: CliIO, action: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    // Commander passes (...arguments, options, command); the options object is second to last.
    const opts = args.at(-2) as CommonOptions | undefined;
    try {
      await action(...args);
    } catch (err) {
      if (!(err instanceof AdminApiError)) throw err;
      if (opts?.json) io.out(`${JSON.stringify(jsonError(err), null, 2)}\n`);
      else io.err(`bellwether rollout: ${err.message}${hint(err)}\n`);
      io.fail(1);
    }
  };
}

/**
 * What `--json` prints for a failure: the admin API's own error body when there is one, else one in
 * the same shape saying what actually happened — a script must not read "connection_error" when the
 * gateway answered with a redirect, an HTML page or someone else's JSON.
 */
function jsonError(err: AdminApiError): unknown {
  const body = err.body as { error?: unknown } | undefined;
  if (typeof body === 'object' && body !== null && typeof body.error === 'object' && body.error !== null) return body;
  const type = err.status === 0 ? 'connection_error' : 'api_error';
  return { error: { message: err.message, type, code: err.code ?? `http_${err.status}`, status: err.status } };
}

function hint(err: AdminApiError): string {
  if (err.status === 401) return ' (set --token or BELLWETHER_ADMIN_TOKEN)';
  if (err.code === 'version_conflict') return ' (run `bellwether rollout status` to see the new state)';
  return '';
}

function print(io: CliIO, opts: CommonOptions, json: unknown, human: () => string): void {
  io.out(opts.json ? `${JSON.stringify(json, null, 2)}\n` : `${human()}\n`);
}

function percentText(v: RouteView): string {
  if (!v.challenger) return '-';
  return v.effectivePercent === v.percent ? `${v.percent}%` : `${v.percent}% (now ${v.effectivePercent}%)`;
}

function routesTable(views: RouteView[]): string {
  const table = new Table({ head: ['route', 'champion', 'challenger', 'percent', 'mode', 'state', 'version', 'updated'], style: { head: [], border: [] } });
  for (const v of views) {
    table.push([v.route, v.champion, v.challenger ?? '-', percentText(v), v.mode, v.state, v.version, `${v.updatedAt} by ${v.updatedBy}`]);
  }
  return table.toString();
}

function storeLine(store: RoutesResponse['store']): string {
  if (store.stale) return `state: ${store.backend}, STALE since ${store.lastSyncAt ?? 'start-up'}: this replica sends all traffic to the champion`;
  if (!store.reachable) return `state: ${store.backend}, unreachable: serving the last known rollout (synced ${store.lastSyncAt})`;
  return `state: ${store.backend}, in sync`;
}

function describeChange(before: RouteView, after: RouteView): string {
  const parts: string[] = [];
  for (const key of ['champion', 'challenger', 'percent', 'mode', 'state'] as const) {
    if (before[key] !== after[key]) parts.push(`${key} ${before[key] ?? '-'} → ${after[key] ?? '-'}`);
  }
  return `${after.route}: ${parts.length > 0 ? parts.join(', ') : 'no change'} (version ${before.version} → ${after.version}, by ${after.updatedBy})`;
}

function sideText(side: Partial<RouteView>): string {
  if (side.version === undefined) return '-';
  const challenger = side.challenger ? ` vs ${side.challenger} ${side.percent}% ${side.mode}` : '';
  return `v${side.version} ${side.state}: ${side.champion}${challenger}`;
}

function historyTable(res: HistoryResponse): string {
  const table = new Table({ head: ['at', 'actor', 'action', 'from', 'to', 'reason'], style: { head: [], border: [] }, wordWrap: true, colWidths: [null, null, null, 36, 36, 40] });
  for (const e of res.entries) table.push([e.at, e.actor, e.action, sideText(e.from), sideText(e.to), e.reason]);
  const dropped = res.dropped > 0 ? `\n(${res.dropped} older entries were dropped by the in-memory store)` : '';
  return `${table.toString()}${dropped}`;
}

function parsePercent(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > 100) throw new InvalidArgumentError('must be a number from 0 to 100');
  return n;
}

function parseLimit(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 1000) throw new InvalidArgumentError('must be an integer from 1 to 1000');
  return n;
}

function parseVersion(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer');
  return n;
}

function parseReason(value: string): string {
  if (value.trim() === '') throw new InvalidArgumentError('must say why');
  return value;
}
