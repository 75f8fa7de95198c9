// A small typed client for the admin API, used by the CLI. One HTTP client in the project: undici.
import { request } from 'undici';

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

export class AdminClient {
  private readonly base: string;

  constructor(
    baseUrl: string,
    private readonly token: string | undefined,
  ) {
    this.base = baseUrl.replace(/\/+$/, '');
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

  private async send<T>(method: 'GET' | 'POST' | 'PUT', path: string, body: unknown): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res;
    try {
      res = await request(`${this.base}/admin/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), headersTimeout: 15_000, bodyTimeout: 15_000 });
    } catch (err) {
      throw new AdminApiError(0, 'connection', `cannot reach the gateway at ${this.base}: ${(err as Error).message}`, undefined);
    }
    const text = await res.body.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (res.statusCode >= 400) {
      const error = (json as { error?: { message?: unknown; code?: unknown } } | undefined)?.error;
      const message = typeof error?.message === 'string' ? error.message : `HTTP ${res.statusCode}: ${text.slice(0, 200)}`;
      throw new AdminApiError(res.statusCode, typeof error?.code === 'string' ? error.code : null, message, json);
    }
    // Every admin answer is a JSON object. Anything else (a redirect, a login page in front of the
    // gateway, another service on that port) is said plainly instead of crashing the command later.
    if (res.statusCode >= 300 || json === null || typeof json !== 'object') {
      const location = typeof res.headers.location === 'string' ? ` redirecting to ${res.headers.location}` : '';
      const what = `HTTP ${res.statusCode}${location}${json === undefined && text ? `, ${String(res.headers['content-type'] ?? 'no content type')}` : ''}`;
      throw new AdminApiError(res.statusCode, 'unexpected_response', `${this.base} answered ${what}: not the Bellwether admin API (check --url or BELLWETHER_URL)`, json);
    }
    return json as T;
  }
}
