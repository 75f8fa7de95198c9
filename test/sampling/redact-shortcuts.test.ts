// The redactor skips detectors whose cheap necessary condition fails, and skips copying what did not
// change. These shortcuts must never change a result: here the redactor is compared with the same
// detectors run unconditionally, over the adversarial corpus of redact.test.ts and random text built
// from the pieces detectors look for.
import t from 'tap';
import { createRedactor, createUnfilteredRedactor, type RedactorOptions } from '../../src/sampling/redact.js';

const OPTIONS: RedactorOptions = {
  secrets: ['web-app-7c1d2e3f4a5b', 'sk-proj-4f9aQ2xZ7bR1cD3eF5gH6iJ8kL0mN2oP', 'short'],
  patterns: [
    { name: 'employee_id', regex: String.raw`\bEMP-\d{6}\b` },
    { name: 'project', regex: 'project\\s+falcon', flags: 'i' },
    { name: 'empty', regex: 'x*' },
  ],
};
const fast = createRedactor(OPTIONS);
const reference = createUnfilteredRedactor(OPTIONS);

const CORPUS = [
  'key=web-app-7c1d2e3f4a5b;',
  'use sk-proj-4f9aQ2xZ7bR1cD3eF5gH6iJ8kL0mN2oP now',
  'sk-ant-api03-AbCdEfGhIjKlMnOpQrStUv-wxyz',
  'legacy sk-AbCdEfGhIjKlMnOpQrStUvWx',
  'aws AKIAIOSFODNN7EXAMPLE.',
  'aws AKIAABCDEFGHIJKLMNOP without digits',
  'gh ghp_abcdefghijklmnopqrstuvwxyz0123456789!',
  'github_pat_11ABCDEFG0123456789abcdefghijklmnopqrstuvwxyz',
  'Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig_1',
  'curl -H "authorization: bearer abc123def456"',
  'api_key=abc123def456&x=1',
  'X-API-KEY: "9f8e7d6c5b4a"',
  'the bearer instrument is payable',
  'mail john.doe+tag@example.co.uk.',
  '请联系john@example.com。谢谢',
  '«josé@exämple.de»',
  '📧a.b@sub.example.org👍',
  '\u200bzero@width.io\u200b',
  'メールはtaro@example.jpです',
  '请发邮件到info@例子.中国谢谢',
  '연락처: kim@도메인.한국 입니다',
  'user@localhost and @handle and a@b',
  'card 4111 1111 1111 1111 exp 12/29',
  'card 4111-1111-1111-1111',
  'card 5555555555554444',
  'amex 3782 822463 10005',
  'ref 4111111111111112',
  // Cards inside longer digit runs: the card detector tries its regex only at a run's start and
  // after its separators, and must find (and miss) exactly what the full scan does.
  'id 1-4111 1111 1111 1111',
  'id 7 4111-1111-1111-1111',
  'ids 0-5555555555554444 and 99 3782 822463 10005',
  'rejected first: 5 4111 1111 1111 1111 then 4111111111111111',
  '٣4111111111111111 and 4111111111111111٣',
  'dates 2024-01-15 2024-01-16 2024-01-17',
  'ts 1718900000000 and 1718900000018',
  'call +1 (415) 555-2671 now',
  'UK +44 20 7946 0958',
  'FR +33 1 23 45 67 89.',
  'DE +4930901820',
  '(415) 555-2671',
  '415-555-2671 or 415.555.2671 or 415 555 2671',
  '1-800-555-0199',
  'version 10.415.555.2671-beta',
  'math: +1 - 2 = -1 and +12 34',
  'uuid 123e4567-e89b-12d3-a456-426614174000',
  'badge EMP-123456 EMP-1234567',
  'About PROJECT Falcon.',
  '{"to":"jane@example.com","auth":{"api_key":"plain-looking-value","password":"hunter2hunter2"},"card":4111111111111111}',
  '{"contact":"jane\\u0040example.com"}',
  '{ "a": 1,\n  "b": [true, null, "plain"] }',
  '{"partial": "jane@example.com", "cut',
  '\u00a0{"x":"a@b.co"}\u00a0',
  ' [ "4111 1111 1111 1111" ] ',
  'data:image/png;base64,QUtJQUlPU0ZPRE5ON0VYQU1QTEU=',
  'メールは田中@example.comです and 张三@例子.中国谢谢',
  'Summarise the benefits of gradual model rollouts for Acme Corp in two sentences. 12-0.3456789012345678',
];

/** Pieces that are, or are parts of, what detectors match; random text glues them together. */
const PIECES = [
  ...'0123456789 -.+()@_:="\'{}[],\n\tAaBbKkxX'.split(''),
  '4111', '1111', '5555', '3782', '822463', '10005', '415', '555', '2671', '+1', '+44', '(415)',
  'sk-', 'sk-proj-', 'AKIA', 'ASIA', 'ghp_', 'github_pat_', 'Bearer ', 'bearer ', 'api_key', 'API-KEY', 'x-api-key',
  'abcdefghijklmnop', 'ABCDEFGHIJKLMNOP', '0123456789abcdef', 'example.com', 'jane', 'mail.example.org',
  'EMP-', '123456', 'project falcon', 'web-app-7c1d2e3f4a5b', 'sk-proj-4f9aQ2xZ7bR1cD3eF5gH6iJ8kL0mN2oP',
  '请', '田中', 'สมชาย', '김', 'é', 'ß', '📧', '\u200b', '\u00a0', '\ud800', '\u212a', 'password', '"password":', '\\u0040',
];

/** Deterministic, so a failure reproduces. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

function randomText(next: () => number): string {
  let out = '';
  const n = 1 + Math.floor(next() * 24);
  for (let i = 0; i < n; i++) out += PIECES[Math.floor(next() * PIECES.length)] as string;
  return out;
}

t.test('shortcuts never change what a string redacts to', async (t) => {
  for (const text of CORPUS) t.same(fast.redactString(text), reference.redactString(text), text);
  const next = random(1);
  let differing = 0;
  let redacted = 0;
  for (let i = 0; i < 20_000; i++) {
    const text = randomText(next);
    const a = fast.redactString(text);
    const b = reference.redactString(text);
    if (a.value !== b.value || a.count !== b.count) {
      differing++;
      if (differing <= 5) t.same(a, b, JSON.stringify(text));
    }
    if (b.count > 0) redacted++;
  }
  t.equal(differing, 0, 'random strings redact the same with and without shortcuts');
  t.ok(redacted > 2000, `the random strings exercise the detectors (${redacted} of 20000 redacted)`);
});

t.test('shortcuts never change what a value redacts to, and copy only what changed', async (t) => {
  const next = random(2);
  const value = (depth: number): unknown => {
    const r = next();
    if (depth > 3 || r < 0.35) return randomText(next);
    if (r < 0.45) return Math.floor(next() * 1e6);
    if (r < 0.5) return null;
    if (r < 0.7) {
      // Content parts, so secrets split across parts are exercised too.
      return Array.from({ length: 1 + Math.floor(next() * 4) }, () =>
        next() < 0.7 ? { type: 'text', text: randomText(next) } : value(depth + 1),
      );
    }
    if (r < 0.8) return JSON.stringify({ [randomText(next)]: value(depth + 1), api_key: randomText(next) });
    const obj: Record<string, unknown> = {};
    for (let i = 0, n = Math.floor(next() * 4); i < n; i++) obj[next() < 0.2 ? 'password' : randomText(next)] = value(depth + 1);
    return obj;
  };
  let differing = 0;
  let mutated = 0;
  let copiedForNothing = 0;
  for (let i = 0; i < 3000; i++) {
    const input = { messages: [{ role: 'user', content: value(0) }], tools: [value(1)], n: 1 };
    const snapshot = JSON.stringify(input);
    const a = fast.redactValue(input);
    const b = reference.redactValue(input);
    if (JSON.stringify(a) !== JSON.stringify(b) && ++differing <= 5) t.same(a, b, snapshot);
    if (JSON.stringify(input) !== snapshot) mutated++;
    if (a.count === 0 && a.value !== input) copiedForNothing++;
  }
  t.equal(differing, 0, 'random values redact the same with and without shortcuts');
  t.equal(mutated, 0, 'inputs are never mutated');
  t.equal(copiedForNothing, 0, 'nothing redacted: the value itself comes back, not a copy');
  const clean = { messages: [{ role: 'system', content: 'You are a helpful assistant.' }], params: { temperature: 0.2 } };
  t.equal(fast.redactValue(clean).value, clean, 'nothing to redact: same reference');
  const partly = { a: { b: 'plain words' }, c: 'mail jane@example.com', d: ['x'] };
  const out = fast.redactValue(partly).value;
  t.equal(out.a, partly.a, 'unchanged siblings keep their identity');
  t.equal(out.d, partly.d);
  t.same(Object.keys(out), ['a', 'c', 'd'], 'key order kept when copying');
});

t.test('an AWS key ID without digits is redacted (the digit pre-check used to skip it)', async (t) => {
  t.equal(fast.redactString('id AKIAABCDEFGHIJKLMNOP.').value, 'id [REDACTED:api_key].');
});
