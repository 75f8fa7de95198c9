import t from 'tap';
import { CheckConfigError, compileCheck } from '../../src/checks/index.js';
import type { CheckSpec } from '../../src/checks/index.js';
import { check } from './fixtures/check.js';

t.test('regex / not-regex', async (t) => {
  const order = { name: 'order_id', type: 'regex', pattern: 'ORD-\\d{6}' } satisfies CheckSpec;
  t.match(check(order, 'Your order ORD-123456 shipped.'), { result: 'pass', score: 1, reason: /"ORD-123456" at 11/ });
  t.match(check(order, 'Your order ord-123456 shipped.'), { result: 'fail', score: 0, reason: /no match/ });
  t.match(check({ ...order, flags: 'i' }, 'ord-123456'), { result: 'pass' });
  t.match(check({ ...order, pattern: '^done$', flags: 'm' }, 'step 1\ndone\n'), { result: 'pass' });

  const noEmail = { name: 'no_email', type: 'not-regex', pattern: '[\\w.]+@[\\w.]+' } satisfies CheckSpec;
  t.match(check(noEmail, 'contact support'), { result: 'pass', score: 1 });
  t.match(check(noEmail, 'mail bob@example.com'), { result: 'fail', reason: /"bob@example.com"/ });
  t.match(check(noEmail, ''), { result: 'pass' }, 'empty output has nothing forbidden');
});

t.test('regex: the same output gives the same answer every time', async (t) => {
  // Guards against stateful `g` matching sneaking back in.
  const compiled = compileCheck({ name: 'r', type: 'regex', pattern: 'a' });
  t.same([1, 2, 3].map(() => compiled.run({ output: 'a' }).pass), [true, true, true]);
});

t.test('regex: a bad pattern or flag is a config error', async (t) => {
  t.throws(() => compileCheck({ name: 'r', type: 'regex', pattern: '(unclosed' }), {
    name: 'CheckConfigError',
    message: /check "r" \(regex\): pattern: invalid regular expression "\(unclosed"/,
  });
  t.throws(() => compileCheck({ name: 'r', type: 'not-regex', pattern: 'a', flags: 'g' }), { message: /g and y/ });
  t.throws(() => compileCheck({ name: 'r', type: 'regex', pattern: 'a', flags: 'ii' }), CheckConfigError);
  t.throws(() => compileCheck({ name: 'r', type: 'regex', pattern: '' }), { name: 'CheckConfigError', message: /\/pattern/ }, 'an empty pattern matches every output');
  t.throws(() => compileCheck({ name: 'r', type: 'not-regex', pattern: '' }), CheckConfigError);
});

t.test('regex: a repeated repeated group (catastrophic backtracking) is a config error', async (t) => {
  for (const pattern of ['(a+)+$', '^(?:\\w*)*!', '([a-z]+){2,}x', '(?<word>\\s+)*$', '(\\d+?)+;']) {
    t.throws(() => compileCheck({ name: 'r', type: 'regex', pattern }), { name: 'CheckConfigError', message: /repeats a repeated group/ }, pattern);
  }
  t.throws(() => compileCheck({ name: 'r', type: 'is-refusal', patterns: ['(x+)+y'] }), { message: /patterns\[0\]: .*repeats a repeated group/ });
  for (const pattern of ['(ab+)+', '(\\d+,)*\\d+', '\\w+\\s*\\w+', '(a|b)+', '[(a+)+]', '\\(a+\\)+', '(a+)?', '(a+){2}']) {
    t.doesNotThrow(() => compileCheck({ name: 'r', type: 'regex', pattern }), `${pattern} is fine`);
  }
});

t.test('contains / icontains', async (t) => {
  const spec = { name: 'says_refund', type: 'contains', value: 'refund' } satisfies CheckSpec;
  t.match(check(spec, 'We issued a refund.'), { result: 'pass', score: 1 });
  t.match(check(spec, 'We issued a Refund.'), { result: 'fail', score: 0, reason: /missing "refund"/ });
  t.match(check({ ...spec, ignoreCase: true }, 'REFUND'), { result: 'pass' });
  t.match(check({ name: 'i', type: 'icontains', value: 'Refund' }, 'a REFUND'), { result: 'pass' });
  t.match(check({ name: 'i', type: 'icontains', value: 'refund' }, ''), { result: 'fail' });
});

t.test('contains family: Unicode case folding and canonical equivalence', async (t) => {
  t.match(check({ name: 'i', type: 'icontains', value: 'straße' }, 'HAUPTSTRASSE 5'), { result: 'pass' }, 'ß folds to ss');
  t.match(check({ name: 'i', type: 'icontains', value: 'STRASSE' }, 'Hauptstraße 5'), { result: 'pass' }, 'and back');
  t.match(check({ name: 'i', type: 'icontains', value: 'οδος' }, 'ΟΔΟΣ ΑΘΗΝΑΣ'), { result: 'pass' }, 'final sigma');
  t.match(check({ name: 'i', type: 'icontains', value: 'ﬁle' }, 'FILE'), { result: 'pass' }, 'ligature');
  const decomposed = 'cafe\u0301';
  t.match(check({ name: 'c', type: 'contains', value: 'café' }, `un ${decomposed}`), { result: 'pass' }, 'e + combining accent is é');
  t.match(check({ name: 'c', type: 'contains-all', values: ['Straße', 'café'], ignoreCase: true }, `STRASSE ${decomposed.toUpperCase()}`), { result: 'pass', score: 1 });
  t.match(check({ name: 'c', type: 'not-contains', value: 'straße', ignoreCase: true }, 'STRASSE'), { result: 'fail', score: 0 });
  t.match(check({ name: 'c', type: 'contains', value: 'straße' }, 'STRASSE'), { result: 'fail' }, 'still case-sensitive without ignoreCase');
});

t.test('contains-all scores the share found', async (t) => {
  const spec = { name: 'steps', type: 'contains-all', values: ['unplug', 'wait', 'replug', 'call'] } satisfies CheckSpec;
  t.match(check(spec, 'unplug, wait, replug, call us'), { result: 'pass', score: 1 });
  const half = check(spec, 'unplug it and wait');
  t.match(half, { result: 'fail', score: 0.5 });
  t.match(half.reason, /missing "replug", "call"/);
});

t.test('contains-any', async (t) => {
  const spec = { name: 'greets', type: 'contains-any', values: ['hello', 'hi'], ignoreCase: true } satisfies CheckSpec;
  t.match(check(spec, 'Hi there'), { result: 'pass', score: 1, reason: /found "hi"/ });
  t.match(check(spec, 'Good morning'), { result: 'fail', score: 0, reason: /none of "hello", "hi"/ });
});

t.test('not-contains takes value or values', async (t) => {
  const one = { name: 'no_competitor', type: 'not-contains', value: 'Acme' } satisfies CheckSpec;
  t.match(check(one, 'We recommend our own plan.'), { result: 'pass', score: 1 });
  t.match(check(one, 'Acme is cheaper.'), { result: 'fail', score: 0, reason: /forbidden "Acme"/ });

  const many = { name: 'no_slurs', type: 'not-contains', values: ['foo', 'bar', 'baz', 'qux'], ignoreCase: true } satisfies CheckSpec;
  t.match(check(many, 'FOO and bar'), { result: 'fail', score: 0.5 });

  t.throws(() => compileCheck({ name: 'n', type: 'not-contains' }), { message: /exactly one of "value" or "values"/ });
  t.throws(() => compileCheck({ name: 'n', type: 'not-contains', value: 'a', values: ['b'] }), CheckConfigError);
});

t.test('contains family: empty needles are config errors (they match everything)', async (t) => {
  t.throws(() => compileCheck({ name: 'c', type: 'contains', value: '' }), { message: /fewer than 1 characters/ });
  t.throws(() => compileCheck({ name: 'c', type: 'contains-all', values: [] }), { message: /fewer than 1 items/ });
});

t.test('max-length counts characters, not UTF-16 units', async (t) => {
  const spec = { name: 'short', type: 'max-length', max: 5 } satisfies CheckSpec;
  t.match(check(spec, 'hello'), { result: 'pass', reason: '5 characters (max 5)' });
  t.match(check(spec, 'hello!'), { result: 'fail', score: 0 });
  t.match(check(spec, '👍👍👍👍👍'), { result: 'pass' }, 'emoji count once');
  t.match(check({ name: 'empty', type: 'max-length', max: 0 }, ''), { result: 'pass' });
  t.throws(() => compileCheck({ name: 'm', type: 'max-length', max: -1 }), CheckConfigError);
  t.throws(() => compileCheck({ name: 'm', type: 'max-length', max: 2.5 }), { message: /must be integer/ });
});

t.test('max-tokens prefers reported usage, else estimates and says so', async (t) => {
  const spec = { name: 'brief', type: 'max-tokens', max: 3 } satisfies CheckSpec;
  t.match(check(spec, { output: 'a b c d e', usage: { outputTokens: 3 } }), { result: 'pass', reason: '3 output tokens (max 3)' });
  t.match(check(spec, { output: 'a', usage: { outputTokens: 4 } }), { result: 'fail' });
  t.match(check(spec, { output: ' one  two\nthree ' }), { result: 'pass', reason: /~3 tokens estimated/ });
  t.match(check(spec, { output: 'one two three four', usage: {} }), { result: 'fail', reason: /no usage reported/ });
});

t.test('max-tokens without usage: text without spaces (CJK, Thai) is not one word', async (t) => {
  const spec = { name: 'brief', type: 'max-tokens', max: 20 } satisfies CheckSpec;
  const japanese = 'これは非常に長い回答で、制限をはるかに超えています。東京の天気は晴れです。'.repeat(3);
  t.match(check(spec, japanese), { result: 'fail', reason: /tokens estimated/ }, 'a long Japanese answer fails');
  t.match(check(spec, '你好世界'), { result: 'pass', reason: /~4 tokens/ }, 'a character counts once');
  t.match(check(spec, 'Tokyo 東京 is big'), { result: 'pass', reason: /~5 tokens/ }, 'mixed text');
});
