// `bellwether dataset list|export`: the datasets sampled from live traffic, over the admin API.
import { createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
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
        await pipeline(body, sink).catch((err: NodeJS.ErrnoException) => {
          // fs errors carry a syscall (open, write); anything else is the download breaking off.
          throw new CliError(opts.out && err.syscall ? `cannot write ${opts.out}: ${err.message}` : `export of "${name}" interrupted: ${err.message}`);
        });
      });
    });
  return dataset;
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
