// How every admin-API command finds the gateway: --url / $BELLWETHER_URL, --token /
// $BELLWETHER_ADMIN_TOKEN, resolved when the command runs (not when the program is built).
import type { Command } from 'commander';
import { AdminClient } from '../admin/client.js';

export interface ConnectionOptions {
  url?: string;
  token?: string;
}

export function withConnection(cmd: Command): Command {
  return cmd
    .option('--url <url>', 'gateway base URL (default: $BELLWETHER_URL or http://127.0.0.1:8080)')
    .option('--token <token>', 'admin token (default: $BELLWETHER_ADMIN_TOKEN)');
}

export function resolveConnection(opts: ConnectionOptions): { url: string; token: string | undefined } {
  return {
    url: (opts.url ?? process.env.BELLWETHER_URL ?? 'http://127.0.0.1:8080').replace(/\/+$/, ''),
    token: opts.token ?? process.env.BELLWETHER_ADMIN_TOKEN,
  };
}

export function adminClient(opts: ConnectionOptions): AdminClient {
  const { url, token } = resolveConnection(opts);
  return new AdminClient(url, token);
}
