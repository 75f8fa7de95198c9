/**
 * Deterministic quality checks, shared by online checks on live traffic and the offline eval runner.
 * Flow: a spec from config → `compileCheck` (validates, compiles regexes and schemas once, throws
 * CheckConfigError) → `evaluate(check, input)` per answer (never throws; a throw is an 'error').
 */
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { Type, type Static } from '@sinclair/typebox';
import { compileEquals, EqualsSpec } from './equals.js';
import { compileEntitiesInSource, EntitiesInSourceSpec } from './grounding.js';
import { compileIsJson, compileJsonSchema, IsJsonSpec, JsonSchemaSpec } from './json.js';
import { compileIsRefusal, IsRefusalSpec } from './refusal.js';
import { compileFinishReason, compileToolCalled, FinishReasonSpec, ToolCalledSpec } from './response.js';
import type { Run } from './shared.js';
import {
  compileContains,
  compileMaxLength,
  compileMaxTokens,
  compileRegexCheck,
  ContainsAllSpec,
  ContainsAnySpec,
  ContainsSpec,
  IContainsSpec,
  MaxLengthSpec,
  MaxTokensSpec,
  NotContainsSpec,
  NotRegexSpec,
  RegexSpec,
} from './text.js';
import { CheckConfigError, type CheckInput, type CheckResult } from './types.js';

export { CheckConfigError, type CheckInput, type CheckResult } from './types.js';

const SPECS = [
  IsJsonSpec,
  JsonSchemaSpec,
  RegexSpec,
  NotRegexSpec,
  ContainsSpec,
  IContainsSpec,
  ContainsAllSpec,
  ContainsAnySpec,
  NotContainsSpec,
  EqualsSpec,
  MaxLengthSpec,
  MaxTokensSpec,
  FinishReasonSpec,
  IsRefusalSpec,
  EntitiesInSourceSpec,
  ToolCalledSpec,
] as const;

/** Union of every check spec; embed it in config and eval-suite schemas. */
export const CheckSpecSchema = Type.Union([...SPECS]);
export type CheckSpec = Static<typeof CheckSpecSchema>;
export type CheckType = CheckSpec['type'];

/** The registry: one compiler per type. Adding a check = a spec in SPECS + a line here. */
const COMPILERS: { [S in CheckSpec as S['type']]: (spec: S) => Run } = {
  'is-json': compileIsJson,
  'json-schema': compileJsonSchema,
  regex: compileRegexCheck,
  'not-regex': compileRegexCheck,
  contains: compileContains,
  icontains: compileContains,
  'contains-all': compileContains,
  'contains-any': compileContains,
  'not-contains': compileContains,
  equals: compileEquals,
  'max-length': compileMaxLength,
  'max-tokens': compileMaxTokens,
  'finish-reason': compileFinishReason,
  'is-refusal': compileIsRefusal,
  'entities-in-source': compileEntitiesInSource,
  'tool-called': compileToolCalled,
};

export const CHECK_TYPES = Object.keys(COMPILERS) as CheckType[];

export interface CompiledCheck {
  name: string;
  type: string;
  /** May throw; call it through `evaluate`. */
  run(input: CheckInput): CheckResult;
}

export type CheckOutcome = { result: 'pass' | 'fail' | 'error'; score: number; reason: string };

// Validating against the variant picked by `type` (rather than the whole union) gives one precise
// message ("/pattern must be string") instead of sixteen "must match a schema in anyOf" lines.
const specAjv = new Ajv({ allErrors: true });
const validators = new Map<string, ValidateFunction>(
  SPECS.map((s): [string, ValidateFunction] => [s.properties.type.const, specAjv.compile(s)]),
);

function describe(error: ErrorObject): string {
  const at = error.instancePath || '/';
  if (error.keyword === 'additionalProperties') return `${at}: unknown key "${String(error.params.additionalProperty)}"`;
  return `${at}: ${error.message ?? 'is invalid'}`;
}

/**
 * Checks that an untrusted value (parsed YAML, an eval suite) is a well-formed spec of a known type.
 * Throws CheckConfigError listing every problem; does not compile regexes or schemas (compileCheck does).
 */
export function validateCheckSpec(raw: unknown): CheckSpec {
  const record = typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>) : {};
  const label = typeof record.name === 'string' ? `check "${record.name}"` : 'check';
  const validate = typeof record.type === 'string' ? validators.get(record.type) : undefined;
  if (validate === undefined) {
    throw new CheckConfigError(`${label}: /type: must be one of ${CHECK_TYPES.join(', ')}`);
  }
  if (!validate(raw)) {
    const problems = (validate.errors ?? []).map(describe).join('; ');
    throw new CheckConfigError(`${label} (${String(record.type)}): ${problems}`);
  }
  return raw as CheckSpec;
}

/** Validates the spec and does all the expensive work once; throws CheckConfigError for a spec that can never run. */
export function compileCheck(spec: CheckSpec): CompiledCheck {
  validateCheckSpec(spec);
  // The registry's mapped type guarantees COMPILERS[t] takes the spec whose type is t; TypeScript
  // cannot correlate the two through the union, hence the widening cast.
  const compile = COMPILERS[spec.type] as (s: CheckSpec) => Run;
  let run: Run;
  try {
    run = compile(spec);
  } catch (err) {
    if (err instanceof CheckConfigError) throw new CheckConfigError(`check "${spec.name}" (${spec.type}): ${err.message}`);
    throw err;
  }
  return { name: spec.name, type: spec.type, run };
}

/** Runs a check; a throw or an out-of-range score becomes 'error' with score 0 — never a pass. */
export function evaluate(check: CompiledCheck, input: CheckInput): CheckOutcome {
  try {
    const { pass, score, reason } = check.run(input);
    if (!(score >= 0 && score <= 1)) return { result: 'error', score: 0, reason: `check returned score ${score}` };
    return { result: pass ? 'pass' : 'fail', score, reason };
  } catch (err) {
    return { result: 'error', score: 0, reason: err instanceof Error ? err.message : String(err) };
  }
}
