// A small typed client for the admin API, used by the CLI. One HTTP client in the project: undici.
import type { Readable } from 'node:stream';
import { request, type Dispatcher } from 'undici';

export class AdminApiError extends Error {
  constructor(
    /** HTTP status; 0 when the gateway could not be reached at all. */
    readonly status: number,
    readonly code: string | null,
    message: string,
    /** The full response body, for `--json` output. */
    readonly body: unknown,
  ) {
    super(message);
    this.name = 'AdminApiError';
  }
}

/**
 * The gateway URL as it may be printed: no user:password@, no query string or fragment (a token
 * pasted there). Shell history aside, CLI output ends up in CI logs and incident channels.
 */
export function displayUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    u.search = '';
    u.hash = '';
    return u.href.replace(/\/+$/, '');
  } catch {
    // Not a URL at all: still drop anything that looks like userinfo or a query.
    return url.replace(/\/\/[^/?#]*@/, '//').replace(/[?#].*$/, '');
  }
}

/** Removes every secret the caller handed us (URL userinfo and query, the admin token) from a message. */
export function redactor(url: string, token: string | undefined): (text: string) => string {
  const secrets = [url];
  try {
    const u = new URL(url);
    for (const part of [u.username && `${u.username}:${u.password}@`, u.password, u.search, u.hash]) {
      if (part) secrets.push(part, safeDecode(part));
    }
  } catch {
    // displayUrl already strips what it can from an unparsable URL.
  }
  if (token) secrets.push(token);
  const shown = displayUrl(url);
  return (text) => secrets.reduce((acc, secret, i) => acc.replaceAll(secret, i === 0 ? shown : '***'), text);
}

function parseJson(text: string): unknown {
  try {
    return text ? (JSON.parse(text) as unknown) : undefined;
  } catch {
    return undefined;
  }
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

export class AdminClient {
  private readonly base: string;
  private readonly redact: (text: string) => string;

  constructor(
    baseUrl: string,
    private readonly token: string | undefined,
  ) {
    this.base = baseUrl.replace(/\/+$/, '');
    this.redact = redactor(this.base, token);
  }

  get<T>(path: string): Promise<T> {
    return this.send<T>('GET', path, undefined);
  }

  post<T>(path: string, body: unknown): Promise<T> {
    return this.send<T>('POST', path, body);
  }

  put<T>(path: string, body: unknown): Promise<T> {
    return this.send<T>('PUT', path, body);
  }

  /**
   * GET an endpoint that answers a stream (the JSONL export): the body is handed over unread, so an
   * export of any size is never buffered. Only a 200 of `contentType` is one; anything else (an
   * error, a redirect, a login page) is the same error `get` would give, not data.
   */
  async stream(path: string, contentType: string): Promise<Readable> {
    // bodyTimeout: the time between chunks; a large export may pause while the store reads.
    const res = await this.call('GET', path, undefined, contentType, 300_000);
    const type = String(res.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
    if (res.statusCode === 200 && type === contentType) return res.body;
    const text = await res.body.text();
    throw this.failure(res, text, parseJson(text));
  }

  private async send<T>(method: 'GET' | 'POST' | 'PUT', path: string, body: unknown): Promise<T> {
    const res = await this.call(method, path, body, 'application/json', 15_000);
    const text = await res.body.text();
    const json = parseJson(text);
    // Every admin answer is a JSON object.
    if (res.statusCode < 300 && json !== null && typeof json === 'object') return json as T;
    throw this.failure(res, text, json);
  }

  private async call(method: 'GET' | 'POST' | 'PUT', path: string, body: unknown, accept: string, bodyTimeout: number): Promise<Dispatcher.ResponseData> {
    const headers: Record<string, string> = { accept };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    try {
      return await request(`${this.base}/admin/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), headersTimeout: 15_000, bodyTimeout });
    } catch (err) {
      throw new AdminApiError(0, 'connection', this.redact(`cannot reach the gateway at ${this.base}: ${(err as Error).message}`), undefined);
    }
  }

  /** The error for an answer that is not what was asked for; `text` is its whole body. */
  private failure(res: Dispatcher.ResponseData, text: string, json: unknown): AdminApiError {
    if (res.statusCode >= 400) {
      const error = (json as { error?: { message?: unknown; code?: unknown } } | undefined)?.error;
      // Whatever answered may echo the request (a debug proxy echoing headers): redact it too.
      const message = typeof error?.message === 'string' ? error.message : `HTTP ${res.statusCode}: ${text.slice(0, 200)}`;
      return new AdminApiError(res.statusCode, typeof error?.code === 'string' ? error.code : null, this.redact(message), this.redactJson(json));
    }
    // A redirect, a login page in front of the gateway, another service on that port: said plainly
    // instead of crashing the command later (or, for an export, written out as if it were the data).
    const location = typeof res.headers.location === 'string' ? ` redirecting to ${displayUrl(res.headers.location)}` : '';
    const what = `HTTP ${res.statusCode}${location}${json === undefined && text ? `, ${String(res.headers['content-type'] ?? 'no content type')}` : ''}`;
    return new AdminApiError(res.statusCode, 'unexpected_response', this.redact(`${this.base} answered ${what}: not the Bellwether admin API (check --url or BELLWETHER_URL)`), this.redactJson(json));
  }

  /** An error body is printed as is by `--json`: the same secrets come out of it. */
  private redactJson(json: unknown): unknown {
    if (json === undefined) return undefined;
    try {
      return JSON.parse(this.redact(JSON.stringify(json))) as unknown;
    } catch {
      return undefined;
    }
  }
}
