// The "minimal gateway" baseline: a node:http server that forwards each request to one upstream with an
// undici Pool (keep-alive) and pipes the response back, chunk by chunk. No parsing, no routing, no
// logging, no metrics — the floor any real gateway is compared against. argv[2]: JSON
// `[{ "name": "fast", "upstream": "http://127.0.0.1:1234", "connections": 128 }, ...]`; one listening
// port per entry.
import { createServer, type IncomingHttpHeaders, type OutgoingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream';
import { Pool, type Dispatcher } from 'undici';
import { exitWithParent, sendReady } from './ipc.js';

export interface PassthroughSpec {
  name: string;
  upstream: string;
  connections: number;
}

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'te', 'trailer']);

function responseHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
  }
  return out;
}

function passthrough(spec: PassthroughSpec): { server: Server; pool: Pool } {
  const pool = new Pool(spec.upstream, { connections: spec.connections, keepAliveTimeout: 30_000, headersTimeout: 0, bodyTimeout: 0 });
  const server = createServer((req, res) => {
    const headers: Record<string, string> = { 'content-type': req.headers['content-type'] ?? 'application/json' };
    if (req.headers['content-length'] !== undefined) headers['content-length'] = req.headers['content-length'];
    pool
      .request({ method: (req.method ?? 'GET') as Dispatcher.HttpMethod, path: req.url ?? '/', headers, body: req })
      .then((upstream) => {
        res.writeHead(upstream.statusCode, responseHeaders(upstream.headers));
        pipeline(upstream.body, res, () => undefined);
      })
      .catch((err: unknown) => {
        if (res.headersSent) return void res.destroy();
        res.writeHead(502, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: String(err), type: 'api_error' } }));
      });
  });
  server.keepAliveTimeout = 60_000;
  return { server, pool };
}

const specs = JSON.parse(process.argv[2] ?? '[]') as PassthroughSpec[];
const proxies = specs.map(passthrough);
await Promise.all(proxies.map(({ server }) => new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))));
exitWithParent(async () => {
  for (const { server } of proxies) server.closeAllConnections();
  await Promise.all(proxies.map(({ server, pool }) => Promise.all([new Promise<void>((resolve) => server.close(() => resolve())), pool.close()])));
});
sendReady(Object.fromEntries(specs.map((s, i) => [s.name, `http://127.0.0.1:${(proxies[i]?.server.address() as AddressInfo).port}`])));
