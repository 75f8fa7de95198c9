// The writer behind sampling: a repeated input is reported as a duplicate without being written twice.
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/load.js';
import { InlineSampleWriter } from '../../src/sampling/sample-writer.js';
import type { SampleSource } from '../../src/sampling/sample-source.js';

t.test('repeats are duplicates; the first is redacted and stored', async (t) => {
  const dir = t.testdir({});
  const config = parseConfig(
    `
providers: { sim: { type: simulator } }
models: { a: { provider: sim } }
routes: { demo: { champion: a, sampling: { rate: 1 } } }
datasets: { dir: ${dir} }
`,
    'x.yaml',
    {},
  );
  const results: string[] = [];
  const writer = new InlineSampleWriter(config, ['sk-secret-abcdefgh'], (_route, _variant, result, n) => results.push(`${result}x${n}`), { info() {}, warn() {}, error() {} });
  const source: SampleSource = {
    route: 'demo',
    requestId: 'r1',
    variant: 'champion',
    model: 'a',
    operation: 'chat',
    request: { model: 'demo', messages: [{ role: 'user', content: 'my key is sk-secret-abcdefgh' }] },
    answerText: JSON.stringify({ choices: [{ message: { role: 'assistant', content: 'noted' }, finish_reason: 'stop' }] }),
    latencyS: 0.1,
    ttftS: null,
    costUsd: null,
    errorClass: 'none',
    samplingRate: 1,
    tags: ['sampled'],
  };
  t.ok(writer.offer(source));
  t.ok(writer.offer({ ...source, requestId: 'r2' }));
  await writer.close(2000);
  t.same(results.sort(), ['duplicatex1', 'storedx1']);
  const files = readdirSync(join(dir, 'demo'));
  const lines = readFileSync(join(dir, 'demo', files[0] as string), 'utf8').trim().split('\n');
  t.equal(lines.length, 1);
  const record = JSON.parse(lines[0] as string) as { request: unknown; response: { content: string; finish_reason: string } };
  t.notMatch(JSON.stringify(record.request), 'sk-secret-abcdefgh', 'secret redacted');
  t.same(record.response, { content: 'noted', finish_reason: 'stop' }, 'answer summarised from the raw JSON in the writer');
});
