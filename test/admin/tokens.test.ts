// Where admin tokens come from, and that the admin API is never open: with no token configured one
// is generated (and printed by `serve`), with the token's name as the audit actor.
import t from 'tap';
import { parseConfig } from '../../src/config/load.js';
import { AdminAuthenticator, resolveAdminTokens } from '../../src/admin/tokens.js';
import type { GatewayError } from '../../src/gateway/errors.js';
import { startTestGateway } from '../helpers/gateway.js';
import { ADMIN_TOKEN, admin, config } from '../rollout/support.js';

const bare = config().replace(/auth:\n  adminTokens:\n.*\n.*\n/, '');

t.test('config tokens, the env token, or a generated one', async (t) => {
  const configured = parseConfig(config(), 'test.yaml', {});
  t.same(resolveAdminTokens(configured, {}).tokens.map((x) => x.name), ['alice', 'bob']);
  t.same(resolveAdminTokens(configured, { BELLWETHER_ADMIN_TOKEN: 'from-the-env-123' }).tokens.map((x) => x.name), ['alice', 'bob', 'env']);
  const none = parseConfig(bare, 'test.yaml', {});
  t.same(none.auth.adminTokens, []);
  const generated = resolveAdminTokens(none, {});
  t.type(generated.generated, 'string');
  t.ok((generated.generated ?? '').length >= 32, 'long enough to resist guessing');
  t.same(generated.tokens, [{ name: 'generated', token: generated.generated }]);
  t.equal(resolveAdminTokens(none, {}, generated.generated).generated, generated.generated, 'stable across reloads');
  t.equal(resolveAdminTokens(none, { BELLWETHER_ADMIN_TOKEN: 'x'.repeat(12) }).generated, undefined);
});

t.test('the authenticator names the actor and rejects everything else', async (t) => {
  const auth = new AdminAuthenticator([{ name: 'alice', token: ADMIN_TOKEN }]);
  t.equal(auth.authenticate(`Bearer ${ADMIN_TOKEN}`), 'alice');
  t.equal(auth.authenticate(`bearer   ${ADMIN_TOKEN} `), 'alice');
  for (const header of [undefined, '', 'Bearer', `Basic ${ADMIN_TOKEN}`, `Bearer ${ADMIN_TOKEN}x`, `Bearer ${ADMIN_TOKEN.slice(0, -1)}`]) {
    let status: number | undefined;
    try {
      auth.authenticate(header);
    } catch (err) {
      status = (err as GatewayError).status;
    }
    t.equal(status, 401, `rejects ${JSON.stringify(header)}`);
  }
});

t.test('a gateway without admin tokens generates one and only it opens the admin API', async (t) => {
  const gw = await startTestGateway(bare, {}, { env: {} });
  t.teardown(() => gw.close());
  const token = gw.gateway.generatedAdminToken;
  if (token === undefined) throw new Error('expected a generated token');
  t.equal((await admin(gw.url, 'GET', '/routes', undefined, null)).status, 401);
  const set = await admin<{ updatedBy: string }>(gw.url, 'PUT', '/routes/demo/rollout', { percent: 20, reason: 'r' }, token);
  t.equal(set.status, 200);
  t.equal(set.json.updatedBy, 'generated');

  const withEnv = await startTestGateway(bare, {}, { env: { BELLWETHER_ADMIN_TOKEN: 'env-token-abcdef' } });
  t.teardown(() => withEnv.close());
  t.equal(withEnv.gateway.generatedAdminToken, undefined);
  t.equal((await admin<{ updatedBy: string }>(withEnv.url, 'POST', '/routes/demo/pause', { reason: 'r' }, 'env-token-abcdef')).json.updatedBy, 'env');
});
