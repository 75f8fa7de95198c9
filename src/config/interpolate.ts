// `${VAR}` and `${VAR:-default}` in string values. Interpolation happens on parsed YAML values (never on
// the raw text) so a variable's content can't change the document's structure.
// `$${` is a literal `${` (as in docker compose).
const PATTERN = /\$(\$?)\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

const WHOLE_OPTIONAL = /^\$\{[A-Za-z_][A-Za-z0-9_]*:-\}$/;

export interface InterpolationIssue {
  path: (string | number)[];
  variable: string;
  /** Set, but to the empty string (a `${VAR}` without a default needs a value). */
  empty: boolean;
}

/** `substituted` receives the path of every value that contained a `${...}` reference. */
export function interpolate(
  value: unknown,
  env: NodeJS.ProcessEnv,
  issues: InterpolationIssue[],
  substituted: (string | number)[][] = [],
  path: (string | number)[] = [],
): unknown {
  if (typeof value === 'string') {
    if (!value.includes('${')) return value;
    substituted.push(path);
    const result = value.replace(PATTERN, (match: string, escape: string, name: string, fallback: string | undefined) => {
      if (escape) return match.slice(1);
      const found = env[name];
      if (found !== undefined && found !== '') return found;
      if (fallback !== undefined) return fallback;
      issues.push({ path, variable: name, empty: found === '' });
      return '';
    });
    // `key: ${VAR:-}` with VAR unset means "not configured": drop the key rather than keep "".
    return result === '' && WHOLE_OPTIONAL.test(value) ? undefined : result;
  }
  if (Array.isArray(value)) return value.map((item, i) => interpolate(item, env, issues, substituted, [...path, i]));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      const resolved = interpolate(item, env, issues, substituted, [...path, key]);
      if (resolved !== undefined) out[key] = resolved;
    }
    return out;
  }
  return value;
}
