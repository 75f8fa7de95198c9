// Parsing a YAML file we validate (the gateway config, eval suites, case files) and naming where a
// problem is. One parser setup and one error form for every such file: `file:path: reason (line N)`.
import { LineCounter, parseDocument, isAlias, isMap, isScalar, isSeq, type Document, type Node, type YAMLError } from 'yaml';

export type YamlPath = readonly (string | number)[];

/**
 * A path as printed: `routes.demo.aliases[0]`, `[3].difficulty` in a list of cases, or `(root)`.
 * Indices in brackets: `cases.yaml:1: …` would read as line 1.
 */
export function dotted(path: YamlPath): string {
  if (path.length === 0) return '(root)';
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

/** An Ajv instancePath (a JSON pointer) as a path into `value`: list indices become numbers. */
export function pointerPath(pointer: string, value: unknown): (string | number)[] {
  if (pointer === '') return [];
  const path: (string | number)[] = [];
  let at = value;
  for (const raw of pointer.slice(1).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    path.push(Array.isArray(at) && /^\d+$/.test(key) ? Number(key) : key);
    at = at !== null && typeof at === 'object' ? (at as Record<string, unknown>)[key] : undefined;
  }
  return path;
}

/** One problem as printed: `file:path: reason (line N)`; the line only when `where` knows it. */
export function problemLine(file: string, path: YamlPath, reason: string, where?: Locator): string {
  return `${file}:${dotted(path)}: ${reason}${where?.(path) ?? ''}`;
}

/** The suffix naming a path's line, ` (line N)`, or '' when the file's nodes don't tell. */
export type Locator = (path: YamlPath) => string;

export interface ParsedYaml {
  value: unknown;
  where: Locator;
}

/**
 * Parses YAML text, or returns its syntax errors as `file:N: YAML: reason` lines. Merge keys are on:
 * `<<: *base` is how YAML users share settings (YAML 1.2 dropped it; the yaml library keeps it behind
 * this flag). Duplicate keys stay errors.
 */
export function parseYaml(text: string, file: string): ParsedYaml | { errors: string[] } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, merge: true });
  if (doc.errors.length > 0) return { errors: syntaxErrors(doc.errors, text, file) };
  return {
    value: doc.toJS(),
    where: (path) => {
      const node = deepestNode(doc, path);
      return node?.range ? ` (line ${lineCounter.linePos(node.range[0]).line})` : '';
    },
  };
}

/**
 * One line per line of the file that has a problem: a single mistake (an unquoted `${VAR}` in a flow
 * mapping) makes the parser report several errors on the same line, each ending in a dangling
 * "at line 5, column 3:" that repeats what `file:N` already says.
 */
function syntaxErrors(errors: readonly YAMLError[], text: string, file: string): string[] {
  const source = text.split('\n');
  const seen = new Set<number | undefined>();
  const out: string[] = [];
  for (const e of errors) {
    const line = e.linePos?.[0]?.line;
    if (seen.has(line)) continue;
    seen.add(line);
    const reason = (e.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?$/, '');
    // `{ percent: ${PCT} }`: in a flow collection `{` starts a mapping, so the reference must be quoted.
    const unquoted = line !== undefined && /(?<!["'$])\$\{/.test(source[line - 1] ?? '') && /[{[]/.test(source[line - 1] ?? '');
    out.push(`${file}:${line ?? '?'}: YAML: ${reason}${unquoted ? ' (a ${VAR} inside { } or [ ] must be quoted: "${VAR}")' : ''}`);
  }
  return out;
}

/**
 * The node at `path`, or the deepest one on the way (a missing key is reported at the mapping that
 * lacks it). Aliases and merge keys are followed, so a value inherited from `&base` is found where it
 * is written. The root itself is never the answer: "line 1" says nothing.
 */
function deepestNode(doc: Document, path: YamlPath): Node | undefined {
  let node: unknown = doc.contents;
  let found: Node | undefined;
  for (const segment of path) {
    const child = childOf(doc, resolve(doc, node), String(segment));
    if (child === undefined) break;
    node = child;
    found = child as Node;
  }
  return found;
}

function resolve(doc: Document, node: unknown): unknown {
  return isAlias(node) ? node.resolve(doc) : node;
}

function childOf(doc: Document, node: unknown, key: string): unknown {
  if (isSeq(node)) return /^\d+$/.test(key) ? node.items[Number(key)] : undefined;
  if (!isMap(node)) return undefined;
  // Path segments come from JSON pointers and object keys, so compare keys as text.
  const pair = node.items.find((p) => (isScalar(p.key) ? String(p.key.value) : String(p.key)) === key);
  if (pair) return pair.value ?? pair.key;
  for (const merge of node.items.filter((p) => isMergeKey(p.key))) {
    const sources = isSeq(merge.value) ? merge.value.items : [merge.value];
    for (const source of sources) {
      const child = childOf(doc, resolve(doc, source), key);
      if (child !== undefined) return child;
    }
  }
  return undefined;
}

/** With `merge: true` the yaml library parses `<<` as a symbol-valued scalar. */
function isMergeKey(key: unknown): boolean {
  if (!isScalar(key)) return false;
  const v = key.value;
  return v === '<<' || (typeof v === 'symbol' && v.description === '<<');
}
