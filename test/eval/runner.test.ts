import t from 'tap';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runEval } from '../../src/eval/runner.js';
import type { EvalCase, Suite } from '../../src/eval/suite.js';

/** Answers every request, except that it drops the connection for case "two" while `flaky` is set. */
async function gateway() {
  const state = { flaky: true, calls: 0, bodies: [] as Record<string, unknown>[], headers: [] as (string | undefined)[] };
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      const body = JSON.parse(raw) as { messages: { content: string }[] };
      const text = body.messages[0]?.content ?? '';
      if (state.flaky && text === 'two') return void req.socket.destroy();
      state.calls++;
      state.bodies.push(body);
      state.headers.push(req.headers['x-bellwether-variant'] as string | undefined);
      res.writeHead(200, { 'content-type': 'application/json', 'x-bellwether-cost-usd': '0.002', 'x-bellwether-attempts': '2', 'x-bellwether-model': 'm-1', 'x-bellwether-request-id': `id-${state.calls}` });
      res.end(JSON.stringify({ choices: [{ message: { content: text === 'bad' ? 'not json' : '{"ok":true}' }, finish_reason: 'stop' }], usage: { completion_tokens: 3 } }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, state, close: () => new Promise<void>((r) => server.close(() => r())) };
}

const suite: Suite = {
  file: 'suite.yaml', dir: '.', name: 'runner', datasets: [], prompt: { params: {} },
  variants: [{ name: 'champion', model: 'demo', forceVariant: 'champion' }],
  gates: [{ name: 'valid_json', type: 'is-json' }],
  dimensions: [{ name: 'finish', weight: 1, checks: [{ name: 'stopped', type: 'finish-reason', value: 'stop' }] }],
  passThreshold: 0.5,
  economics: { monthlyVolume: 1000, retry: { maxAttempts: 3, on: 'gate-failure' } },
  decision: { nonInferiorityMargin: 0.05, alpha: 0.05, block: { criticalRegression: true } },
  run: { concurrency: 2, timeoutMs: 5000, seed: 1 },
};
/** The fake gateway always answers with model m-1. */
const serving = () => 'm-1';
const cases: EvalCase[] = ['one', 'two', 'bad'].map((id) => ({
  id, difficulty: 'easy', tags: [], critical: false, split: 'regression', sources: { input: id },
  request: { messages: [{ role: 'user', content: id }], params: { temperature: 0 } }, origin: 'handwritten', file: 'x',
}));

t.test('headers → cost and attempts; retries count; an interrupted run resumes with live measurements', async (t) => {
  const gw = await gateway();
  t.teardown(gw.close);
  const out = mkdtempSync(join(tmpdir(), 'bw-runner-'));
  const first = await runEval({ suite, cases, split: 'regression', url: gw.url, outDir: out, progress: false, serving });
  t.equal(first.status, 'incomplete', 'a call that never reached the gateway makes the run incomplete');
  t.equal(gw.state.headers[0], 'champion', 'forced variant header sent');
  t.match(gw.state.bodies[0], { model: 'demo', temperature: 0, stream: false });
  const bad = first.cases.find((c) => c.caseId === 'bad');
  t.equal(bad?.calls.length, 3, 'gate failures re-asked up to maxAttempts');
  t.equal(bad?.score.passed, false);
  const one = first.cases.find((c) => c.caseId === 'one');
  t.match(one?.calls[0], { costUsd: 0.002, gatewayAttempts: 2, model: 'm-1', cached: false });

  gw.state.flaky = false;
  const callsBefore = gw.state.calls;
  const resumed = await runEval({ suite, cases, split: 'regression', url: gw.url, outDir: out, progress: false, serving });
  t.equal(resumed.runId, first.runId, 'same run, resumed');
  t.equal(resumed.status, 'complete');
  t.equal(gw.state.calls - callsBefore, 1, 'only the missing call is made');
  t.equal(resumed.cases.find((c) => c.caseId === 'one')?.calls[0]?.cached, false, "this run's own answers keep their cost and latency");
  const s = resumed.summary.champion;
  t.equal(s?.passed, 2);
  // spend: one + two = 0.002 each, bad = 3 × 0.002; two successes
  t.ok(Math.abs((s?.economics.costPerSuccessUsd ?? 0) - 0.005) < 1e-12, 'all spend, retries included, over passing cases');

  const next = await runEval({ suite, cases, split: 'regression', url: gw.url, outDir: out, progress: false, serving });
  t.not(next.runId, first.runId, 'a finished run is not resumed');
  t.ok(next.cases.every((c) => c.calls.every((k) => k.cached)), 'a new run replays earlier answers as cached');
});

t.test('a model that does not answer in time fails its case; the run is still complete', async (t) => {
  // The gateway was reached and the request sent: a timeout is the model's failure, not
  // "could not reach the gateway" (which makes the run incomplete, exit 2, and hides a regression).
  const sockets = new Set<import('node:net').Socket>();
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      const text = (JSON.parse(raw) as { messages: { content: string }[] }).messages[0]?.content;
      const answer = () => {
        if (res.destroyed) return;
        res.writeHead(200, { 'content-type': 'application/json', 'x-bellwether-cost-usd': '0.001' });
        res.end(JSON.stringify({ choices: [{ message: { content: '{"ok":true}' }, finish_reason: 'stop' }] }));
      };
      // Ten times the run's timeout (unref'd: it must not keep the test process alive).
      if (text === 'slow') setTimeout(answer, 20_000).unref();
      else answer();
    });
  });
  server.on('connection', (s) => sockets.add(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // The fast case must be answered within the timeout too: 2 s is ample for a local call on a loaded machine.
  const quick: Suite = { ...suite, economics: { monthlyVolume: 1000, retry: { maxAttempts: 1, on: 'error' } }, run: { concurrency: 2, timeoutMs: 2000, seed: 1 } };
  const two: EvalCase[] = ['fast', 'slow'].map((id) => ({ ...(cases[0] as EvalCase), id, sources: { input: id }, request: { messages: [{ role: 'user', content: id }], params: {} } }));
  const r = await runEval({ suite: quick, cases: two, split: 'regression', url, outDir: mkdtempSync(join(tmpdir(), 'bw-runner-')), progress: false });
  t.equal(r.status, 'complete', r.incompleteReasons.join('; '));
  const slow = r.cases.find((c) => c.caseId === 'slow');
  t.equal(slow?.score.passed, false, 'no answer in time fails the case');
  t.match(slow?.calls[0]?.error, /timeout|timed out/i);
  t.equal(r.summary.champion?.callErrors, 1);
  t.equal(r.cases.find((c) => c.caseId === 'fast')?.score.passed, true);
});
