// The small HTTP plumbing both fake upstreams (OpenAI, Anthropic) share.
import type { IncomingMessage, ServerResponse } from 'node:http';

import { setTimeout as sleep } from 'node:timers/promises';

/** Aborts when the client's connection closes: a real server stops working for a client that left. */
export function clientGone(res: ServerResponse): AbortSignal {
  const gone = new AbortController();
  res.once('close', () => gone.abort());
  return gone.signal;
}

/**
 * Waits `ms` unless the client leaves first; false if it left. Without this an injected 60 s stall
 * outlived its request and kept the test process alive for the rest of the minute.
 */
export async function pause(ms: number, gone: AbortSignal): Promise<boolean> {
  try {
    await sleep(ms, undefined, { signal: gone });
    return true;
  } catch {
    return false;
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
