// `bellwether dataset list|export`: the datasets sampled from live traffic, over the admin API.
import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { Transform, Writable } from 'node:stream';
import cliProgress from 'cli-progress';
import { Command, Option } from 'commander';
import Table from 'cli-table3';
import { AdminApiError } from '../admin/client.js';
import { adminClient, withConnection, type ConnectionOptions } from './admin-connection.js';
import type { DatasetInfo } from '../sampling/dataset-store.js';

interface Common extends ConnectionOptions {
  json?: boolean;
}

interface ExportOptions extends Common {
  variant?: string;
  outcome?: string;
  tags?: string;
  since?: string;
  until?: string;
  limit?: string;
  out?: string;
  progress: boolean;
}

export function datasetCommand(): Command {
  const dataset = new Command('dataset').description('datasets sampled from live traffic (redacted)');
  withConnection(dataset.command('list'))
    .description('list datasets with record counts')
    .option('--json', 'machine-readable output')
    .action(async (opts: Common) => {
      await guard(async () => {
        const res = await adminClient(opts).get<{ datasets: DatasetInfo[] }>('/datasets');
        if (opts.json) return void process.stdout.write(`${JSON.stringify(res, null, 2)}\n`);
        const table = new Table({ head: ['dataset', 'records', 'bytes', 'updated'], style: { head: [], border: [] } });
        for (const d of res.datasets) table.push([d.name, d.records, d.bytes ?? '', d.updatedAt ?? '']);
        process.stdout.write(`${res.datasets.length === 0 ? 'no datasets yet (set routes.<name>.sampling.rate)' : table.toString()}\n`);
      });
    });

  withConnection(dataset.command('export'))
    .description('stream a dataset as JSONL (one case per line) to stdout or --out')
    .argument('<name>', 'dataset name (the route)')
    .addOption(new Option('--variant <variant>').choices(['champion', 'challenger', 'shadow']))
    .addOption(new Option('--outcome <outcome>').choices(['success', 'error']))
    .option('--tags <tags>', 'comma-separated tags that must all be present')
    .option('--since <iso>', 'sampled at or after (ISO 8601)')
    .option('--until <iso>', 'sampled at or before (ISO 8601)')
    .option('--limit <n>', 'at most n records (oldest first)')
    .option('--out <file>', 'write to a file instead of stdout')
    .option('--no-progress', 'no progress bar while writing --out')
    .action(async (name: string, opts: ExportOptions) => {
      await guard(async () => {
        const query = new URLSearchParams();
        for (const key of ['variant', 'outcome', 'tags', 'since', 'until', 'limit'] as const) {
          const value = opts[key];
          if (value !== undefined) query.set(key, value);
        }
        const path = `/datasets/${encodeURIComponent(name)}/export${query.size > 0 ? `?${query}` : ''}`;
        // Checked before anything is written: a login page must not land in --out as the dataset.
        const body = await adminClient(opts).stream(path, 'application/x-ndjson');
        // `| head` closing the pipe early is a normal way to stop reading, not an error.
        process.stdout.on('error', (err: NodeJS.ErrnoException) => {
          if (err.code === 'EPIPE') process.exit(0);
          throw err;
        });
        const sink = opts.out ? createWriteStream(opts.out) : new Writable({ write: (chunk, _enc, cb) => (process.stdout.write(chunk) ? cb() : process.stdout.once('drain', cb)) });
        const tally = new Tally(opts.out !== undefined && opts.progress && process.stderr.isTTY === true ? name : undefined);
        await pipeline(body, tally, sink)
          .catch((err: NodeJS.ErrnoException) => {
            // fs errors carry a syscall (open, write); anything else is the download breaking off.
            throw new CliError(opts.out && err.syscall ? `cannot write ${opts.out}: ${err.message}` : `export of "${name}" interrupted: ${err.message}`);
          })
          .finally(() => tally.stop());
        // stdout is the data when there is no --out; with one, say what landed where.
        if (opts.out) process.stderr.write(`exported ${tally.records} record(s), ${tally.bytes} bytes, to ${opts.out}\n`);
      });
    });
  return dataset;
}

/**
 * Counts the JSONL passing through (one record per line) and, on a terminal, shows it: an export can
 * run for minutes, and the total is not known before the last line (filters apply on the server).
 */
class Tally extends Transform {
  records = 0;
  bytes = 0;
  private readonly bar: cliProgress.SingleBar | undefined;

  constructor(name: string | undefined) {
    super();
    this.bar = name === undefined ? undefined : new cliProgress.SingleBar({ format: `export ${name}: {value} records, {mb} MB`, stream: process.stderr, noTTYOutput: false }, cliProgress.Presets.shades_classic);
    this.bar?.start(0, 0, { mb: '0.0' });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null, data?: Buffer) => void): void {
    for (let at = chunk.indexOf(0x0a); at !== -1; at = chunk.indexOf(0x0a, at + 1)) this.records++;
    this.bytes += chunk.length;
    this.bar?.update(this.records, { mb: (this.bytes / 1e6).toFixed(1) });
    done(null, chunk);
  }

  stop(): void {
    this.bar?.stop();
  }
}

/** A failure that is the user's environment, not a bug: printed as one line, exit 1. */
class CliError extends Error {}

async function guard(fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    if (err instanceof CliError) {
      process.stderr.write(`bellwether: ${err.message}\n`);
      process.exitCode = 1;
      return;
    }
    if (err instanceof AdminApiError) {
      process.stderr.write(`bellwether: ${err.message}${err.status ? ` (HTTP ${err.status})` : ''}\n`);
      process.exitCode = 1;
      return;
    }
    throw err;
  }
}
