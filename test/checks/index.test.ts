import t from 'tap';
import { Ajv } from 'ajv';
import {
  CHECK_TYPES,
  CheckConfigError,
  CheckSpecSchema,
  compileCheck,
  evaluate,
  validateCheckSpec,
  type CompiledCheck,
} from '../../src/checks/index.js';

t.test('CheckSpecSchema is plain JSON Schema that other schemas can embed', async (t) => {
  const validate = new Ajv().compile(CheckSpecSchema);
  t.ok(validate({ name: 'valid_json', type: 'is-json' }));
  t.ok(validate({ name: 'r', type: 'regex', pattern: 'x', flags: 'i' }));
  t.notOk(validate({ name: 'Valid-JSON', type: 'is-json' }), 'name must be a bounded metric label');
  t.notOk(validate({ name: 'v', type: 'is-json', strict: true }), 'unknown keys are rejected');
  t.notOk(validate({ name: 'v', type: 'no-such-type' }));
  t.notOk(validate({ type: 'is-json' }), 'name is required');
});

t.test('every type is registered and compiles from a minimal spec', async (t) => {
  t.equal(CHECK_TYPES.length, 16);
  const schemaTypes = CheckSpecSchema.anyOf.map((s) => s.properties.type.const).sort();
  t.same(schemaTypes, [...CHECK_TYPES].sort(), 'schema union and registry list the same types');
});

t.test('validateCheckSpec gives one precise message per problem', async (t) => {
  t.same(validateCheckSpec({ name: 'ok', type: 'contains', value: 'x' }), { name: 'ok', type: 'contains', value: 'x' });
  t.throws(() => validateCheckSpec({ name: 'x', type: 'regexp' }), { name: 'CheckConfigError', message: /check "x": \/type: must be one of is-json, /i });
  t.throws(() => validateCheckSpec('is-json'), { message: /must be one of/ });
  t.throws(() => validateCheckSpec({ name: 'x', type: 'regex', patern: 'a' }), {
    message: `check "x" (regex): /: must have required property 'pattern'; /: unknown key "patern"`,
  });
  t.throws(() => validateCheckSpec({ name: 'Bad Name', type: 'is-json' }), { message: /\/name: must match pattern/ });
  t.throws(() => validateCheckSpec({ name: 'm', type: 'max-length', max: '10' }), { message: /\/max: must be integer/ });
});

t.test('compileCheck validates untyped input too', async (t) => {
  const fromYaml: unknown = { name: 'x', type: 'regex' };
  t.throws(() => compileCheck(fromYaml as never), CheckConfigError);
  const compiled = compileCheck({ name: 'valid_json', type: 'is-json' });
  t.equal(compiled.name, 'valid_json');
  t.equal(compiled.type, 'is-json');
});

t.test('evaluate maps results to pass / fail / error, never throwing', async (t) => {
  const fake = (run: CompiledCheck['run']): CompiledCheck => ({ name: 'f', type: 'fake', run });
  t.same(evaluate(fake(() => ({ pass: true, score: 1, reason: 'ok' })), { output: '' }), { result: 'pass', score: 1, reason: 'ok' });
  t.same(evaluate(fake(() => ({ pass: false, score: 0.25, reason: 'meh' })), { output: '' }), { result: 'fail', score: 0.25, reason: 'meh' });
  t.same(
    evaluate(fake(() => { throw new Error('boom'); }), { output: '' }),
    { result: 'error', score: 0, reason: 'boom' },
  );
  t.same(evaluate(fake(() => { throw 'text'; }), { output: '' }), { result: 'error', score: 0, reason: 'text' });
  t.match(evaluate(fake(() => ({ pass: true, score: Number.NaN, reason: '' })), { output: '' }), { result: 'error', score: 0 }, 'a broken score is never a pass');
  t.match(evaluate(fake(() => ({ pass: true, score: 2, reason: '' })), { output: '' }), { result: 'error' });
});
