// The admin API as an SRE uses it: read, change, audit — and every kind of bad input rejected with
// an exact 4xx, the state unchanged and nothing written to the audit log.
import t from 'tap';
import { startTestGateway } from '../helpers/gateway.js';
import { ADMIN_TOKEN, OTHER_TOKEN, admin, config } from '../rollout/support.js';

interface View {
  route: string;
  champion: string;
  challenger: string | null;
  percent: number;
  effectivePercent: number;
  mode: string;
  state: string;
  version: number;
  updatedBy: string;
}
interface ErrorBody {
  error: { message: string; type: string; code: string | null };
}

t.test('read, change and audit a rollout', async (t) => {
  const gw = await startTestGateway(config({ percent: 10 }));
  t.teardown(() => gw.close());

  const list = await admin<{ routes: View[]; store: { backend: string } }>(gw.url, 'GET', '/routes');
  t.equal(list.status, 200);
  t.match(list.json.routes, [{ route: 'demo', champion: 'a', challenger: 'b', percent: 10, mode: 'split', state: 'active', version: 1, updatedBy: 'config' }]);
  t.equal(list.json.store.backend, 'memory');

  const set = await admin<View>(gw.url, 'PUT', '/routes/demo/rollout', { percent: 25, reason: 'error rate flat for 24h' });
  t.equal(set.status, 200);
  t.match(set.json, { percent: 25, effectivePercent: 25, version: 2, updatedBy: 'alice' });
  t.equal(set.headers.etag, '"2"');

  const paused = await admin<View>(gw.url, 'POST', '/routes/demo/pause', { reason: 'incident 42' }, OTHER_TOKEN);
  t.match(paused.json, { state: 'paused', percent: 25, effectivePercent: 0, version: 3, updatedBy: 'bob' });
  const resumed = await admin<View>(gw.url, 'POST', '/routes/demo/resume', { reason: 'incident 42 resolved' });
  t.match(resumed.json, { state: 'active', effectivePercent: 25, version: 4 });
  const rolledBack = await admin<View>(gw.url, 'POST', '/routes/demo/rollback', { reason: 'quality regression' });
  t.match(rolledBack.json, { state: 'rolled_back', percent: 0, effectivePercent: 0, version: 5 });
  const shadow = await admin<View>(gw.url, 'PUT', '/routes/demo/rollout', { percent: 50, mode: 'shadow', reason: 'compare quietly' });
  t.match(shadow.json, { state: 'active', mode: 'shadow', percent: 50, version: 6 });
  const promoted = await admin<View>(gw.url, 'POST', '/routes/demo/promote', { reason: 'b wins' });
  t.match(promoted.json, { state: 'promoted', champion: 'b', challenger: null, version: 7 });

  const history = await admin<{ entries: { actor: string; action: string; reason: string; from: { version?: number }; to: { version: number } }[] }>(gw.url, 'GET', '/routes/demo/history');
  t.same(
    history.json.entries.map((e) => [e.action, e.actor, e.to.version]),
    [['promote', 'alice', 7], ['set', 'alice', 6], ['rollback', 'alice', 5], ['resume', 'alice', 4], ['pause', 'bob', 3], ['set', 'alice', 2], ['config', 'config', 1]],
  );
  t.match(history.json.entries[5], { reason: 'error rate flat for 24h', from: { percent: 10, version: 1 }, to: { percent: 25, version: 2 } });
  const limited = await admin<{ entries: unknown[] }>(gw.url, 'GET', '/routes/demo/history?limit=2');
  t.equal(limited.json.entries.length, 2);

  const after = await admin<ErrorBody>(gw.url, 'PUT', '/routes/demo/rollout', { percent: 10, reason: 'no challenger left' });
  t.equal(after.status, 409, 'a promoted route has nothing left to roll out');
  t.equal(after.json.error.code, 'no_challenger');
});

t.test('compare-and-set: a stale expectedVersion or If-Match gets 409 and changes nothing', async (t) => {
  const gw = await startTestGateway(config());
  t.teardown(() => gw.close());
  const stale = await admin<ErrorBody & { current: View }>(gw.url, 'PUT', '/routes/demo/rollout', { percent: 30, reason: 'r', expectedVersion: 7 });
  t.equal(stale.status, 409);
  t.match(stale.json, { error: { type: 'conflict_error', code: 'version_conflict' }, current: { version: 1, percent: 10 } });
  const ifMatch = await admin(gw.url, 'POST', '/routes/demo/pause', { reason: 'r' }, ADMIN_TOKEN, { 'if-match': '"3"' });
  t.equal(ifMatch.status, 409);
  const good = await admin<View>(gw.url, 'POST', '/routes/demo/pause', { reason: 'r' }, ADMIN_TOKEN, { 'if-match': '"1"' });
  t.equal(good.status, 200);
  t.equal(good.json.version, 2);
  const history = await admin<{ entries: unknown[] }>(gw.url, 'GET', '/routes/demo/history');
  t.equal(history.json.entries.length, 2, 'only the successful change was audited');

  // Body and header naming different versions: which one the client meant is unknowable.
  for (const [body, header] of [[2, '"1"'], [1, '"2"']] as const) {
    const both = await admin<ErrorBody>(gw.url, 'PUT', '/routes/demo/rollout', { percent: 30, reason: 'r', expectedVersion: body }, ADMIN_TOKEN, { 'if-match': header });
    t.equal(both.status, 400, `expectedVersion ${body}, If-Match ${header}: 400`);
    t.match(both.json.error, { type: 'invalid_request_error', code: 'conflicting_versions', message: /expectedVersion.*If-Match/ });
  }
  t.match((await admin<View>(gw.url, 'GET', '/routes/demo')).json, { version: 2, percent: 10, state: 'paused' }, 'state unchanged');
  t.equal((await admin<{ entries: unknown[] }>(gw.url, 'GET', '/routes/demo/history')).json.entries.length, 2, 'nothing audited');
  const agreeing = await admin<View>(gw.url, 'POST', '/routes/demo/resume', { reason: 'r', expectedVersion: 2 }, ADMIN_TOKEN, { 'if-match': 'W/"2"' });
  t.equal(agreeing.status, 200, 'the same version in both is fine');
});

t.test('set on a paused route is refused (409): resuming is a deliberate action of its own', async (t) => {
  const gw = await startTestGateway(config({ percent: 10 }));
  t.teardown(() => gw.close());
  await admin(gw.url, 'PUT', '/routes/demo/rollout', { percent: 20, reason: 'ramp' });
  const paused = await admin<View>(gw.url, 'POST', '/routes/demo/pause', { reason: 'incident 42' }, OTHER_TOKEN);
  t.match(paused.json, { state: 'paused', effectivePercent: 0, version: 3 });
  const auditBefore = await admin<{ entries: unknown[] }>(gw.url, 'GET', '/routes/demo/history');

  const set = await admin<ErrorBody & { current: View }>(gw.url, 'PUT', '/routes/demo/rollout', { percent: 25, reason: 'ramp on' });
  t.equal(set.status, 409);
  t.match(set.json, { error: { type: 'conflict_error', code: 'route_paused' }, current: { state: 'paused', version: 3 } });
  t.match(set.json.error.message, /paused.*by bob.*resume/);
  t.match((await admin<View>(gw.url, 'GET', '/routes/demo')).json, { state: 'paused', percent: 20, effectivePercent: 0, version: 3 }, 'still paused');
  t.same((await admin<{ entries: unknown[] }>(gw.url, 'GET', '/routes/demo/history')).json.entries, auditBefore.json.entries, 'nothing audited');

  await admin(gw.url, 'POST', '/routes/demo/resume', { reason: 'incident 42 over' });
  t.match((await admin<View>(gw.url, 'PUT', '/routes/demo/rollout', { percent: 25, reason: 'ramp on' })).json, { state: 'active', percent: 25, effectivePercent: 25 }, 'after resume, set works');
  await admin(gw.url, 'POST', '/routes/demo/rollback', { reason: 'worse' });
  t.match((await admin<View>(gw.url, 'PUT', '/routes/demo/rollout', { percent: 5, reason: 'fixed, try again' })).json, { state: 'active', percent: 5 }, 'after rollback, set starts a new rollout');
});

t.test('bad input matrix: exact 4xx, state unchanged, nothing audited', async (t) => {
  const gw = await startTestGateway(config({ shadow: '{ allowed: false }', extraRoutes: '  solo: { champion: a }' }));
  t.teardown(() => gw.close());
  const before = await admin(gw.url, 'GET', '/routes/demo');
  const auditBefore = await admin<{ entries: unknown[] }>(gw.url, 'GET', '/routes/demo/history');

  const cases: { name: string; method: 'PUT' | 'POST' | 'GET'; path: string; body?: unknown; token?: string | null; headers?: Record<string, string>; status: number; code: string }[] = [
    { name: 'percent -1', method: 'PUT', path: '/routes/demo/rollout', body: { percent: -1, reason: 'r' }, status: 400, code: 'invalid_request' },
    { name: 'percent 101', method: 'PUT', path: '/routes/demo/rollout', body: { percent: 101, reason: 'r' }, status: 400, code: 'invalid_request' },
    { name: 'percent 150', method: 'PUT', path: '/routes/demo/rollout', body: { percent: 150, reason: 'r' }, status: 400, code: 'invalid_request' },
    { name: 'percent "abc"', method: 'PUT', path: '/routes/demo/rollout', body: { percent: 'abc', reason: 'r' }, status: 400, code: 'invalid_request' },
    { name: 'percent "25" (no coercion)', method: 'PUT', path: '/routes/demo/rollout', body: { percent: '25', reason: 'r' }, status: 400, code: 'invalid_request' },
    { name: 'percent missing', method: 'PUT', path: '/routes/demo/rollout', body: { reason: 'r' }, status: 400, code: 'invalid_request' },
    { name: 'missing reason', method: 'PUT', path: '/routes/demo/rollout', body: { percent: 20 }, status: 400, code: 'invalid_request' },
    { name: 'blank reason', method: 'PUT', path: '/routes/demo/rollout', body: { percent: 20, reason: '   ' }, status: 400, code: 'invalid_request' },
    { name: 'missing reason on pause', method: 'POST', path: '/routes/demo/pause', body: {}, status: 400, code: 'invalid_request' },
    { name: 'unknown field', method: 'PUT', path: '/routes/demo/rollout', body: { percent: 20, reason: 'r', force: true }, status: 400, code: 'invalid_request' },
    { name: 'unknown mode', method: 'PUT', path: '/routes/demo/rollout', body: { percent: 20, reason: 'r', mode: 'canary' }, status: 400, code: 'invalid_request' },
    { name: 'shadow forbidden by the route', method: 'PUT', path: '/routes/demo/rollout', body: { percent: 20, reason: 'r', mode: 'shadow' }, status: 400, code: 'shadow_not_allowed' },
    { name: 'malformed JSON', method: 'PUT', path: '/routes/demo/rollout', body: '{"percent": 20,', status: 400, code: 'FST_ERR_CTP_INVALID_JSON_BODY' },
    { name: 'bad If-Match', method: 'POST', path: '/routes/demo/pause', body: { reason: 'r' }, headers: { 'if-match': 'yesterday' }, status: 400, code: 'invalid_request' },
    { name: 'unknown route', method: 'PUT', path: '/routes/nope/rollout', body: { percent: 20, reason: 'r' }, status: 404, code: 'unknown_route' },
    { name: 'unknown route (read)', method: 'GET', path: '/routes/nope', status: 404, code: 'unknown_route' },
    // Names every JS object inherits must not be mistaken for configured routes.
    { name: 'route "constructor" (shadow)', method: 'PUT', path: '/routes/constructor/rollout', body: { percent: 20, reason: 'r', mode: 'shadow' }, status: 404, code: 'unknown_route' },
    { name: 'route "toString"', method: 'POST', path: '/routes/toString/pause', body: { reason: 'r' }, status: 404, code: 'unknown_route' },
    { name: 'no challenger', method: 'PUT', path: '/routes/solo/rollout', body: { percent: 20, reason: 'r' }, status: 409, code: 'no_challenger' },
    { name: 'no token', method: 'PUT', path: '/routes/demo/rollout', body: { percent: 20, reason: 'r' }, token: null, status: 401, code: 'missing_admin_token' },
    { name: 'wrong token', method: 'PUT', path: '/routes/demo/rollout', body: { percent: 20, reason: 'r' }, token: 'alice-admin-token-0002', status: 401, code: 'invalid_admin_token' },
    { name: 'wrong token (read)', method: 'GET', path: '/routes', token: 'x', status: 401, code: 'invalid_admin_token' },
    { name: 'client key is not an admin token', method: 'GET', path: '/routes', token: 'sk-anything', status: 401, code: 'invalid_admin_token' },
  ];
  for (const c of cases) {
    const res = await admin<ErrorBody>(gw.url, c.method, c.path, c.body, c.token === undefined ? ADMIN_TOKEN : c.token, c.headers);
    t.equal(res.status, c.status, `${c.name}: status`);
    t.equal(res.json.error?.code, c.code, `${c.name}: code`);
    t.type(res.json.error?.message, 'string', `${c.name}: message`);
    t.type(res.json.error?.type, 'string', `${c.name}: type`);
  }
  const after = await admin(gw.url, 'GET', '/routes/demo');
  t.same(after.json, before.json, 'state unchanged');
  const auditAfter = await admin<{ entries: unknown[] }>(gw.url, 'GET', '/routes/demo/history');
  t.same(auditAfter.json.entries, auditBefore.json.entries, 'nothing audited');
});
