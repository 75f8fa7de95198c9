// Server-sent events from an upstream body, parsed incrementally (no buffering of the whole stream).
import { StringDecoder } from 'node:string_decoder';
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import type { StreamEvent } from './types.js';
import { parseObject } from './json-object.js';

/**
 * An SSE body's bytes as text, chunk by chunk: a character split across chunks comes out whole, and a
 * leading byte-order mark is dropped (the SSE spec's decoding; eventsource-parser leaves it in).
 * StringDecoder rather than TextDecoder: a third of the CPU per chunk on Node 20 (312 vs 98 ns per
 * 250-byte chunk), and the gateway decodes every chunk of every stream it relays.
 */
export class SseText {
  private readonly decoder = new StringDecoder('utf8');
  private bomChecked = false;

  write(chunk: Uint8Array): string {
    return this.dropBom(this.decoder.write(chunk));
  }

  end(): string {
    return this.dropBom(this.decoder.end());
  }

  private dropBom(text: string): string {
    if (this.bomChecked || text.length === 0) return text;
    this.bomChecked = true;
    return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  }
}

export async function* parseSse(body: AsyncIterable<Uint8Array | string>): AsyncGenerator<EventSourceMessage> {
  const pending: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (event) => pending.push(event) });
  const text = new SseText();
  for await (const chunk of body) {
    parser.feed(typeof chunk === 'string' ? chunk : text.write(chunk));
    if (pending.length > 0) {
      for (const event of pending) yield event;
      pending.length = 0;
    }
  }
  parser.feed(text.end());
  for (const event of pending) yield event;
}

/**
 * Whether a chat chunk can wait to be parsed: a plain `data:` object with no error in it (which ends
 * the stream at once) and no usage report (priced at once, so a stream cut later is still priced),
 * told by substring tests on the raw text. A false "no" only means it is parsed now. Every chunk of a
 * chat stream used to be parsed as it arrived: spread over a stream's life among other requests'
 * work, each parse ran cache-cold, ~20 µs, the largest share of the gateway's CPU per stream (perf,
 * 2026-11-27). Deferred, they are parsed in batches when something reads the answer (checks,
 * samples, traces), and not at all when nothing does.
 */
export function canDefer(message: EventSourceMessage): boolean {
  const data = message.data;
  if (message.event !== undefined || data.charCodeAt(0) !== 0x7b /* { */) return false;
  if (data.includes('"error"') || data.includes('"type"')) return false;
  const usage = data.indexOf('"usage"');
  return usage === -1 || (data.startsWith('"usage":null', usage) && !data.includes('"usage"', usage + 7));
}

/** A chat chunk parsed when `json` is first read (see canDefer). */
export class DeferredChunk implements StreamEvent {
  readonly deferred = true;
  private parsed: Record<string, unknown> | undefined | null = null;

  constructor(readonly data: string) {}

  get json(): Record<string, unknown> | undefined {
    if (this.parsed === null) this.parsed = parseObject(this.data);
    return this.parsed;
  }
}
