import t from 'tap';
import { CheckConfigError, compileCheck } from '../../src/checks/index.js';
import type { CheckSpec } from '../../src/checks/index.js';
import { check } from './fixtures/check.js';

t.test('is-json', async (t) => {
  const spec = { name: 'valid_json', type: 'is-json' } satisfies CheckSpec;
  t.match(check(spec, '{"a": [1, 2, {"b": null}]}'), { result: 'pass', score: 1 });
  t.match(check(spec, '  "just a string"\n'), { result: 'pass' }, 'any JSON value, surrounding whitespace ignored');

  const truncated = check(spec, '{"answer": "Paris", "sources": ["wiki');
  t.match(truncated, { result: 'fail', score: 0 });
  t.match(truncated.reason, /truncated/, 'truncation is named as such');

  const chatty = check(spec, 'Sure! {"a": 1}');
  t.match(chatty, { result: 'fail' });
  t.notMatch(chatty.reason, /truncated/, 'leading chatter is not mistaken for truncation');

  t.match(check(spec, ''), { result: 'fail', reason: /empty/ });
  t.match(check(spec, '```json\n{"a": 1}\n```'), { result: 'fail' }, 'fences are not JSON by default');
  t.match(check({ ...spec, allowCodeFence: true }, '```json\n{"a": 1}\n```'), { result: 'pass' });
  t.match(check({ ...spec, allowCodeFence: true }, '```\n[1]\n```'), { result: 'pass' });
  t.match(check({ ...spec, allowCodeFence: true }, '```json\n{"a": \n```'), { result: 'fail', reason: /truncated/ });
});

t.test('json-schema', async (t) => {
  const spec = {
    name: 'answer_schema',
    type: 'json-schema',
    schema: {
      type: 'object',
      required: ['answer', 'confidence'],
      properties: { answer: { type: 'string' }, confidence: { type: 'number', minimum: 0, maximum: 1 }, email: { type: 'string', format: 'email' } },
      additionalProperties: false,
    },
  } satisfies CheckSpec;
  t.match(check(spec, '{"answer": "42", "confidence": 0.9}'), { result: 'pass', score: 1, reason: 'matches schema' });

  const wrong = check(spec, '{"answer": 42, "extra": true}');
  t.match(wrong, { result: 'fail', score: 0 });
  t.match(wrong.reason, /confidence/, 'names the missing property');
  t.match(wrong.reason, /\/answer must be string/, 'points at the wrong value');

  t.match(check(spec, '{"answer": "a", "confidence": 1, "email": "nope"}'), { result: 'fail', reason: /format "email"/ }, 'formats are checked');
  t.match(check(spec, '{"answer": "a", "conf'), { result: 'fail', reason: /not valid JSON \(looks truncated/ });

  const many = check(spec, '{"a": 1, "b": 2, "c": 3, "d": 4}');
  t.match(many.reason, /\+\d+ more/, 'long error lists are cut short');
});

t.test('json-schema: draft 2020-12 when $schema says so', async (t) => {
  const spec = {
    name: 'tuple',
    type: 'json-schema',
    schema: { $schema: 'https://json-schema.org/draft/2020-12/schema', type: 'array', prefixItems: [{ type: 'string' }], items: false },
  } satisfies CheckSpec;
  t.match(check(spec, '["a"]'), { result: 'pass' });
  t.match(check(spec, '["a", 1]'), { result: 'fail' });
});

t.test('json-schema: checks with the same $id do not collide', async (t) => {
  const a = compileCheck({ name: 'a', type: 'json-schema', schema: { $id: 'https://x/s', type: 'string' } });
  const b = compileCheck({ name: 'b', type: 'json-schema', schema: { $id: 'https://x/s', type: 'number' } });
  t.equal(a.run({ output: '"s"' }).pass, true);
  t.equal(b.run({ output: '1' }).pass, true);
});

t.test('json-schema: a broken schema is a config error at compile time', async (t) => {
  const bad = (schema: Record<string, unknown>): void => {
    compileCheck({ name: 'bad', type: 'json-schema', schema });
  };
  t.throws(() => bad({ type: 'strnig' }), CheckConfigError);
  t.throws(() => bad({ type: 'object', requried: ['a'] }), { name: 'CheckConfigError', message: /unknown keyword: "requried"/ });
  t.throws(() => bad({ type: 'string', format: 'no-such-format' }), { message: /unknown format/ });
  t.throws(() => bad({ $ref: '#/definitions/missing' }), { message: /check "bad" \(json-schema\): invalid JSON schema/ });
  t.doesNotThrow(() => bad({ required: ['a'] }), 'legal-but-loose schemas are accepted');
});

t.test('json-schema: an $async schema is a config error, not a check that always passes', async (t) => {
  const spec = { name: 'a', type: 'json-schema', schema: { $async: true, type: 'object', required: ['id'] } } satisfies CheckSpec;
  t.throws(() => compileCheck(spec), { name: 'CheckConfigError', message: /\$async/ });
  const nested = { name: 'n', type: 'json-schema', schema: { type: 'object', properties: { a: { $async: true, type: 'string' } } } } satisfies CheckSpec;
  t.throws(() => compileCheck(nested), CheckConfigError);
});
