// SSE bodies are decoded chunk by chunk: whatever the chunking, the text is the body's, whole
// characters only, without a leading byte-order mark; parseSse yields the same events either way.
// A chat chunk waits to be parsed only when nothing in it can be an error or a usage report.
import t from 'tap';
import { DeferredChunk, SseText, canDefer, parseSse } from '../../src/providers/sse.js';

const BODY = 'data: {"content":"Žluťoučký kůň 请 😀"}\n\nevent: done\ndata: [DONE]\n\n';
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

function decodeInTwo(bytes: Buffer, cut: number): string {
  const text = new SseText();
  return text.write(bytes.subarray(0, cut)) + text.write(bytes.subarray(cut)) + text.end();
}

t.test('every split point gives the same text, BOM dropped', async (t) => {
  for (const bytes of [Buffer.from(BODY), Buffer.concat([BOM, Buffer.from(BODY)])]) {
    const wrong: number[] = [];
    for (let cut = 0; cut <= bytes.length; cut++) if (decodeInTwo(bytes, cut) !== BODY) wrong.push(cut);
    t.same(wrong, [], `${bytes.length} bytes, no split point decodes differently`);
  }
  const text = new SseText();
  t.equal(text.write(Buffer.from('\ufeffa')) + text.write(Buffer.from('\ufeffb')), 'a\ufeffb', 'only a leading BOM is dropped');
});

t.test('parseSse: the events of a body split inside a character and inside the BOM', async (t) => {
  const bytes = Buffer.concat([BOM, Buffer.from(BODY)]);
  const cut = bytes.indexOf(Buffer.from('😀')) + 1;
  async function* chunks(): AsyncGenerator<Uint8Array> {
    yield bytes.subarray(0, 1);
    yield bytes.subarray(1, cut);
    yield bytes.subarray(cut);
  }
  const events = [];
  for await (const event of parseSse(chunks())) events.push({ event: event.event, data: event.data });
  t.same(events, [
    { event: undefined, data: '{"content":"Žluťoučký kůň 请 😀"}' },
    { event: 'done', data: '[DONE]' },
  ]);
});

t.test('canDefer: only a plain chunk without usage or error waits to be parsed', async (t) => {
  const chunk = (extra: Record<string, unknown> = {}): string =>
    JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content: 'Hi "usage" \\"type\\"' }, finish_reason: null }], ...extra });
  const yes = (data: string) => t.ok(canDefer({ data, event: undefined, id: undefined }), data);
  const no = (data: string, why: string, event?: string) => t.notOk(canDefer({ data, event, id: undefined }), why);
  yes(chunk());
  yes(chunk({ usage: null }));
  no(chunk({ usage: { prompt_tokens: 3, completion_tokens: 1, total_tokens: 4 } }), 'a usage report is priced at once');
  no(chunk({ usage: null, x: { usage: 1 } }), 'a second "usage" key: read at once rather than guess which is which');
  no(JSON.stringify({ error: { message: 'overloaded', code: 'server_error' } }), 'an error ends the stream at once');
  no(JSON.stringify({ type: 'response.output_text.delta', delta: 'x' }), 'typed events (Responses API, tool calls) are read at once');
  no(chunk(), 'a named event (event: error) is read at once', 'error');
  no('42', 'not an object');
  no(' {"choices":[]}', 'not starting with the object');
  no('[DONE]', 'not an object');
});

t.test('DeferredChunk parses once, on first read; anything but an object reads as undefined', async (t) => {
  const event = new DeferredChunk('{"choices":[{"index":0,"delta":{"content":"Hi"}}]}');
  t.equal(event.deferred, true);
  const first = event.json;
  t.same(first, { choices: [{ index: 0, delta: { content: 'Hi' } }] });
  t.equal(event.json, first, 'the same object on every read');
  t.equal(new DeferredChunk('{"choices":').json, undefined, 'bad JSON');
  t.equal(new DeferredChunk('{').json, undefined);
});
