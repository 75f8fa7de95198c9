// The "minimal gateway" baseline: a node:http server that reads the request body (as any gateway must
// before it can route), forwards it to one upstream with an undici Pool (keep-alive) and pipes the
// response back chunk by chunk as it arrives, with backpressure. No JSON parsing, no routing, no
// logging, no metrics — the floor any real gateway is compared against. Chunks are written by hand
// rather than with stream.pipeline, whose per-request machinery cost noticeably more CPU per request
// on small answers in a side test. argv[2]: JSON
// `[{ "name": "fast", "upstream": "http://127.0.0.1:1234", "connections": 128 }, ...]`; one listening
// port per entry.
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type OutgoingHttpHeaders, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
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
  const forward = (req: IncomingMessage, res: ServerResponse, body: Buffer): void => {
    const headers = { 'content-type': req.headers['content-type'] ?? 'application/json' };
    pool
      .request({ method: (req.method ?? 'GET') as Dispatcher.HttpMethod, path: req.url ?? '/', headers, body })
      .then((upstream) => {
        res.writeHead(upstream.statusCode, responseHeaders(upstream.headers));
        const source = upstream.body;
        source.on('data', (chunk: Buffer) => {
          if (!res.write(chunk)) source.pause();
        });
        res.on('drain', () => source.resume());
        source.on('end', () => res.end());
        source.on('error', () => res.destroy());
        res.on('close', () => {
          if (!source.readableEnded) source.destroy();
        });
      })
      .catch((err: unknown) => {
        if (res.headersSent) return void res.destroy();
        res.writeHead(502, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: String(err), type: 'api_error' } }));
      });
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => forward(req, res, chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)));
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
