// Server-sent events from an upstream body, parsed incrementally (no buffering of the whole stream).
import { createParser, type EventSourceMessage } from 'eventsource-parser';

export async function* parseSse(body: AsyncIterable<Uint8Array | string>): AsyncGenerator<EventSourceMessage> {
  const pending: EventSourceMessage[] = [];
  const parser = createParser({ onEvent: (event) => pending.push(event) });
  const decoder = new TextDecoder();
  for await (const chunk of body) {
    parser.feed(typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true }));
    if (pending.length > 0) {
      for (const event of pending) yield event;
      pending.length = 0;
    }
  }
  parser.feed(decoder.decode());
  for (const event of pending) yield event;
}
