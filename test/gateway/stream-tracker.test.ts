// The chat stream tracker reads chunks late, in order: a stream that nobody asks about (no checks,
// samples or traces) parses none of its deferred chunks, even though the gateway's own usage report
// arrives parsed at the end; asked, the summary is the whole answer in order.
import t from 'tap';
import { DeferredChunk } from '../../src/providers/sse.js';
import type { StreamEvent } from '../../src/providers/types.js';
import { ChatTracker } from '../../src/gateway/stream-tracker.js';

/** A DeferredChunk that counts how often it was parsed. */
class CountedChunk extends DeferredChunk {
  static parsed = 0;
  override get json(): Record<string, unknown> | undefined {
    CountedChunk.parsed++;
    return super.json;
  }
}

function chunk(delta: Record<string, unknown>, finish: string | null = null): CountedChunk {
  return new CountedChunk(JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', choices: [{ index: 0, delta, finish_reason: finish }], usage: null }));
}

function usageChunk(): StreamEvent {
  const json = { id: 'c1', object: 'chat.completion.chunk', choices: [], usage: { prompt_tokens: 9, completion_tokens: 3, total_tokens: 12 } };
  return { data: JSON.stringify(json), json };
}

function stream(words: string[]): StreamEvent[] {
  return [chunk({ role: 'assistant', content: '' }), ...words.map((w) => chunk({ content: w })), chunk({}, 'stop'), usageChunk(), { data: '[DONE]' }];
}

t.test('a short stream nobody reads parses none of its chunks, usage report included', async (t) => {
  CountedChunk.parsed = 0;
  const tracker = new ChatTracker(false);
  const relayed = stream(['Hello', ', ', 'world']).filter((event) => tracker.observe(event));
  t.equal(CountedChunk.parsed, 0, 'no chunk parsed while relaying');
  t.ok(tracker.ended && tracker.complete, 'ended and complete on [DONE]');
  t.equal(CountedChunk.parsed, 0, 'still none after asking whether it is complete');
  t.equal(relayed.length, 6, 'the usage chunk the client did not ask for is dropped');
  t.same(tracker.summary, { content: 'Hello, world', toolCalls: [], finishReason: 'stop' }, 'the summary, once asked for, is the answer in order');
  t.equal(tracker.deltas, 3);
});

t.test('a client that asked for usage gets the usage chunk; chunks after a parsed one keep their order', async (t) => {
  const tracker = new ChatTracker(true);
  const events = [chunk({ content: 'a' }), usageChunk(), chunk({ content: 'b' }), chunk({}, 'length'), { data: '[DONE]' }];
  t.equal(events.filter((event) => tracker.observe(event)).length, 5);
  t.same(tracker.summary, { content: 'ab', toolCalls: [], finishReason: 'length' });
});

t.test('a long stream is read in batches, so what it holds unread stays bounded', async (t) => {
  CountedChunk.parsed = 0;
  const tracker = new ChatTracker(false);
  const words = Array.from({ length: 100 }, (_, i) => `w${i} `);
  for (const event of stream(words)) tracker.observe(event);
  t.ok(CountedChunk.parsed >= 64 && CountedChunk.parsed < 102, `${CountedChunk.parsed} of 102 chunks parsed before anyone asked`);
  t.equal(tracker.summary.content, words.join(''));
  t.equal(CountedChunk.parsed, 102, 'each chunk read once');
});
