import t from 'tap';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { judgeRequest, parseJudgement } from '../../src/eval/judge.js';
import { runEval } from '../../src/eval/runner.js';
import type { EvalCase, JudgeCheckSpec, Suite } from '../../src/eval/suite.js';

const spec: JudgeCheckSpec = { type: 'llm-rubric', name: 'helpful', rubric: 'Is it helpful?', labels: { good: 1, meh: 0.5, bad: 0 } };

t.test('judge request: temperature 0, structured output, blind to the model', (t) => {
  const body = judgeRequest({ ...spec, includeReference: true }, { output: 'the answer', task: 'the task', reference: ['x'] }, 'judge-route');
  t.equal(body.temperature, 0);
  t.match(body.response_format, { type: 'json_schema', json_schema: { schema: { properties: { label: { enum: ['good', 'meh', 'bad'] } } } } });
  const text = JSON.stringify(body.messages);
  t.match(text, /the answer/);
  t.match(text, /<reference>/);
  t.notMatch(text, /champion|challenger|variant/i, 'no hint of which model answered');
  t.end();
});

t.test('judge answers: labels map to scores, anything else is invalid (never 0)', (t) => {
  t.same(parseJudgement(spec, '{"label":"good","reason":"clear"}'), { result: 'pass', score: 1, label: 'good', reason: 'clear' });
  t.same(parseJudgement(spec, '```json\n{"label":"bad","reason":"wrong"}\n```'), { result: 'fail', score: 0, label: 'bad', reason: 'wrong' });
  t.equal(parseJudgement(spec, '{"label":"meh"}').result, 'pass', '0.5 is the pass line');
  const notJson = parseJudgement(spec, 'I think it is good');
  t.equal(notJson.result, 'invalid');
  t.equal(notJson.score, null);
  t.equal(parseJudgement(spec, '{"label":"excellent"}').result, 'invalid', 'unknown label');
  t.end();
});

/** A faithful-enough gateway: answers the model under test with fixed content and the judge per case. */
function fakeGateway(): Promise<{ url: string; judged: string[]; close: () => Promise<void> }> {
  const judged: string[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      const body = JSON.parse(raw) as { model: string; messages: { content: string }[] };
      const prompt = body.messages.map((m) => m.content).join('\n');
      let content: string;
      if (body.model === 'judge') {
        judged.push(prompt);
        content = prompt.includes('<answer>\nanswer to garbage') ? 'cannot decide' : '{"label":"good","reason":"ok"}';
      } else content = `answer to ${body.messages[body.messages.length - 1]?.content ?? ''}`;
      res.writeHead(200, {
        'content-type': 'application/json',
        'x-bellwether-cost-usd': '0.001',
        'x-bellwether-attempts': '1',
        'x-bellwether-model': `${body.model}-model`,
        'x-bellwether-request-id': `req-${judged.length}`,
      });
      res.end(JSON.stringify({ choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }], usage: { completion_tokens: 5 } }));
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({ url: `http://127.0.0.1:${port}`, judged, close: () => new Promise<void>((r) => server.close(() => r())) });
    }),
  );
}

const suite = (maxInvalidFraction: number): Suite => ({
  file: 'suite.yaml', dir: '.', name: 'judged', datasets: [], prompt: { params: {} },
  variants: [{ name: 'only', model: 'demo' }],
  gates: [],
  dimensions: [{ name: 'helpfulness', weight: 1, checks: [spec] }],
  passThreshold: 0.5,
  economics: { monthlyVolume: 10, retry: { maxAttempts: 1, on: 'error' } },
  decision: { nonInferiorityMargin: 0.05, alpha: 0.05, block: { criticalRegression: true } },
  judge: { model: 'judge', maxInvalidFraction },
  run: { concurrency: 2, timeoutMs: 5000, seed: 1 },
});

const cases: EvalCase[] = ['one', 'two', 'three', 'garbage'].map((id) => ({
  id, difficulty: 'easy', tags: [], critical: false, split: 'regression', sources: { input: id },
  request: { messages: [{ role: 'user', content: id }], params: {} }, origin: 'handwritten', file: 'x',
}));

t.test('runner: judge invalids are counted, and too many make the run incomplete', async (t) => {
  const gw = await fakeGateway();
  t.teardown(gw.close);
  const strict = await runEval({ suite: suite(0.1), cases, split: 'regression', url: gw.url, outDir: mkdtempSync(join(tmpdir(), 'bw-judge-')), progress: false });
  t.equal(strict.status, 'incomplete');
  t.match(strict.incompleteReasons[0], /1 of 4 judge answers invalid/);
  const garbage = strict.cases.find((c) => c.caseId === 'garbage');
  t.equal(garbage?.score.passed, null, 'unscored, not failed');
  t.equal(strict.summary.only?.scored, 3);
  t.equal(strict.summary.only?.passed, 3);
  t.ok(gw.judged.every((p) => !p.includes('demo-model')), 'the judge never sees the model name');

  const lenient = await runEval({ suite: suite(0.5), cases, split: 'regression', url: gw.url, outDir: mkdtempSync(join(tmpdir(), 'bw-judge-')), progress: false });
  t.equal(lenient.status, 'complete');
});

t.test('a label that is only an inherited object property is invalid', (t) => {
  // `label in spec.labels` accepted "constructor" and "toString": the score became a function
  // and the check a silent "fail" instead of an invalid judgement.
  for (const label of ['constructor', 'toString', '__proto__']) {
    const o = parseJudgement(spec, JSON.stringify({ label, reason: 'x' }));
    t.equal(o.result, 'invalid', label);
    t.equal(o.score, null, label);
  }
  t.end();
});
