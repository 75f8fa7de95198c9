// Admin tokens: from `auth.adminTokens` (the token's name is the audit actor) and from
// $BELLWETHER_ADMIN_TOKEN (actor "env"). With neither, a random token is generated for the life of the
// process and printed once at start-up, so the admin API is never open by accident.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Config } from '../config/types.js';
import { bearer } from '../gateway/authenticate.js';
import { GatewayError } from '../gateway/errors.js';

export const ENV_ACTOR = 'env';
export const GENERATED_ACTOR = 'generated';

export interface AdminToken {
  name: string;
  token: string;
}

export interface AdminTokens {
  tokens: AdminToken[];
  /** Set when no token was configured and one was generated: the caller prints it once. */
  generated: string | undefined;
}

/** `previous` keeps the generated token stable across config reloads. */
export function resolveAdminTokens(config: Config, env: NodeJS.ProcessEnv, previous?: string): AdminTokens {
  const tokens: AdminToken[] = [...config.auth.adminTokens];
  const fromEnv = env.BELLWETHER_ADMIN_TOKEN?.trim();
  if (fromEnv) tokens.push({ name: ENV_ACTOR, token: fromEnv });
  if (tokens.length > 0) return { tokens, generated: undefined };
  const generated = previous ?? randomBytes(24).toString('base64url');
  return { tokens: [{ name: GENERATED_ACTOR, token: generated }], generated };
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

export class AdminAuthenticator {
  private readonly tokens: { digest: Buffer; actor: string }[];

  constructor(tokens: AdminToken[]) {
    this.tokens = tokens.map((t) => ({ digest: digest(t.token), actor: t.name }));
  }

  /**
   * Returns the actor for the presented bearer token. Compared in constant time over SHA-256
   * digests (equal lengths, so no length leak), against every token, without an early exit.
   */
  authenticate(authorization: string | undefined): string {
    const presented = bearer(authorization);
    if (presented === undefined) {
      throw new GatewayError({ status: 401, errorClass: 'bad_request', message: 'Missing admin token. Send "Authorization: Bearer <admin token>".', type: 'authentication_error', code: 'missing_admin_token' });
    }
    const d = digest(presented);
    let actor: string | undefined;
    for (const t of this.tokens) if (timingSafeEqual(t.digest, d) && actor === undefined) actor = t.actor;
    if (actor === undefined) {
      throw new GatewayError({ status: 401, errorClass: 'bad_request', message: 'Incorrect admin token provided.', type: 'authentication_error', code: 'invalid_admin_token' });
    }
    return actor;
  }
}
