// A faithful fake of OpenAI's HTTP API on loopback, for tests and the bench: real bodies, SSE framing,
// usage, error shapes and Retry-After, plus injected faults (slow headers, resets, cut or stalled
// streams). It plays the same plans as the in-process simulator (engine.ts).
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Simulation } from '../config/types.js';
import { embeddingsBody, planChat, type ChatRequestLike } from './engine.js';
import { chunkSequence, completionBody, errorBody, errorHeaders, statusErrorBody } from './wire.js';
import { clientGone, pause, readBody, sendJson } from './http-util.js';

export type Fault =
  | { kind: 'status'; status: number; retryAfter?: string; body?: unknown }
  | { kind: 'reset' }
  | { kind: 'slow-headers'; ms: number }
  | { kind: 'cut-stream'; afterChunks: number }
  | { kind: 'stall'; afterChunks: number; ms: number }
  | { kind: 'no-done' }
  /** An error inside a 200 stream after `afterChunks` chunks, framed as api.openai.com does: `data: {"error":{...}}`. */
  | { kind: 'stream-error'; afterChunks: number; error?: { message: string; type: string; code: string | null } };

export interface RecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown> | undefined;
}

export interface FakeUpstreamOptions {
  simulation?: Simulation;
  /** Required bearer token; requests without it get OpenAI's 401. */
  apiKey?: string;
  /** Keep the last N requests for assertions (0 disables recording, e.g. in the bench). */
  record?: number;
  host?: string;
  port?: number;
}

export class FakeUpstream {
  readonly requests: RecordedRequest[] = [];
  private readonly faults: Fault[] = [];
  private readonly server: Server;
  private readonly sockets = new Set<import('node:net').Socket>();
  url = '';

  constructor(private readonly options: FakeUpstreamOptions = {}) {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) sendJson(res, 500, { error: { message: String(err), type: 'server_error', code: null } });
        else res.destroy();
      });
    });
    this.server.keepAliveTimeout = 60_000;
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(this.options.port ?? 0, this.options.host ?? '127.0.0.1', resolve));
    const { port } = this.server.address() as AddressInfo;
    this.url = `http://127.0.0.1:${port}`;
    return this;
  }

  /** The next `count` chat requests get `fault` (in order, after earlier queued faults). */
  inject(fault: Fault, count = 1): void {
    for (let i = 0; i < count; i++) this.faults.push(fault);
  }

  clearFaults(): void {
    this.faults.length = 0;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    let body: Record<string, unknown> | undefined;
    if (raw.length > 0) {
      try {
        body = JSON.parse(raw) as Record<string, unknown>;
      } catch {
        return sendJson(res, 400, { error: { message: 'We could not parse the JSON body of your request.', type: 'invalid_request_error', param: null, code: null } });
      }
    }
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if ((this.options.record ?? 100) > 0) {
      this.requests.push({ method: req.method ?? 'GET', path: req.url ?? '/', headers: req.headers, body });
      if (this.requests.length > (this.options.record ?? 100)) this.requests.shift();
    }
    if (this.options.apiKey && req.headers.authorization !== `Bearer ${this.options.apiKey}`) {
      return sendJson(res, 401, { error: { message: 'Incorrect API key provided.', type: 'invalid_request_error', param: null, code: 'invalid_api_key' } });
    }
    if (req.method === 'GET' && path.endsWith('/models')) {
      return sendJson(res, 200, { object: 'list', data: [{ id: 'fake-model', object: 'model', created: 0, owned_by: 'bellwether' }] });
    }
    if (req.method === 'POST' && path.endsWith('/embeddings')) {
      return sendJson(res, 200, embeddingsBody(body ?? {}, String(body?.model ?? '')));
    }
    if (req.method === 'POST' && path.endsWith('/chat/completions')) return this.chat(body ?? {}, res);
    // Anything else echoes, so pass-through tests can see what reached the upstream.
    return sendJson(res, 200, { object: 'echo', method: req.method, path: req.url, body: body ?? null });
  }

  private async chat(body: Record<string, unknown>, res: ServerResponse): Promise<void> {
    const gone = clientGone(res);
    const fault = this.faults.shift();
    if (fault?.kind === 'reset') {
      res.socket?.destroy();
      return;
    }
    if (fault?.kind === 'status') {
      const headers = errorHeaders(fault.status, fault.retryAfter);
      return sendJson(res, fault.status, fault.body ?? statusErrorBody(fault.status, String(body.model ?? 'the requested model')), headers);
    }
    if (fault?.kind === 'slow-headers' && !(await pause(fault.ms, gone))) return;

    const plan = planChat(body as ChatRequestLike, this.options.simulation);
    if (plan.headerDelayMs > 0 && !(await pause(plan.headerDelayMs, gone))) return;
    if (plan.error) {
      const retryAfter = plan.error.retryAfterSeconds !== undefined ? String(plan.error.retryAfterSeconds) : undefined;
      const headers = errorHeaders(plan.error.status, retryAfter);
      return sendJson(res, plan.error.status, errorBody(plan), headers);
    }
    const model = String(body.model ?? 'fake-model');
    if (body.stream !== true) {
      if (!(await pause(plan.firstTokenMs + plan.interTokenMs * plan.pieces.length, gone))) return;
      return sendJson(res, 200, completionBody(plan, model));
    }
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' });
    res.flushHeaders();
    const includeUsage = (body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
    let sent = 0;
    for (const { delayMs, chunk } of chunkSequence(plan, model, includeUsage)) {
      if (delayMs > 0 && !(await pause(delayMs, gone))) return;
      if (res.destroyed) return;
      if (fault?.kind === 'cut-stream' && sent === fault.afterChunks) {
        res.socket?.destroy();
        return;
      }
      if (fault?.kind === 'stall' && sent === fault.afterChunks && !(await pause(fault.ms, gone))) return;
      if (fault?.kind === 'stream-error' && sent === fault.afterChunks) {
        const error = fault.error ?? { message: 'The server had an error while processing your request. Sorry about that!', type: 'server_error', code: null };
        return void res.end(`data: ${JSON.stringify({ error: { ...error, param: null } })}\n\n`);
      }
      res.write(`data: ${JSON.stringify(chunk)}\n\n`);
      sent++;
    }
    if (fault?.kind === 'no-done') return void res.end();
    res.end('data: [DONE]\n\n');
  }
}



