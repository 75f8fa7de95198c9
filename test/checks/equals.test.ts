import t from 'tap';
import { CheckConfigError, compileCheck } from '../../src/checks/index.js';
import type { CheckSpec } from '../../src/checks/index.js';
import { check } from './fixtures/check.js';

t.test('equals: string value compares text, trimmed by default', async (t) => {
  const spec = { name: 'label', type: 'equals', value: 'positive' } satisfies CheckSpec;
  t.match(check(spec, 'positive\n'), { result: 'pass', score: 1 });
  t.match(check(spec, 'Positive'), { result: 'fail', score: 0, reason: 'expected "positive", got "Positive"' });
  t.match(check({ ...spec, ignoreCase: true }, 'Positive'), { result: 'pass' });
  t.match(check({ ...spec, trim: false }, 'positive\n'), { result: 'fail' });
  t.match(check({ name: 'empty', type: 'equals', value: '' }, '  '), { result: 'pass' }, 'an expected empty answer');
});

t.test('equals: text compares NFC, and ignoreCase folds Unicode case', async (t) => {
  t.match(check({ name: 'city', type: 'equals', value: 'Zürich' }, 'Zu\u0308rich'), { result: 'pass' }, 'u + combining diaeresis is ü');
  t.match(check({ name: 'street', type: 'equals', value: 'Hauptstraße', ignoreCase: true }, 'HAUPTSTRASSE'), { result: 'pass' }, 'ß folds to ss');
  t.match(check({ name: 'street', type: 'equals', value: 'Hauptstraße' }, 'HAUPTSTRASSE'), { result: 'fail' }, 'still case-sensitive by default');
});

t.test('equals: JSON value compares structure', async (t) => {
  const spec = { name: 'parsed', type: 'equals', value: { city: 'Paris', tags: ['a', 'b'], n: 1 } } satisfies CheckSpec;
  t.match(check(spec, '{"n": 1.0, "tags": ["a", "b"], "city": "Paris"}'), { result: 'pass' }, 'key order and number spelling ignored');
  t.match(check(spec, '{"n": 1, "tags": ["b", "a"], "city": "Paris"}'), { result: 'fail', reason: '$.tags[0]: expected "a", got "b"' });
  t.match(check(spec, '{"n": 1, "tags": ["a"], "city": "Paris"}'), { result: 'fail', reason: /\$\.tags: expected 2 items, got 1/ });
  t.match(check(spec, '{"n": 1, "tags": ["a", "b"]}'), { result: 'fail', reason: /missing key "city"/ });
  t.match(check(spec, '{"n": 1, "tags": ["a", "b"], "city": "Paris", "x": 0}'), { result: 'fail', reason: /unexpected key "x"/ });
  t.match(check(spec, '{"n": 1, "tags": ["a", "b"], "city": "Par'), { result: 'fail', reason: /truncated/ });
  t.match(check(spec, '[]'), { result: 'fail', reason: /^\$: expected/ });
  t.match(check({ name: 'num', type: 'equals', value: 42 }, ' 42 '), { result: 'pass' });
  t.match(check({ name: 'nul', type: 'equals', value: null }, 'null'), { result: 'pass' }, 'null is a value, not "missing"');
  t.match(check({ name: 'bool', type: 'equals', value: false }, '"false"'), { result: 'fail' }, 'types matter');
  t.match(check({ name: 'f', type: 'equals', value: [1], allowCodeFence: true }, '```json\n[1]\n```'), { result: 'pass' });
});

t.test('equals: reference comes from the eval case', async (t) => {
  const spec = { name: 'matches_ref', type: 'equals', reference: true } satisfies CheckSpec;
  t.match(check(spec, { output: 'Paris', reference: 'Paris' }), { result: 'pass' });
  t.match(check(spec, { output: '{"a":1}', reference: { a: 2 } }), { result: 'fail', reason: /\$\.a: expected 2, got 1/ });
  t.match(check(spec, { output: 'Paris' }), { result: 'error', score: 0, reason: /no reference/ }, 'no reference is an error, never a pass');
});

t.test('equals: exactly one of value / reference', async (t) => {
  t.throws(() => compileCheck({ name: 'e', type: 'equals' }), { name: 'CheckConfigError', message: /exactly one of "value" or "reference: true"/ });
  t.throws(() => compileCheck({ name: 'e', type: 'equals', value: 'x', reference: true }), CheckConfigError);
});
