// Load a YAML config file into a typed, validated, resolved Config — or fail with `file:path: reason`
// lines. Everything after this module trusts the Config it is given.
import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject } from 'ajv';
import { ConfigSchema, type RawConfig } from './schema.js';
import { interpolate, type InterpolationIssue } from './interpolate.js';
import { resolveConfig, type Config } from './types.js';
import { compileCheck, validateCheckSpec } from '../checks/index.js';
import { dotted, parseYaml, pointerPath, problemLine } from './yaml-location.js';

export class ConfigError extends Error {
  constructor(readonly lines: string[]) {
    super(lines.join('\n'));
    this.name = 'ConfigError';
  }
}

// coerceTypes: an interpolated `${PORT:-8080}` is a string in YAML but means a number. Only
// interpolated values may be converted; literalCoercions() reports any other conversion.
const ajv = new Ajv({ allErrors: true, strict: false, coerceTypes: true });
const validateSchema = ajv.compile<RawConfig>(ConfigSchema);

export function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError([`${file}: cannot read file: ${(err as Error).message}`]);
  }
  return parseConfig(text, file, env);
}

export function parseConfig(text: string, file: string, env: NodeJS.ProcessEnv = process.env): Config {
  const yaml = parseYaml(text, file);
  if ('errors' in yaml) throw new ConfigError(yaml.errors);
  const { value: parsed, where } = yaml;
  if (parsed === null || typeof parsed !== 'object') {
    throw new ConfigError([`${file}:(root): expected a YAML mapping${parsed === null ? ' (the file is empty)' : ''}`]);
  }

  const missing: InterpolationIssue[] = [];
  const substituted: (string | number)[][] = [];
  const interpolated = interpolate(parsed, env, missing, substituted);
  if (missing.length > 0) {
    throw new ConfigError(
      missing.map(
        (m) => problemLine(file, m.path, `environment variable ${m.variable} is ${m.empty ? 'set but empty' : 'not set'}`, where),
      ),
    );
  }

  const asWritten = structuredClone(interpolated);
  const valid = validateSchema(interpolated);
  const lines = valid
    ? []
    : uniqueErrors(validateSchema.errors ?? []).map((e) => {
        const path = pointerPath(e.instancePath, interpolated);
        return problemLine(file, path, describeSchemaError(e), where);
      });
  // `percent: true` would otherwise become 1 and `percent:` (null) 0, silently.
  const converted = new Set(substituted.map((p) => dotted(p)));
  for (const p of literalCoercions(asWritten, interpolated, [])) {
    if (!converted.has(dotted(p.path))) lines.push(problemLine(file, p.path, p.reason, where));
  }
  if (!valid || lines.length > 0) throw new ConfigError(lines);

  const raw = interpolated;
  const problems = crossCheck(raw, env);
  if (problems.length > 0) {
    throw new ConfigError(problems.map((p) => problemLine(file, p.path, p.reason, where)));
  }
  return resolveConfig(raw, file, env);
}

interface Problem {
  path: (string | number)[];
  reason: string;
}

// References and uniqueness that JSON Schema can't express.
function crossCheck(raw: RawConfig, env: NodeJS.ProcessEnv): Problem[] {
  const problems: Problem[] = [];
  for (const [name, model] of Object.entries(raw.models)) {
    if (!raw.providers[model.provider]) {
      problems.push({
        path: ['models', name, 'provider'],
        reason: `provider "${model.provider}" is not defined under providers (have: ${Object.keys(raw.providers).join(', ')})`,
      });
    }
    if (model.simulation && raw.providers[model.provider] && raw.providers[model.provider]?.type !== 'simulator') {
      problems.push({
        path: ['models', name, 'simulation'],
        reason: `simulation settings only apply to models whose provider has type: simulator`,
      });
    }
  }
  const claimed = new Map<string, string>();
  for (const route of Object.keys(raw.routes)) claimed.set(route, route);
  for (const [name, route] of Object.entries(raw.routes)) {
    for (const field of ['champion', 'challenger'] as const) {
      const model = route[field];
      if (model !== undefined && !raw.models[model]) {
        problems.push({
          path: ['routes', name, field],
          reason: `model "${model}" is not defined under models (have: ${Object.keys(raw.models).join(', ')})`,
        });
      }
    }
    if (route.challenger !== undefined && route.challenger === route.champion) {
      problems.push({ path: ['routes', name, 'challenger'], reason: 'challenger must differ from champion' });
    }
    if (route.challenger === undefined && (route.rollout?.percent ?? 0) > 0) {
      problems.push({ path: ['routes', name, 'rollout', 'percent'], reason: 'a route without a challenger must have percent 0' });
    }
    (route.aliases ?? []).forEach((alias, i) => {
      const owner = claimed.get(alias);
      if (owner !== undefined) {
        problems.push({
          path: ['routes', name, 'aliases', i],
          reason: `"${alias}" is already ${owner === alias ? 'a route name' : `an alias of route "${owner}"`}`,
        });
      } else claimed.set(alias, name);
    });
    const seen = new Set<string>();
    (route.checks ?? []).forEach(({ when: _when, ...check }, i) => {
      if (seen.has(check.name)) problems.push({ path: ['routes', name, 'checks', i, 'name'], reason: `duplicate check name "${check.name}"` });
      seen.add(check.name);
      try {
        compileCheck(validateCheckSpec(check));
      } catch (err) {
        problems.push({ path: ['routes', name, 'checks', i], reason: (err as Error).message });
      }
    });
    (route.sampling?.redact ?? []).forEach((pattern, i) => {
      try {
        new RegExp(pattern.regex, 'g');
      } catch (err) {
        problems.push({ path: ['routes', name, 'sampling', 'redact', i, 'regex'], reason: (err as Error).message });
      }
    });
  }
  if (raw.datasets?.store === 'redis' && !raw.state?.redis && !env.REDIS_URL) {
    problems.push({ path: ['datasets', 'store'], reason: 'store "redis" needs state.redis (or REDIS_URL)' });
  }
  const names = new Map<string, number>();
  for (const [kind, list] of [
    ['clientKeys', raw.auth?.clientKeys ?? []],
    ['adminTokens', raw.auth?.adminTokens ?? []],
  ] as const) {
    list.forEach((entry, i) => {
      const key = `${kind}:${entry.name}`;
      if (names.has(key)) problems.push({ path: ['auth', kind, i, 'name'], reason: `duplicate name "${entry.name}"` });
      names.set(key, i);
    });
  }
  return problems;
}

/** Values whose type Ajv's coercion changed: `before` as parsed, `after` as validated. */
function literalCoercions(before: unknown, after: unknown, path: (string | number)[]): Problem[] {
  if (Array.isArray(before) && Array.isArray(after)) return before.flatMap((item, i) => literalCoercions(item, after[i], [...path, i]));
  if (isPlainObject(before) && isPlainObject(after)) {
    return Object.keys(before).flatMap((key) => (key in after ? literalCoercions(before[key], after[key], [...path, key]) : []));
  }
  if (typeof before === typeof after) return [];
  const written = typeof before === 'string' ? `the string ${JSON.stringify(before)}` : String(before);
  return [{ path, reason: `must be ${typeof after}, not ${written}` }];
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function uniqueErrors(errors: ErrorObject[]): ErrorObject[] {
  // A failed union reports one error per branch; keep the most specific (deepest) ones per path.
  const byPath = new Map<string, ErrorObject[]>();
  for (const e of errors) {
    const list = byPath.get(e.instancePath) ?? [];
    list.push(e);
    byPath.set(e.instancePath, list);
  }
  const paths = [...byPath.keys()];
  const out: ErrorObject[] = [];
  for (const [path, list] of byPath) {
    const hasDeeper = paths.some((p) => p !== path && p.startsWith(`${path}/`));
    if (hasDeeper && list.every((e) => e.keyword === 'anyOf' || e.keyword === 'type' || e.keyword === 'const')) continue;
    const seen = new Set<string>();
    for (const e of list) {
      if (e.keyword === 'anyOf' && list.length > 1) continue;
      const text = describeSchemaError(e);
      if (!seen.has(text)) out.push(e);
      seen.add(text);
    }
  }
  return out;
}

/** One Ajv error as a short human reason (shared by every YAML file we validate). */
export function describeSchemaError(e: ErrorObject): string {
  switch (e.keyword) {
    case 'additionalProperties':
      return `unknown key "${String(e.params.additionalProperty)}"`;
    case 'required':
      return `missing required key "${String(e.params.missingProperty)}"`;
    case 'const':
      return `must be ${JSON.stringify(e.params.allowedValue)}`;
    case 'anyOf':
      return 'is not one of the allowed values or forms';
    default:
      return e.message ?? e.keyword;
  }
}
