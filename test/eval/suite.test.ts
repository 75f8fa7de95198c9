import t from 'tap';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSuite, loadCases, selectSplit, SuiteError, parseJsonlCases, renderTemplate, type CheckValidator } from '../../src/eval/suite.js';

const okChecks: CheckValidator = (spec) => (spec.type === 'is-json' || spec.type === 'contains' ? undefined : `unknown check type "${spec.type}"`);

function dir(files: Record<string, string>): string {
  const d = mkdtempSync(join(tmpdir(), 'bw-suite-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(d, name), text);
  return d;
}

const SUITE = `
name: demo
datasets: [{ path: cases.yaml }]
prompt:
  system: "Extract entities."
  template: "Text: {{text}}"
  responseFormat: { type: json_object }
variants:
  champion: { route: demo, variant: champion }
  challenger: { route: demo, variant: challenger }
gates: [{ name: valid_json, type: is-json }]
dimensions:
  - { name: coverage, weight: 3, floor: 0.5, checks: [{ name: has_acme, type: contains }] }
  - { name: style, weight: 1, checks: [{ name: tone, type: llm-rubric, rubric: "Concise?", labels: { good: 1, bad: 0 } }] }
judge: { route: judge }
`;

const CASES = `
- { id: a, difficulty: hard, tags: [invoice], critical: true, split: regression, vars: { text: "ACME Corp" } }
- { id: b, vars: { text: "Foo" } }
- id: c
  split: holdout
  request: { messages: [{ role: user, content: "recorded" }], params: { temperature: 0 } }
`;

t.test('a valid suite loads with normalised weights and defaults', (t) => {
  const d = dir({ 'suite.yaml': SUITE, 'cases.yaml': CASES });
  const s = loadSuite(join(d, 'suite.yaml'), okChecks);
  t.same(s.dimensions.map((x) => x.weight), [0.75, 0.25]);
  t.same(s.compare, { champion: 'champion', challenger: 'challenger' });
  t.same(s.variants[1], { name: 'challenger', model: 'demo', forceVariant: 'challenger' });
  t.equal(s.passThreshold, 0.7);
  t.equal(s.judge?.model, 'judge');
  const cases = loadCases(s);
  t.equal(cases.length, 3);
  const a = cases[0]!;
  t.equal(a.difficulty, 'hard');
  t.equal(a.critical, true);
  t.same(a.request.messages, [{ role: 'system', content: 'Extract entities.' }, { role: 'user', content: 'Text: ACME Corp' }]);
  t.same(a.request.response_format, { type: 'json_object' });
  t.equal(a.sources.text, 'ACME Corp');
  t.equal(cases[1]!.split, 'full', 'default split');
  t.equal(cases[2]!.sources.input, 'recorded', 'recorded messages replayed as-is');
  t.same(selectSplit(cases, 'regression').map((c) => c.id), ['a']);
  t.same(selectSplit(cases, 'full').map((c) => c.id), ['a', 'b'], 'holdout never in full');
  t.end();
});

t.test('errors are file:path: reason (line N) lines, like the gateway config', (t) => {
  const bad = SUITE.replace('name: demo', 'name: demo\ncolour: red')
    .replace('{ route: demo, variant: challenger }', '{ route: demo, model: x }')
    .replace('gates: [{ name: valid_json, type: is-json }]', 'gates: [{ name: j, type: llm-rubric, rubric: r, labels: { a: 1, b: 0 } }, { name: z, type: nope }]');
  const d = dir({ 'suite.yaml': bad, 'cases.yaml': CASES });
  const file = join(d, 'suite.yaml');
  try {
    loadSuite(file, okChecks);
    t.fail('should throw');
  } catch (err) {
    t.ok(err instanceof SuiteError);
    const lines = (err as SuiteError).lines;
    t.same(lines, [`${file}:(root): unknown key "colour"`]);
  }
  const d2 = dir({ 'suite.yaml': bad.replace('colour: red', ''), 'cases.yaml': CASES });
  const file2 = join(d2, 'suite.yaml');
  const err = (() => { try { loadSuite(file2, okChecks); } catch (e) { return e as SuiteError; } return undefined; })();
  t.same(err?.lines.sort(), [
    `${file2}:gates[0].type: a judge check cannot be a gate (an invalid judge answer must not fail a case) (line 12)`,
    `${file2}:gates[1]: unknown check type "nope" (line 12)`,
    `${file2}:variants.challenger: give exactly one of "route" or "model" (line 11)`,
  ]);
  t.end();
});

t.test('case problems are reported per file, line and path', (t) => {
  const d = dir({
    'suite.yaml': SUITE,
    'cases.yaml': `
- { id: a, vars: { txt: "typo" } }
- { id: b, vars: { text: "x" }, extra: 1 }
- { id: b, vars: { text: "y" } }
- { id: c, difficulty: impossible, vars: { text: "x" } }
`,
  });
  const s = loadSuite(join(d, 'suite.yaml'), okChecks);
  const cf = join(d, 'cases.yaml');
  try {
    loadCases(s);
    t.fail('should throw');
  } catch (err) {
    t.same((err as SuiteError).lines, [
      `${cf}:[0].vars: template variable(s) not set: text (line 2)`,
      `${cf}:[1]: unknown key "extra" (line 3)`,
      `${cf}:[3].difficulty: is not one of the allowed values or forms (line 5)`,
    ]);
  }
  t.end();
});

t.test('suite files share settings with merge keys, and their errors name the line', (t) => {
  const merged = SUITE.replace('champion: { route: demo, variant: champion }', 'champion: &arm { route: demo, variant: champion }')
    .replace('challenger: { route: demo, variant: challenger }', 'challenger: { <<: *arm, variant: challenger }');
  const d = dir({ 'suite.yaml': merged, 'cases.yaml': CASES });
  t.same(loadSuite(join(d, 'suite.yaml'), okChecks).variants[1], { name: 'challenger', model: 'demo', forceVariant: 'challenger' }, '<<: *arm works as in config files');

  const bad = dir({ 'suite.yaml': `${SUITE}passThreshold: 2\n`, 'cases.yaml': CASES });
  const file = join(bad, 'suite.yaml');
  const err = (() => { try { loadSuite(file, okChecks); } catch (e) { return e as SuiteError; } return undefined; })();
  t.same(err?.lines, [`${file}:passThreshold: must be <= 1 (line 16)`], 'a suite-file error names its line');
  t.end();
});

t.test('production JSONL lines become cases', (t) => {
  const line = JSON.stringify({
    id: 's1', schema_version: 1, route: 'demo', source: { type: 'production' },
    request: { messages: [{ role: 'user', content: [{ type: 'text', text: 'hello' }] }], params: { temperature: 0.2 } },
    response: { content: 'hi' }, difficulty: 'adversarial', tags: ['x'], split: 'regression',
  });
  const { cases, problems } = parseJsonlCases(`${line}\n\nnot json\n{"id":"x"}\n`, 'f.jsonl');
  t.equal(cases.length, 1);
  t.equal(cases[0]!.origin, 'production');
  t.equal(cases[0]!.sources.input, 'hello');
  t.equal(cases[0]!.difficulty, 'adversarial');
  t.same(cases[0]!.request.params, { temperature: 0.2 });
  t.equal(problems.length, 2);
  t.match(problems[0], /^f\.jsonl:line 3: not JSON/);
  t.equal(problems[1], 'f.jsonl:line 4.request.messages: missing or empty');
  t.end();
});

t.test('a JSONL line with a mistyped field is an error at its line, not a silently moved case', (t) => {
  const base = { request: { messages: [{ role: 'user', content: 'hi' }] } };
  const lines = [
    { id: 'ok', ...base, split: 'regression' },
    { id: 'typo', ...base, split: 'regresion' }, // was silently "full": dropped from the regression split
    { id: 'diff', ...base, difficulty: 'medium' }, // was silently "easy"
    { id: 'crit', ...base, critical: 'yes' }, // was silently not critical
    { id: 'tags', ...base, tags: 'invoice' }, // was silently no tags
    { id: 7, ...base },
  ].map((l) => JSON.stringify(l));
  // A byte-order mark from an editor on Windows is not a malformed first line.
  const { cases, problems } = parseJsonlCases(`\uFEFF${lines.join('\n')}\n`, 'f.jsonl');
  t.same(cases.map((c) => c.id), ['ok']);
  t.match(problems, [
    /^f\.jsonl:line 2\.split: must be one of regression, full, holdout, got "regresion"$/,
    /^f\.jsonl:line 3\.difficulty: must be one of easy, hard, adversarial, got "medium"$/,
    /^f\.jsonl:line 4\.critical: must be true or false/,
    /^f\.jsonl:line 5\.tags: must be a list of strings/,
    /^f\.jsonl:line 6\.id: must be a non-empty string, got 7$/,
  ]);
  t.equal(problems.length, 5);
  t.end();
});

t.test('templates', (t) => {
  t.same(renderTemplate('{{ a }}-{{b}}', { a: '1', b: '2' }), { text: '1-2', missing: [] });
  t.same(renderTemplate('{{a}}{{c}}', { a: '1' }).missing, ['c']);
  t.end();
});
