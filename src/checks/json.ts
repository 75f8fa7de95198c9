import { Ajv, type AnySchemaObject, type ValidateFunction } from 'ajv';
import { Ajv2020 } from 'ajv/dist/2020.js';
import formatsModule from 'ajv-formats';
import { Type, type Static } from '@sinclair/typebox';
import { AllowCodeFence, checkSpec, verdict, type Run } from './shared.js';
import { CheckConfigError } from './types.js';

// ajv-formats is CommonJS; under NodeNext its default import is the module object, whose
// `.default` is the plugin itself (at runtime both are the same function).
const addFormats = formatsModule.default;

export const IsJsonSpec = checkSpec('is-json', { allowCodeFence: AllowCodeFence });
export const JsonSchemaSpec = checkSpec('json-schema', {
  schema: Type.Record(Type.String(), Type.Unknown(), {
    description: 'JSON Schema (draft-07; draft 2020-12 when "$schema" says so)',
  }),
  allowCodeFence: AllowCodeFence,
});

export type ParsedJson = { ok: true; value: unknown } | { ok: false; reason: string };

const FENCED = /^```[a-zA-Z]*[ \t]*\r?\n([\s\S]*?)\r?\n?```$/;

/** Parse the output as JSON, explaining failures well enough to tell truncation from chatter. */
export function parseOutputJson(output: string, allowCodeFence = false): ParsedJson {
  let text = output.trim();
  if (allowCodeFence) text = FENCED.exec(text)?.[1]?.trim() ?? text;
  if (text === '') return { ok: false, reason: 'output is empty, not JSON' };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (err) {
    const hint = looksTruncated(text) ? ' (looks truncated: unclosed string or bracket at the end)' : '';
    return { ok: false, reason: `not valid JSON${hint}: ${(err as Error).message}` };
  }
}

/** Unclosed brackets or an open string at the end mean the answer was cut off (max_tokens, a dropped stream). */
function looksTruncated(text: string): boolean {
  let depth = 0;
  let inString = false;
  let escaped = false;
  for (const ch of text) {
    if (inString) {
      if (escaped) escaped = false;
      else if (ch === '\\') escaped = true;
      else if (ch === '"') inString = false;
    } else if (ch === '"') inString = true;
    else if (ch === '{' || ch === '[') depth++;
    else if (ch === '}' || ch === ']') depth--;
  }
  return inString || depth > 0;
}

export function compileIsJson(spec: Static<typeof IsJsonSpec>): Run {
  return ({ output }) => {
    const parsed = parseOutputJson(output, spec.allowCodeFence);
    return parsed.ok ? verdict(true, 'valid JSON') : verdict(false, parsed.reason);
  };
}

/**
 * A fresh Ajv per check: schemas carrying the same `$id` in two checks must not collide.
 * Strict about keywords and formats (a typo such as "requried" is a config error, not a silent
 * pass), lenient about legal-but-loose schemas such as `required` without `properties`.
 */
function schemaValidator(schema: AnySchemaObject): ValidateFunction {
  const options = { allErrors: true, strictTypes: false, strictTuples: false, strictRequired: false } as const;
  const is2020 = typeof schema.$schema === 'string' && schema.$schema.includes('2020-12');
  const ajv = is2020 ? new Ajv2020(options) : new Ajv(options);
  addFormats(ajv);
  return ajv.compile(schema);
}

export function compileJsonSchema(spec: Static<typeof JsonSchemaSpec>): Run {
  // An async schema compiles to a validator that returns a Promise, and a Promise is truthy: every
  // output would pass. Checks are synchronous, so such a schema can never run.
  if (containsAsync(spec.schema)) {
    throw new CheckConfigError('invalid JSON schema: "$async" schemas are not supported (checks are synchronous)');
  }
  let validate: ValidateFunction;
  try {
    validate = schemaValidator(spec.schema);
  } catch (err) {
    throw new CheckConfigError(`invalid JSON schema: ${(err as Error).message}`);
  }
  return ({ output }) => {
    const parsed = parseOutputJson(output, spec.allowCodeFence);
    if (!parsed.ok) return verdict(false, parsed.reason);
    if (validate(parsed.value)) return verdict(true, 'matches schema');
    const errors = validate.errors ?? [];
    const shown = errors.slice(0, 3).map((e) => `${e.instancePath || '/'} ${e.message ?? 'is invalid'}`);
    const more = errors.length > 3 ? ` (+${errors.length - 3} more)` : '';
    return verdict(false, `schema mismatch: ${shown.join('; ')}${more}`);
  };
}

/** True when any (sub)schema sets `$async: true`; Ajv makes the whole validator async then. */
function containsAsync(value: unknown): boolean {
  if (Array.isArray(value)) return value.some(containsAsync);
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  return record.$async === true || Object.values(record).some(containsAsync);
}
