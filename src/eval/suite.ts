/**
 * The eval suite file: what to run (datasets, variants), how to score it (gates, weighted
 * dimensions, floors, pass threshold) and how to decide (non-inferiority margin, block rules).
 * Validated up front like the gateway config — unknown keys are errors, reported as
 * `file:path: reason (line N)` lines — so nothing later re-validates.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { Ajv, type ValidateFunction } from 'ajv';
import { describeSchemaError } from '../config/load.js';
import { parseYaml, pointerPath, problemLine, type Locator, type YamlPath } from '../config/yaml-location.js';
import { CoverageSpec, PrecisionSpec } from './coverage.js';

export class SuiteError extends Error {
  constructor(readonly lines: string[]) {
    super(lines.join('\n'));
    this.name = 'SuiteError';
  }
}

const Opt = Type.Optional;
const Strict = { additionalProperties: false } as const;
const Fraction = Type.Number({ minimum: 0, maximum: 1 });

export const Difficulty = Type.Union([Type.Literal('easy'), Type.Literal('hard'), Type.Literal('adversarial')]);
export const Split = Type.Union([Type.Literal('regression'), Type.Literal('full'), Type.Literal('holdout')]);
export type Difficulty = Static<typeof Difficulty>;
export type Split = Static<typeof Split>;

/**
 * A check entry. Its parameters belong to the checks library (or to the judge), so the suite
 * schema only requires `type` here; the entry is validated precisely in a second pass.
 */
const CheckEntry = Type.Object({ type: Type.String(), name: Opt(Type.String()) }, { additionalProperties: true });
export type CheckEntry = Static<typeof CheckEntry> & { [param: string]: unknown };

export const JudgeCheckSchema = Type.Object(
  {
    type: Type.Literal('llm-rubric'),
    name: Type.String({ pattern: '^[a-z0-9_]+$' }),
    rubric: Type.String({ minLength: 1, description: 'what the judge grades, in plain words' }),
    labels: Type.Record(Type.String({ pattern: '^[a-z0-9_-]+$' }), Fraction, {
      minProperties: 2,
      description: 'categorical judge labels mapped to scores 0..1',
    }),
    includeReference: Opt(Type.Boolean()),
    includeSources: Opt(Type.Boolean()),
  },
  Strict,
);
export type JudgeCheckSpec = Static<typeof JudgeCheckSchema>;

const Variant = Type.Object(
  {
    route: Opt(Type.String({ minLength: 1 })),
    variant: Opt(Type.Union([Type.Literal('champion'), Type.Literal('challenger')])),
    model: Opt(Type.String({ minLength: 1 })),
  },
  Strict,
);

const Message = Type.Object({ role: Type.String(), content: Type.Unknown() }, { additionalProperties: true });

const RequestSpec = Type.Object(
  {
    messages: Type.Array(Message, { minItems: 1 }),
    tools: Opt(Type.Array(Type.Unknown())),
    response_format: Opt(Type.Unknown()),
    params: Opt(Type.Record(Type.String(), Type.Unknown())),
  },
  Strict,
);
export type RequestSpec = Static<typeof RequestSpec>;

export const SuiteSchema = Type.Object(
  {
    name: Type.String({ pattern: '^[A-Za-z0-9_.-]+$' }),
    description: Opt(Type.String()),
    datasets: Type.Array(
      Type.Object(
        {
          path: Type.String({ minLength: 1, description: 'YAML list of cases or a JSONL dataset, relative to the suite' }),
          split: Opt(Split),
        },
        Strict,
      ),
      { minItems: 1 },
    ),
    freshFrom: Opt(Type.String({ description: 'dataset (route) name for --fresh N production samples' })),
    prompt: Opt(
      Type.Object(
        {
          system: Opt(Type.String()),
          template: Opt(Type.String()),
          responseFormat: Opt(Type.Unknown()),
          params: Opt(Type.Record(Type.String(), Type.Unknown())),
        },
        Strict,
      ),
    ),
    variants: Type.Record(Type.String({ pattern: '^[a-z0-9_-]+$' }), Variant, { minProperties: 1 }),
    compare: Opt(Type.Object({ champion: Type.String(), challenger: Type.String() }, Strict)),
    gates: Opt(Type.Array(CheckEntry)),
    dimensions: Type.Array(
      Type.Object(
        {
          name: Type.String({ pattern: '^[a-z0-9_]+$' }),
          weight: Type.Number({ exclusiveMinimum: 0 }),
          floor: Opt(Fraction),
          checks: Type.Array(CheckEntry, { minItems: 1 }),
        },
        Strict,
      ),
      { minItems: 1 },
    ),
    passThreshold: Opt(Fraction),
    economics: Opt(
      Type.Object(
        {
          monthlyVolume: Opt(Type.Integer({ minimum: 0 })),
          retry: Opt(
            Type.Object(
              {
                maxAttempts: Type.Integer({ minimum: 1, maximum: 10 }),
                on: Opt(Type.Union([Type.Literal('error'), Type.Literal('gate-failure')])),
              },
              Strict,
            ),
          ),
        },
        Strict,
      ),
    ),
    decision: Opt(
      Type.Object(
        {
          nonInferiorityMargin: Opt(Fraction),
          alpha: Opt(Type.Number({ exclusiveMinimum: 0, maximum: 0.5 })),
          minPassRate: Opt(Fraction),
          block: Opt(
            Type.Object(
              {
                criticalRegression: Opt(Type.Boolean()),
                maxRegressions: Opt(Type.Integer({ minimum: 0 })),
                maxCostIncrease: Opt(Type.Number({ minimum: 0, description: 'fraction, 0.2 = +20 % cost per success' })),
              },
              Strict,
            ),
          ),
        },
        Strict,
      ),
    ),
    judge: Opt(
      Type.Object(
        {
          route: Opt(Type.String()),
          model: Opt(Type.String()),
          variant: Opt(Type.Union([Type.Literal('champion'), Type.Literal('challenger')])),
          maxInvalidFraction: Opt(Fraction),
        },
        Strict,
      ),
    ),
    run: Opt(
      Type.Object(
        {
          concurrency: Opt(Type.Integer({ minimum: 1, maximum: 256 })),
          timeoutMs: Opt(Type.Integer({ minimum: 1 })),
          seed: Opt(Type.Integer()),
        },
        Strict,
      ),
    ),
  },
  Strict,
);
export type RawSuite = Static<typeof SuiteSchema>;

export const CaseSchema = Type.Object(
  {
    id: Type.String({ minLength: 1 }),
    difficulty: Opt(Difficulty),
    tags: Opt(Type.Array(Type.String())),
    critical: Opt(Type.Boolean()),
    split: Opt(Split),
    reference: Opt(Type.Unknown()),
    prompt: Opt(Type.String({ description: 'template overriding the suite template for this case' })),
    vars: Opt(Type.Record(Type.String(), Type.String())),
    request: Opt(RequestSpec),
  },
  Strict,
);
export type RawCase = Static<typeof CaseSchema>;

export interface VariantTarget {
  name: string;
  /** What goes into the request's `model` field: a route (or alias) or a model name. */
  model: string;
  /** Forced arm, sent as `x-bellwether-variant`. */
  forceVariant?: 'champion' | 'challenger';
}

export interface Dimension {
  name: string;
  /** Normalised so all weights sum to 1. */
  weight: number;
  floor?: number;
  checks: CheckEntry[];
}

export interface Suite {
  file: string;
  dir: string;
  name: string;
  description?: string;
  datasets: { path: string; split?: Split }[];
  freshFrom?: string;
  prompt: { system?: string; template?: string; responseFormat?: unknown; params: Record<string, unknown> };
  variants: VariantTarget[];
  compare?: { champion: string; challenger: string };
  gates: CheckEntry[];
  dimensions: Dimension[];
  passThreshold: number;
  economics: { monthlyVolume: number; retry: { maxAttempts: number; on: 'error' | 'gate-failure' } };
  decision: {
    nonInferiorityMargin: number;
    alpha: number;
    minPassRate?: number;
    block: { criticalRegression: boolean; maxRegressions?: number; maxCostIncrease?: number };
  };
  judge?: { model: string; forceVariant?: 'champion' | 'challenger'; maxInvalidFraction: number };
  run: { concurrency: number; timeoutMs: number; seed: number };
}

export interface ChatRequest {
  messages: { role: string; content: unknown; [k: string]: unknown }[];
  tools?: unknown[];
  response_format?: unknown;
  params: Record<string, unknown>;
}

export interface EvalCase {
  id: string;
  difficulty: Difficulty;
  tags: string[];
  critical: boolean;
  split: Split;
  reference?: unknown;
  /** Texts the checks may look things up in ("entities present in the source"). */
  sources: Record<string, string>;
  request: ChatRequest;
  origin: 'handwritten' | 'production';
  file: string;
}

/** Validates one non-judge check spec; returns a reason, or undefined when it is fine. */
export type CheckValidator = (spec: CheckEntry) => string | undefined;

const ajv = new Ajv({ allErrors: true, strict: false });
const compiled = new Map<TSchema, ValidateFunction>();
function validatorFor(schema: TSchema): ValidateFunction {
  let v = compiled.get(schema);
  if (!v) {
    v = ajv.compile(schema);
    compiled.set(schema, v);
  }
  return v;
}

type Path = YamlPath;

/** Ajv errors → `file:path: reason (line N)` lines, one per distinct problem. */
export function schemaErrors(schema: TSchema, value: unknown, file: string, base: Path = [], where?: Locator): string[] {
  const validate = validatorFor(schema);
  if (validate(value)) return [];
  const errors = validate.errors ?? [];
  // A failed union reports every branch; keep the summary and drop the branch noise.
  const unionPaths = new Set(errors.filter((e) => e.keyword === 'anyOf').map((e) => e.instancePath));
  const lines = errors
    .filter((e) => e.keyword === 'anyOf' || !unionPaths.has(e.instancePath))
    .map((e) => {
      return problemLine(file, [...base, ...pointerPath(e.instancePath, value)], describeSchemaError(e), where);
    });
  return [...new Set(lines)];
}

/** A YAML file's value, and a locator that names the line of any path in it. */
function readYaml(file: string): { value: unknown; where: Locator } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new SuiteError([`${file}: cannot read file: ${(err as Error).message}`]);
  }
  const yaml = parseYaml(text, file);
  if ('errors' in yaml) throw new SuiteError(yaml.errors);
  return yaml;
}

/** Load and validate a suite file. Cases are loaded separately (`loadCases`). */
export function loadSuite(file: string, validateCheck: CheckValidator): Suite {
  const { value: raw, where } = readYaml(file);
  const lines = schemaErrors(SuiteSchema, raw, file, [], where);
  if (lines.length > 0) throw new SuiteError(lines);
  const s = raw as RawSuite;
  const problems: string[] = [];
  const at = (path: Path, reason: string) => problems.push(problemLine(file, path, reason, where));

  const variants: VariantTarget[] = [];
  for (const [name, v] of Object.entries(s.variants)) {
    if ((v.route === undefined) === (v.model === undefined)) at(['variants', name], 'give exactly one of "route" or "model"');
    else if (v.model !== undefined && v.variant !== undefined) at(['variants', name, 'variant'], 'a forced variant needs "route", not "model"');
    else variants.push({ name, model: (v.route ?? v.model) as string, ...(v.variant ? { forceVariant: v.variant } : {}) });
  }
  const compare = s.compare ?? (s.variants.champion && s.variants.challenger ? { champion: 'champion', challenger: 'challenger' } : undefined);
  if (s.compare) {
    for (const key of ['champion', 'challenger'] as const) {
      if (!s.variants[s.compare[key]]) at(['compare', key], `no variant named "${s.compare[key]}"`);
    }
  }

  const checkNames = new Set<string>();
  const checkEntry = (entry: CheckEntry, path: Path, allowJudge: boolean) => {
    const name = entry.name ?? '';
    if (checkNames.has(name)) at([...path, 'name'], `duplicate check name "${name}"`);
    checkNames.add(name);
    if (entry.type === 'llm-rubric') {
      if (!allowJudge) at([...path, 'type'], 'a judge check cannot be a gate (an invalid judge answer must not fail a case)');
      problems.push(...schemaErrors(JudgeCheckSchema, entry, file, path, where));
      if (!s.judge) at([...path], 'llm-rubric needs a top-level "judge" section');
      return;
    }
    if (entry.type === 'reference-coverage' || entry.type === 'reference-precision') {
      problems.push(...schemaErrors(entry.type === 'reference-coverage' ? CoverageSpec : PrecisionSpec, entry, file, path, where));
      return;
    }
    const reason = validateCheck(entry);
    if (reason !== undefined) at(path, reason);
  };
  (s.gates ?? []).forEach((g, i) => checkEntry(g, ['gates', i], false));
  const dimNames = new Set<string>();
  s.dimensions.forEach((d, i) => {
    if (dimNames.has(d.name)) at(['dimensions', i, 'name'], `duplicate dimension "${d.name}"`);
    dimNames.add(d.name);
    d.checks.forEach((c, j) => checkEntry(c, ['dimensions', i, 'checks', j], true));
  });
  if (s.judge && (s.judge.route === undefined) === (s.judge.model === undefined)) at(['judge'], 'give exactly one of "route" or "model"');
  if (problems.length > 0) throw new SuiteError(problems);

  const total = s.dimensions.reduce((sum, d) => sum + d.weight, 0);
  const dir = dirname(resolve(file));
  return {
    file,
    dir,
    name: s.name,
    ...(s.description !== undefined ? { description: s.description } : {}),
    datasets: s.datasets.map((d) => ({ path: resolve(dir, d.path), ...(d.split ? { split: d.split } : {}) })),
    ...(s.freshFrom !== undefined ? { freshFrom: s.freshFrom } : {}),
    prompt: {
      ...(s.prompt?.system !== undefined ? { system: s.prompt.system } : {}),
      ...(s.prompt?.template !== undefined ? { template: s.prompt.template } : {}),
      ...(s.prompt?.responseFormat !== undefined ? { responseFormat: s.prompt.responseFormat } : {}),
      params: s.prompt?.params ?? {},
    },
    variants,
    ...(compare ? { compare } : {}),
    gates: s.gates ?? [],
    dimensions: s.dimensions.map((d) => ({
      name: d.name,
      weight: d.weight / total,
      ...(d.floor !== undefined ? { floor: d.floor } : {}),
      checks: d.checks,
    })),
    passThreshold: s.passThreshold ?? 0.7,
    economics: {
      monthlyVolume: s.economics?.monthlyVolume ?? 100_000,
      retry: { maxAttempts: s.economics?.retry?.maxAttempts ?? 1, on: s.economics?.retry?.on ?? 'error' },
    },
    decision: {
      nonInferiorityMargin: s.decision?.nonInferiorityMargin ?? 0.05,
      alpha: s.decision?.alpha ?? 0.05,
      ...(s.decision?.minPassRate !== undefined ? { minPassRate: s.decision.minPassRate } : {}),
      block: {
        criticalRegression: s.decision?.block?.criticalRegression ?? true,
        ...(s.decision?.block?.maxRegressions !== undefined ? { maxRegressions: s.decision.block.maxRegressions } : {}),
        ...(s.decision?.block?.maxCostIncrease !== undefined ? { maxCostIncrease: s.decision.block.maxCostIncrease } : {}),
      },
    },
    ...(s.judge
      ? {
          judge: {
            model: (s.judge.route ?? s.judge.model) as string,
            ...(s.judge.variant ? { forceVariant: s.judge.variant } : {}),
            maxInvalidFraction: s.judge.maxInvalidFraction ?? 0.1,
          },
        }
      : {}),
    run: { concurrency: s.run?.concurrency ?? 8, timeoutMs: s.run?.timeoutMs ?? 60_000, seed: s.run?.seed ?? 42 },
  };
}

const VAR = /\{\{\s*([A-Za-z0-9_]+)\s*\}\}/g;

/** `{{name}}` substitution; an unknown variable is an error rather than an empty string in a prompt. */
export function renderTemplate(template: string, vars: Record<string, string>): { text: string; missing: string[] } {
  const missing: string[] = [];
  const text = template.replace(VAR, (_, name: string) => {
    const v = vars[name];
    if (v === undefined) {
      missing.push(name);
      return '';
    }
    return v;
  });
  return { text, missing };
}

function handwrittenCase(raw: RawCase, suite: Suite, file: string, path: Path, defaultSplit: Split | undefined, problems: string[], where: Locator): EvalCase | undefined {
  const vars = raw.vars ?? {};
  let request: ChatRequest;
  if (raw.request) {
    if (raw.prompt !== undefined || raw.vars !== undefined) {
      problems.push(problemLine(file, [...path, 'request'], 'give either "request" (recorded messages) or "prompt"/"vars", not both', where));
      return undefined;
    }
    request = {
      messages: raw.request.messages,
      ...(raw.request.tools ? { tools: raw.request.tools } : {}),
      ...(raw.request.response_format !== undefined ? { response_format: raw.request.response_format } : {}),
      params: raw.request.params ?? {},
    };
  } else {
    const template = raw.prompt ?? suite.prompt.template;
    if (template === undefined) {
      problems.push(problemLine(file, path, 'no "request", no "prompt" and the suite has no prompt.template', where));
      return undefined;
    }
    const user = renderTemplate(template, vars);
    const system = suite.prompt.system !== undefined ? renderTemplate(suite.prompt.system, vars) : undefined;
    const missing = [...user.missing, ...(system?.missing ?? [])];
    if (missing.length > 0) {
      problems.push(problemLine(file, [...path, 'vars'], `template variable(s) not set: ${[...new Set(missing)].join(', ')}`, where));
      return undefined;
    }
    request = {
      messages: [...(system ? [{ role: 'system', content: system.text }] : []), { role: 'user', content: user.text }],
      ...(suite.prompt.responseFormat !== undefined ? { response_format: suite.prompt.responseFormat } : {}),
      params: suite.prompt.params,
    };
  }
  return {
    id: raw.id,
    difficulty: raw.difficulty ?? 'easy',
    tags: raw.tags ?? [],
    critical: raw.critical ?? false,
    split: raw.split ?? defaultSplit ?? 'full',
    ...(raw.reference !== undefined ? { reference: raw.reference } : {}),
    sources: { ...vars, input: lastUserText(request) },
    request,
    origin: 'handwritten',
    file,
  };
}

function lastUserText(request: ChatRequest): string {
  const user = [...request.messages].reverse().find((m) => m.role === 'user');
  if (!user) return '';
  if (typeof user.content === 'string') return user.content;
  // Content parts: keep the text parts, which is what a check can look entities up in.
  if (Array.isArray(user.content)) {
    return user.content
      .map((p: unknown) => (p && typeof p === 'object' && 'text' in p && typeof p.text === 'string' ? p.text : ''))
      .join('\n');
  }
  return '';
}

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/**
 * One JSONL line of a production dataset (PRODUCT.md section 8) → a case. Recorded messages are
 * replayed as-is (no templating) so the eval sees exactly what production sent.
 */
export function productionCase(line: unknown, file: string, where: string, defaultSplit?: Split): EvalCase | string {
  if (!isRecord(line)) return `${file}:${where}: expected a JSON object`;
  const { id, request } = line;
  if (id === undefined) return `${file}:${where}.id: missing`;
  if (typeof id !== 'string' || id === '') return `${file}:${where}.id: must be a non-empty string, got ${JSON.stringify(id)}`;
  if (!isRecord(request) || !Array.isArray(request.messages) || request.messages.length === 0) {
    return `${file}:${where}.request.messages: missing or empty`;
  }
  // A typo must be an error here: "split": "regresion" silently became "full" and the case
  // vanished from the regression suite; "difficulty": "medium" silently became "easy".
  const problem = (key: string, what: string) => `${file}:${where}.${key}: must be ${what}, got ${JSON.stringify(line[key])}`;
  const given = (key: string) => line[key] !== undefined && line[key] !== null;
  const DIFFICULTIES = ['easy', 'hard', 'adversarial'] as const;
  const SPLITS = ['regression', 'full', 'holdout'] as const;
  if (given('split') && !(SPLITS as readonly unknown[]).includes(line.split)) return problem('split', `one of ${SPLITS.join(', ')}`);
  if (given('difficulty') && !(DIFFICULTIES as readonly unknown[]).includes(line.difficulty)) return problem('difficulty', `one of ${DIFFICULTIES.join(', ')}`);
  if (given('critical') && typeof line.critical !== 'boolean') return problem('critical', 'true or false');
  if (given('tags') && !(Array.isArray(line.tags) && line.tags.every((x) => typeof x === 'string'))) return problem('tags', 'a list of strings');
  const difficulty = given('difficulty') ? (line.difficulty as Difficulty) : 'easy';
  const split = given('split') ? (line.split as Split) : defaultSplit ?? 'full';
  const req: ChatRequest = {
    messages: request.messages as ChatRequest['messages'],
    ...(Array.isArray(request.tools) ? { tools: request.tools as unknown[] } : {}),
    ...(request.response_format !== undefined ? { response_format: request.response_format } : {}),
    params: isRecord(request.params) ? request.params : {},
  };
  return {
    id,
    difficulty,
    tags: Array.isArray(line.tags) ? (line.tags as string[]) : [],
    critical: line.critical === true,
    split,
    ...(line.reference !== undefined && line.reference !== null ? { reference: line.reference } : {}),
    sources: { input: lastUserText(req) },
    request: req,
    origin: 'production',
    file,
  };
}

/** Parse JSONL text into cases; bad lines become `file:line N: reason` problems. */
export function parseJsonlCases(text: string, file: string, defaultSplit?: Split): { cases: EvalCase[]; problems: string[] } {
  const cases: EvalCase[] = [];
  const problems: string[] = [];
  // An editor's byte-order mark is not part of the first record.
  text.replace(/^\uFEFF/, '').split('\n').forEach((l, i) => {
    if (l.trim() === '') return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(l);
    } catch (err) {
      problems.push(`${file}:line ${i + 1}: not JSON: ${(err as Error).message}`);
      return;
    }
    const c = productionCase(parsed, file, `line ${i + 1}`, defaultSplit);
    if (typeof c === 'string') problems.push(c);
    else cases.push(c);
  });
  return { cases, problems };
}

/** Load every dataset of the suite. Case ids must be unique across files: results are keyed by them. */
export function loadCases(suite: Suite): EvalCase[] {
  const cases: EvalCase[] = [];
  const problems: string[] = [];
  for (const ds of suite.datasets) {
    if (ds.path.endsWith('.jsonl')) {
      let text: string;
      try {
        text = readFileSync(ds.path, 'utf8');
      } catch (err) {
        problems.push(`${ds.path}: cannot read file: ${(err as Error).message}`);
        continue;
      }
      const parsed = parseJsonlCases(text, ds.path, ds.split);
      cases.push(...parsed.cases);
      problems.push(...parsed.problems);
      continue;
    }
    let raw: unknown;
    let where: Locator;
    try {
      ({ value: raw, where } = readYaml(ds.path));
    } catch (err) {
      problems.push(...(err instanceof SuiteError ? err.lines : [String(err)]));
      continue;
    }
    if (!Array.isArray(raw)) {
      problems.push(`${ds.path}:(root): expected a YAML list of cases`);
      continue;
    }
    raw.forEach((rc: unknown, i) => {
      const errs = schemaErrors(CaseSchema, rc, ds.path, [i], where);
      if (errs.length > 0) {
        problems.push(...errs);
        return;
      }
      const c = handwrittenCase(rc as RawCase, suite, ds.path, [i], ds.split, problems, where);
      if (c) cases.push(c);
    });
  }
  const seen = new Set<string>();
  for (const c of cases) {
    if (seen.has(c.id)) problems.push(`${c.file}: duplicate case id "${c.id}"`);
    seen.add(c.id);
  }
  if (problems.length > 0) throw new SuiteError(problems);
  return cases;
}

/** `regression` runs the regression split; `full` runs everything but the holdout; `holdout` only it. */
export function selectSplit(cases: readonly EvalCase[], split: Split): EvalCase[] {
  if (split === 'full') return cases.filter((c) => c.split !== 'holdout');
  return cases.filter((c) => c.split === split);
}
