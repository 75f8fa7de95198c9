import t from 'tap';
import { CheckConfigError, compileCheck } from '../../src/checks/index.js';
import type { CheckSpec } from '../../src/checks/index.js';
import { check } from './fixtures/check.js';

const source = 'Meeting notes: ACME   Corp. signed with Jürgen Weiß (Berlin) on 3 May; ｆｕｌｌｗｉｄｔｈ Ltd attended.';

t.test('entities-in-source: every item grounded', async (t) => {
  const spec = { name: 'grounded', type: 'entities-in-source', source: 'input' } satisfies CheckSpec;
  const output = JSON.stringify(['acme corp', '  Jürgen\nWEISS, ', 'Berlin', 'Fullwidth Ltd.', 3]);
  t.match(check(spec, { output, sources: { input: source } }), { result: 'pass', score: 1, reason: '5/5 grounded in "input"' },
    'case folding (ß/SS), NFKC (full-width), whitespace collapse and punctuation trimming');
});

t.test('entities-in-source: typographic quotes and dashes match their plain forms', async (t) => {
  const spec = { name: 'grounded', type: 'entities-in-source', source: 'input' } satisfies CheckSpec;
  const sources = { input: 'Signed by Siobhán O’Brien for “Acme” in 2019–2020, page 12—14.' };
  const output = JSON.stringify(["Siobhán O'Brien", '"Acme"', '2019-2020', '12-14', 'O‘Brien']);
  t.match(check(spec, { output, sources }), { result: 'pass', score: 1, reason: '5/5 grounded in "input"' });
  const reverse = { input: "Signed by O'Brien in 2019-2020." };
  t.match(check(spec, { output: JSON.stringify(['O’Brien', '2019–2020']), sources: reverse }), { result: 'pass', score: 1 });
});

t.test('entities-in-source: score = grounded / extracted', async (t) => {
  const spec = { name: 'grounded', type: 'entities-in-source', source: 'notes', path: 'people.name' } satisfies CheckSpec;
  const output = '{"people": [{"name": "Jürgen Weiß"}, {"name": "Anna Berg"}, {"name": "ACME"}, {"name": "Bob"}]}';
  const r = check(spec, { output, sources: { notes: source } });
  t.match(r, { result: 'fail', score: 0.5 });
  t.match(r.reason, /2\/4 grounded in "notes"; not found: "anna berg", "bob"/);
  t.match(check({ ...spec, minScore: 0.5 }, { output, sources: { notes: source } }), { result: 'pass', score: 0.5 }, 'minScore lowers the bar');
});

t.test('entities-in-source: whole words only, except in scripts without spaces', async (t) => {
  const spec = { name: 'g', type: 'entities-in-source', source: 's' } satisfies CheckSpec;
  t.match(check(spec, { output: '["art"]', sources: { s: 'we start now' } }), { result: 'fail' }, '"art" is not grounded by "start"');
  t.match(check(spec, { output: '["art"]', sources: { s: 'start, then art.' } }), { result: 'pass' }, 'a later whole-word occurrence counts');
  t.match(check(spec, { output: '["C++"]', sources: { s: 'a C++ developer' } }), { result: 'pass' });
  t.match(check(spec, { output: '["東京"]', sources: { s: '私は東京都に住んでいます' } }), { result: 'pass' });
});

t.test('entities-in-source: paths', async (t) => {
  const spec = { name: 'g', type: 'entities-in-source', source: 's' } satisfies CheckSpec;
  const sources = { s: 'alice met bob and carol' };
  const output = '{"groups": [{"members": ["alice", "bob"]}, {"members": [["carol"]]}], "lead": {"name": "alice"}}';
  t.match(check({ ...spec, path: 'groups.members' }, { output, sources }), { result: 'pass', reason: '3/3 grounded in "s"' }, 'nested arrays flatten');
  t.match(check({ ...spec, path: 'groups.1.members' }, { output, sources }), { result: 'pass', reason: '1/1 grounded in "s"' }, 'numeric segments index');
  t.match(check({ ...spec, path: 'lead.name' }, { output, sources }), { result: 'pass' });
  t.match(check({ ...spec, path: 'lead.email' }, { output, sources }), { result: 'fail', score: 0, reason: /path "lead.email" not found/ });
  t.match(check({ ...spec, path: 'lead' }, { output, sources }), { result: 'error', reason: /point "path" at its text field/ }, 'an object item is a path mistake');
  t.match(check(spec, { output: '"alice"', sources }), { result: 'pass' }, 'a bare string is one item');
  t.match(check(spec, { output: '["alice", null]', sources }), { result: 'pass', reason: '1/1 grounded in "s"' }, 'null is no item');
});

t.test('entities-in-source: nothing extracted fails unless allowEmpty', async (t) => {
  const spec = { name: 'g', type: 'entities-in-source', source: 's' } satisfies CheckSpec;
  t.match(check(spec, { output: '[]', sources: { s: 'x' } }), { result: 'fail', score: 0, reason: 'nothing extracted' });
  t.match(check({ ...spec, allowEmpty: true }, { output: '["", "—"]', sources: { s: 'x' } }), { result: 'pass', score: 1 });
});

t.test('entities-in-source: malformed inputs', async (t) => {
  const spec = { name: 'g', type: 'entities-in-source', source: 's' } satisfies CheckSpec;
  t.match(check(spec, { output: '["alice", "bo', sources: { s: 'alice' } }), { result: 'fail', reason: /truncated/ });
  t.match(check(spec, { output: '["alice"]' }), { result: 'error', reason: 'source "s" not provided' }, 'a missing source is wiring, not the model');
  t.throws(() => compileCheck({ name: 'g', type: 'entities-in-source', source: 's', minScore: 2 }), CheckConfigError);
  t.throws(() => compileCheck({ name: 'g', type: 'entities-in-source', source: '' }), CheckConfigError);
});
