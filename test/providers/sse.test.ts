// SSE bodies are decoded chunk by chunk: whatever the chunking, the text is the body's, whole
// characters only, without a leading byte-order mark; parseSse yields the same events either way.
import t from 'tap';
import { SseText, parseSse } from '../../src/providers/sse.js';

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
