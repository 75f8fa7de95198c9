// JSON text that must hold an object: SSE payloads (a bare number is a keep-alive there), tool-call
// arguments. One place for "parse, and anything but an object is no object".

/** The JSON object `text` holds; undefined for anything else (another JSON value, bad JSON). */
export function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    return asObject(JSON.parse(text));
  } catch {
    return undefined;
  }
}

/** A parsed JSON value as an object; undefined for anything else. */
export function asObject(value: unknown): Record<string, unknown> | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}
