/**
 * Blind pairwise review. Export: for each case, the two outputs as A and B in a seeded random
 * order, with model names and tell-tale formatting removed, and the A/B → variant mapping in a
 * separate key file that reviewers never see. Import: ratings back → win/tie/loss for the
 * challenger, a sign test, and Cohen's kappa between reviewers.
 */
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { CaseRun, RunResults } from './results.js';
import { writeJson } from './results.js';
import { cohensKappa, seededRandom, signTest } from './stats.js';

export interface ReviewKey {
  kind: 'bellwether-review-key';
  runId: string;
  seed: number;
  items: Record<string, { caseId: string; A: string; B: string }>;
  champion: string;
  challenger: string;
}

const OPENERS = /^(?:certainly|sure|of course|great question|happy to help|absolutely|here(?:'s| is) (?:the|your) [a-z ]+)[!.,:]?\s*/i;

/**
 * Remove what gives a model away without changing what it said: code fences around JSON, JSON
 * layout (re-serialised uniformly), stock openers, model and variant names, whitespace habits.
 */
export function neutralise(output: string, names: readonly string[]): string {
  let text = output.trim();
  const fenced = /^```[a-zA-Z]*\s*\n([\s\S]*?)\n?```$/.exec(text);
  if (fenced?.[1] !== undefined) text = fenced[1].trim();
  try {
    return scrub(JSON.stringify(JSON.parse(text), null, 2), names);
  } catch {
    // not JSON: neutralise as prose
  }
  while (OPENERS.test(text)) text = text.replace(OPENERS, '');
  text = text.replace(/[ \t]+$/gm, '').replace(/\n{3,}/g, '\n\n');
  return scrub(text, names);
}

function scrub(text: string, names: readonly string[]): string {
  let out = text;
  for (const name of [...names].sort((a, b) => b.length - a.length)) {
    if (name.length < 3) continue;
    out = out.replace(new RegExp(name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'), 'gi'), '[model]');
  }
  return out;
}

const lastOutput = (r: CaseRun) => r.calls[r.calls.length - 1]?.output ?? '';
/** The case has a final answer: its last call succeeded, whatever earlier attempts did (a retry that recovered). */
const answered = (r: CaseRun) => {
  const last = r.calls[r.calls.length - 1];
  return last !== undefined && last.error === undefined;
};

export function exportReview(
  results: RunResults,
  pair: { champion: string; challenger: string },
  outDir: string,
  seed: number,
): { items: number; itemsFile: string; reviewFile: string; ratingsFile: string; keyFile: string } {
  const champ = new Map(results.cases.filter((c) => c.variant === pair.champion).map((c) => [c.caseId, c]));
  const chall = new Map(results.cases.filter((c) => c.variant === pair.challenger).map((c) => [c.caseId, c]));
  const names = [pair.champion, pair.challenger, ...results.cases.flatMap((c) => c.calls.flatMap((k) => (k.model ? [k.model] : [])))];
  const rand = seededRandom(seed);
  const ids = [...champ.keys()].filter((id) => {
    const a = champ.get(id);
    const b = chall.get(id);
    return a !== undefined && b !== undefined && answered(a) && answered(b);
  });
  // Fisher–Yates: reviewers must not see cases in suite order (difficulty often follows it).
  for (let i = ids.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [ids[i], ids[j]] = [ids[j] as string, ids[i] as string];
  }
  const key: ReviewKey = { kind: 'bellwether-review-key', runId: results.runId, seed, items: {}, champion: pair.champion, challenger: pair.challenger };
  const lines: string[] = [];
  const sheet: string[] = ['# Blind review', '', 'For each item, which answer is better for the task: A, B or tie? Fill in ratings.csv.', ''];
  ids.forEach((caseId, i) => {
    const item = `r${String(i + 1).padStart(3, '0')}`;
    const championFirst = rand() < 0.5;
    const a = championFirst ? champ.get(caseId) : chall.get(caseId);
    const b = championFirst ? chall.get(caseId) : champ.get(caseId);
    key.items[item] = { caseId, A: championFirst ? pair.champion : pair.challenger, B: championFirst ? pair.challenger : pair.champion };
    const A = neutralise(lastOutput(a as CaseRun), names);
    const B = neutralise(lastOutput(b as CaseRun), names);
    lines.push(JSON.stringify({ item, A, B }));
    sheet.push(`## ${item}`, '', '**A**', '', '~~~~', A, '~~~~', '', '**B**', '', '~~~~', B, '~~~~', '');
  });
  mkdirSync(outDir, { recursive: true });
  const itemsFile = join(outDir, 'review.jsonl');
  const ratingsFile = join(outDir, 'ratings.csv');
  const keyFile = join(outDir, 'key.json');
  writeFileSync(itemsFile, lines.length ? `${lines.join('\n')}\n` : '');
  const reviewFile = join(outDir, 'review.md');
  writeFileSync(reviewFile, sheet.join('\n'));
  writeFileSync(ratingsFile, `item,reviewer,preference,comment\n${Object.keys(key.items).map((item) => `${item},,,`).join('\n')}\n`);
  writeJson(keyFile, key);
  return { items: ids.length, itemsFile, reviewFile, ratingsFile, keyFile };
}

/** Minimal RFC 4180 CSV: quoted fields, doubled quotes, commas and newlines inside quotes. */
export function parseCsv(text: string): string[][] {
  return parseCsvRecords(text).map((r) => r.fields);
}

/**
 * As parseCsv, with the 1-based file line each record starts on, so a message can point at the
 * right line after blank lines and quoted fields that span lines.
 */
export function parseCsvRecords(text: string): { line: number; fields: string[] }[] {
  const records: { line: number; fields: string[] }[] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  let line = 1;
  let start = 1;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else {
        field += ch;
        if (ch === '\n' || (ch === '\r' && text[i + 1] !== '\n')) line++;
      }
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      row.push(field);
      field = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      records.push({ line: start, fields: row });
      row = [];
      field = '';
      line++;
      start = line;
    } else field += ch;
  }
  if (field !== '' || row.length > 0) {
    row.push(field);
    records.push({ line: start, fields: row });
  }
  return records;
}

export type Preference = 'win' | 'tie' | 'loss';

export interface ReviewSummary {
  champion: string;
  challenger: string;
  ratings: number;
  items: number;
  /** Per item, the reviewers' majority (challenger's point of view). */
  wins: number;
  ties: number;
  losses: number;
  signTestP: number;
  agreement: { reviewers: [string, string]; items: number; kappa: number; observed: number }[];
  problems: string[];
}

export function importReview(ratingsFile: string, keyFile: string): ReviewSummary {
  const key = JSON.parse(readFileSync(keyFile, 'utf8')) as ReviewKey;
  if (key.kind !== 'bellwether-review-key') throw new Error(`${keyFile}: not a review key file`);
  const records = parseCsvRecords(readFileSync(ratingsFile, 'utf8')).filter((r) => r.fields.some((f) => f.trim() !== ''));
  const header = (records.shift()?.fields ?? []).map((h) => h.trim().toLowerCase());
  const col = (name: string) => header.indexOf(name);
  const [iItem, iReviewer, iPref] = [col('item'), col('reviewer'), col('preference')];
  if (iItem < 0 || iReviewer < 0 || iPref < 0) throw new Error(`${ratingsFile}: header must have item, reviewer and preference columns`);
  const problems: string[] = [];
  const duplicates: string[] = [];
  // reviewer → item → preference (challenger's view), and the line it came from
  const byReviewer = new Map<string, Map<string, Preference>>();
  const ratedAt = new Map<string, number>();
  for (const { line, fields: r } of records) {
    const at = `${ratingsFile}:${line}`;
    const item = (r[iItem] ?? '').trim();
    const reviewer = (r[iReviewer] ?? '').trim();
    const pref = (r[iPref] ?? '').trim().toUpperCase();
    if (pref === '' && reviewer === '') continue; // unrated template row
    const k = key.items[item];
    if (!k) {
      problems.push(`${at}: unknown item "${item}"`);
      continue;
    }
    if (reviewer === '') {
      problems.push(`${at}: reviewer missing`);
      continue;
    }
    let p: Preference;
    if (pref === 'TIE') p = 'tie';
    else if (pref === 'A' || pref === 'B') p = k[pref] === key.challenger ? 'win' : 'loss';
    else {
      problems.push(`${at}: preference must be A, B or tie, got "${r[iPref] ?? ''}"`);
      continue;
    }
    // Two ratings of one item by one reviewer: which one they meant is theirs to say, not ours to guess.
    const first = ratedAt.get(`${reviewer}\u0000${item}`);
    if (first !== undefined) {
      duplicates.push(`${at}: ${reviewer} rated ${item} again (first at line ${first}); keep one rating`);
      continue;
    }
    ratedAt.set(`${reviewer}\u0000${item}`, line);
    const m = byReviewer.get(reviewer) ?? new Map<string, Preference>();
    m.set(item, p);
    byReviewer.set(reviewer, m);
  }
  if (duplicates.length > 0) throw new Error(duplicates.join('\n'));
  const perItem = new Map<string, Preference[]>();
  for (const m of byReviewer.values()) for (const [item, p] of m) perItem.set(item, [...(perItem.get(item) ?? []), p]);
  let wins = 0;
  let ties = 0;
  let losses = 0;
  for (const prefs of perItem.values()) {
    const w = prefs.filter((p) => p === 'win').length;
    const l = prefs.filter((p) => p === 'loss').length;
    if (w > l) wins++;
    else if (l > w) losses++;
    else ties++;
  }
  const reviewers = [...byReviewer.keys()].sort();
  const agreement: ReviewSummary['agreement'] = [];
  for (let i = 0; i < reviewers.length; i++) {
    for (let j = i + 1; j < reviewers.length; j++) {
      const a = byReviewer.get(reviewers[i] as string) as Map<string, Preference>;
      const b = byReviewer.get(reviewers[j] as string) as Map<string, Preference>;
      const shared = [...a.keys()].filter((item) => b.has(item));
      if (shared.length === 0) continue;
      const k = cohensKappa(shared.map((s) => a.get(s) as string), shared.map((s) => b.get(s) as string));
      agreement.push({ reviewers: [reviewers[i] as string, reviewers[j] as string], items: shared.length, kappa: k.kappa, observed: k.observed });
    }
  }
  return {
    champion: key.champion,
    challenger: key.challenger,
    ratings: [...byReviewer.values()].reduce((s, m) => s + m.size, 0),
    items: perItem.size,
    wins,
    ties,
    losses,
    signTestP: signTest(wins, losses).pValue,
    agreement,
    problems,
  };
}

export function reviewMarkdown(s: ReviewSummary): string {
  return [
    `# Blind review: ${s.challenger} vs ${s.champion}`,
    '',
    `${s.ratings} ratings on ${s.items} items. Per item (reviewers' majority), the challenger:`,
    `- wins ${s.wins}, ties ${s.ties}, loses ${s.losses}`,
    `- sign test (ties dropped): p = ${s.signTestP.toFixed(4)}`,
    '',
    '## Reviewer agreement (Cohen\'s kappa)',
    ...(s.agreement.length
      ? s.agreement.map((a) => `- ${a.reviewers[0]} vs ${a.reviewers[1]}: κ = ${Number.isNaN(a.kappa) ? 'n/a' : a.kappa.toFixed(2)} on ${a.items} shared items (raw agreement ${(a.observed * 100).toFixed(0)} %)`)
      : ['- fewer than two reviewers rated the same items: agreement not measured']),
    ...(s.problems.length ? ['', '## Problems', ...s.problems.map((p) => `- ${p}`)] : []),
    '',
  ].join('\n');
}
