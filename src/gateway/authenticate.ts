// Client keys: compared in constant time over SHA-256 digests, so neither the key's content nor its
// length leaks through timing, and every configured key is compared on every request.
import { createHash, timingSafeEqual } from 'node:crypto';
import { GatewayError } from './errors.js';

export interface ClientIdentity {
  name: string;
  canForceVariant: boolean;
}

const OPEN: ClientIdentity = { name: 'anonymous', canForceVariant: true };

export class ClientAuthenticator {
  private readonly keys: { digest: Buffer; identity: ClientIdentity }[];

  constructor(keys: { name: string; key: string; canForceVariant: boolean }[]) {
    this.keys = keys.map((k) => ({ digest: digest(k.key), identity: { name: k.name, canForceVariant: k.canForceVariant } }));
  }

  get open(): boolean {
    return this.keys.length === 0;
  }

  /**
   * With no client keys configured the API is open (local and demo use) and forcing a variant is
   * allowed, so the eval runner works against the embedded default.
   */
  authenticate(authorization: string | undefined): ClientIdentity {
    if (this.open) return OPEN;
    const presented = bearer(authorization);
    if (presented === undefined) {
      throw new GatewayError({ status: 401, errorClass: 'bad_request', message: 'Missing API key. Send "Authorization: Bearer <key>".', type: 'invalid_request_error', code: 'missing_api_key' });
    }
    const d = digest(presented);
    let found: ClientIdentity | undefined;
    for (const k of this.keys) if (timingSafeEqual(k.digest, d) && !found) found = k.identity;
    if (!found) {
      throw new GatewayError({ status: 401, errorClass: 'bad_request', message: 'Incorrect API key provided.', type: 'invalid_request_error', code: 'invalid_api_key' });
    }
    return found;
  }
}

export function bearer(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const match = /^Bearer\s+(.+)$/i.exec(header.trim());
  return match?.[1]?.trim() || undefined;
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
