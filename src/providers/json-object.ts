// JSON text that must hold an object: SSE payloads (a bare number is a keep-alive there), tool-call
// arguments. One place for "parse, and anything but an object is no object".

/** The JSON object `text` holds; undefined for anything else (another JSON value, bad JSON). */
export function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
