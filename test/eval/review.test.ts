import t from 'tap';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportReview, importReview, neutralise, parseCsv } from '../../src/eval/review.js';
import { results, many } from './fixtures.js';
import type { CallRecord } from '../../src/eval/results.js';

t.test('tell-tale formatting and names are removed', (t) => {
  t.equal(neutralise('```json\n{"a":1}\n```', []), '{\n  "a": 1\n}', 'fences gone, JSON laid out uniformly');
  t.equal(neutralise('{ "a" : 1 }', []), '{\n  "a": 1\n}');
  t.equal(neutralise('Certainly! Sure! The answer is 4.', []), 'The answer is 4.');
  t.equal(neutralise('As sim-large I think so', ['sim-large']), 'As [model] I think so');
  t.end();
});

t.test('CSV with quotes, commas and newlines', (t) => {
  t.same(parseCsv('a,b\n"x, y","say ""hi""\nthere"\r\nz,\n'), [['a', 'b'], ['x, y', 'say "hi"\nthere'], ['z', '']]);
  t.end();
});

t.test('export is seeded and blind; import reports win/tie/loss, sign test and kappa', (t) => {
  const r = results(many(12));
  const dir = mkdtempSync(join(tmpdir(), 'bw-review-'));
  const a = exportReview(r, { champion: 'champion', challenger: 'challenger' }, dir, 3);
  t.equal(a.items, 12);
  const first = readFileSync(a.keyFile, 'utf8');
  exportReview(r, { champion: 'champion', challenger: 'challenger' }, dir, 3);
  t.equal(readFileSync(a.keyFile, 'utf8'), first, 'same seed, same order and sides');
  const items = readFileSync(a.itemsFile, 'utf8');
  t.notMatch(items, /champion|challenger/, 'no variant names in what reviewers see');
  const key = JSON.parse(first) as { items: Record<string, { A: string }> };
  const sides = Object.values(key.items).map((k) => k.A);
  t.ok(sides.includes('champion') && sides.includes('challenger'), 'both orders occur');

  // Reviewer ann always prefers the challenger; bob agrees on all but two items (ties).
  const rows = Object.entries(key.items).map(([item, k], i) => {
    const challengerSide = k.A === 'challenger' ? 'A' : 'B';
    return `${item},ann,${challengerSide}\n${item},bob,${i < 2 ? 'tie' : challengerSide}`;
  });
  writeFileSync(a.ratingsFile, `item,reviewer,preference\n${rows.join('\n')}\nr999,ann,A\n`);
  const s = importReview(a.ratingsFile, a.keyFile);
  t.equal(s.wins, 12, 'per item, a win and a tie make a win');
  t.equal(s.losses, 0);
  t.ok(s.signTestP < 0.001);
  t.equal(s.agreement.length, 1);
  t.equal(s.agreement[0]?.items, 12);
  t.ok((s.agreement[0]?.observed ?? 0) > 0.8);
  t.match(s.problems[0], /unknown item "r999"/);
  t.end();
});

t.test('a case whose call errored and then recovered on retry is exported with its final answer', (t) => {
  // Any errored attempt used to drop the case from the review, so the cases where a model needed a
  // retry — often the hard ones — were never seen by reviewers.
  const r = results(many(2, [{ id: 'recovered', champ: true, chall: true }]));
  const c = r.cases.find((x) => x.variant === 'challenger' && x.caseId === 'recovered');
  if (!c) throw new Error('fixture has no recovered case');
  const ok = c.calls[0] as CallRecord;
  c.calls = [{ ...ok, status: 503, output: '', costUsd: null, error: 'HTTP 503: overloaded' }, { ...ok, attempt: 2, output: 'the answer after a retry' }];
  const failed = r.cases.find((x) => x.variant === 'challenger' && x.caseId === 'same-0');
  if (!failed) throw new Error('fixture has no same-0 case');
  failed.calls = [{ ...(failed.calls[0] as CallRecord), status: 500, output: '', error: 'HTTP 500: boom' }];
  const dir = mkdtempSync(join(tmpdir(), 'bw-review-'));
  const written = exportReview(r, { champion: 'champion', challenger: 'challenger' }, dir, 1);
  t.equal(written.items, 2, 'the recovered case is reviewed; the case with no final answer is not');
  const items = readFileSync(written.itemsFile, 'utf8');
  t.match(items, /the answer after a retry/);
  const key = JSON.parse(readFileSync(written.keyFile, 'utf8')) as { items: Record<string, { caseId: string }> };
  t.same(Object.values(key.items).map((k) => k.caseId).sort(), ['recovered', 'same-1']);
  t.end();
});

t.test('ratings import: messages name the right line; one reviewer rating an item twice is an error naming both lines', (t) => {
  // Line numbers were the record index + 2: wrong after a blank line or a comment spanning lines.
  // A second rating of the same item by the same reviewer silently replaced the first.
  const r = results(many(3));
  const dir = mkdtempSync(join(tmpdir(), 'bw-review-'));
  const a = exportReview(r, { champion: 'champion', challenger: 'challenger' }, dir, 3);
  const [i1, i2] = Object.keys((JSON.parse(readFileSync(a.keyFile, 'utf8')) as { items: Record<string, unknown> }).items);
  const lines = [
    'item,reviewer,preference,comment', // 1
    `${i1},ann,A,"first line`, // 2
    'second line of the comment"', // 3
    '', // 4
    `${i2},ann,B,`, // 5
    'r999,ann,A,', // 6
    `${i2},bob,maybe,`, // 7
  ];
  writeFileSync(a.ratingsFile, `${lines.join('\r\n')}\r\n`);
  const s = importReview(a.ratingsFile, a.keyFile);
  t.same(s.problems, [`${a.ratingsFile}:6: unknown item "r999"`, `${a.ratingsFile}:7: preference must be A, B or tie, got "maybe"`]);
  t.equal(s.ratings, 2);

  writeFileSync(a.ratingsFile, [...lines.slice(0, 5), '', `${i1},ann,B,changed my mind`, ''].join('\n'));
  t.throws(() => importReview(a.ratingsFile, a.keyFile), { message: `${a.ratingsFile}:7: ann rated ${i1} again (first at line 2); keep one rating` });
  t.end();
});
