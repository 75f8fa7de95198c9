// Invalid config: refuse, naming the file, the path and the reason.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, loadConfigFile, parseConfig } from '../../src/config/load.js';

const BASE = `
providers:
  sim: { type: simulator }
models:
  a: { provider: sim }
  b: { provider: sim }
routes:
  demo: { champion: a, challenger: b, rollout: { percent: 10 } }
`;

function errorsOf(yaml: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    parseConfig(yaml, 'bad.yaml', env);
  } catch (err) {
    if (err instanceof ConfigError) return err.lines;
    throw err;
  }
  return [];
}

t.test('the shipped configs are valid', async (t) => {
  const config = loadConfigFile('config/default.yaml', {});
  t.same(Object.keys(config.routes), ['demo']);
  t.equal(config.routes.demo?.rollout.percent, 10);
  t.equal(config.providers.sim?.type, 'simulator');
  t.not(config.models['sim-large']?.simulation?.firstTokenMs?.mean, config.models['sim-small']?.simulation?.firstTokenMs?.mean, 'the two demo models differ');
  const openai = loadConfigFile('config/examples/openai.yaml', { OPENAI_API_KEY: 'sk-test-1234567890' });
  t.equal(openai.routes['support-chat']?.champion, 'gpt-4o-mini');
});

t.test('errors name file, path and reason', async (t) => {
  t.same(errorsOf(BASE), []);
  t.match(errorsOf(BASE.replace('percent: 10', 'percent: 150')), [/^bad\.yaml:routes\.demo\.rollout\.percent: must be <= 100 \(line \d+\)$/]);
  t.match(errorsOf(BASE.replace('champion: a', 'champion: zz')), [/^bad\.yaml:routes\.demo\.champion: model "zz" is not defined under models/]);
  t.match(errorsOf(BASE.replace('a: { provider: sim }', 'a: { provider: nope }')), [/^bad\.yaml:models\.a\.provider: provider "nope" is not defined/]);
  t.match(errorsOf(BASE.replace('routes:', 'routs:\n  x: 1\nroutes:')), [/^bad\.yaml:\(root\): unknown key "routs"/]);
  t.match(errorsOf(BASE.replace('rollout: { percent: 10 }', 'rollout: { percent: 10, speed: 3 }')), [/routes\.demo\.rollout: unknown key "speed"/]);
  t.match(errorsOf(BASE.replace('{ type: simulator }', '{ type: openai, baseUrl: "https://x/v1", apiKey: "${OPENAI_KEY}" }')), [/^bad\.yaml:providers\.sim\.apiKey: environment variable OPENAI_KEY is not set/]);
  t.match(errorsOf(BASE.replace('{ type: simulator }', '{ type: openai, baseUrl: "${BASE:-https://x/v1}" }')), [], 'defaults fill unset variables');
  t.match(errorsOf(BASE.replace('{ type: simulator }', '{ type: openai, baseUrl: "https://x/v1", apiKey: "${OPENAI_KEY}" }'), { OPENAI_KEY: '' }), [/^bad\.yaml:providers\.sim\.apiKey: environment variable OPENAI_KEY is set but empty/], 'empty is not unset');
  const escaped = parseConfig(BASE.replace('{ type: simulator }', () => '{ type: openai-compatible, baseUrl: "https://x/v1", headers: { x-template: "$${literal} and ${NAME}" } }'), 'ok.yaml', { NAME: 'n' });
  t.same(escaped.providers.sim, { type: 'openai-compatible', baseUrl: 'https://x/v1', headers: { 'x-template': '${literal} and n' } }, '$${ writes a literal ${');
  t.match(errorsOf(BASE.replace('challenger: b,', 'challenger: b, aliases: [demo],')), [/aliases\[0\]: "demo" is already a route name/]);
  t.match(errorsOf('routes: [1, 2'), [/^bad\.yaml:\d+: YAML:/]);
  t.same(
    errorsOf(BASE.replace('rollout: { percent: 10 }', 'rollout: { percent: ${PCT} }')),
    [`bad.yaml:${BASE.split('\n').findIndex((l) => l.includes('rollout:')) + 1}: YAML: Unexpected flow-map-start at node end (a \${VAR} inside { } or [ ] must be quoted: "\${VAR}")`],
    'one line per problem line, no dangling "at line, column", and a hint for the usual cause',
  );
  t.same(errorsOf(''), ['bad.yaml:(root): expected a YAML mapping (the file is empty)'], 'same file:path: form as every other error');
  t.match(errorsOf(`${BASE}\ndatasets: { store: redis }\n`), [/^bad\.yaml:datasets\.store: store "redis" needs state\.redis/]);
  t.equal(parseConfig(BASE, 'x.yaml', { REDIS_URL: 'redis://127.0.0.1:6379' }).datasets.store, 'redis', 'with Redis configured, datasets default to it');
  t.equal(parseConfig(BASE, 'x.yaml', {}).datasets.store, 'jsonl');
  t.match(errorsOf(BASE.replace('rollout: { percent: 10 }', 'rollout: { percent: 10 }, checks: [{ name: j, type: regex, pattern: "(" }]')), [/routes\.demo\.checks\[0\]: /]);
});

t.test('`bellwether config check` prints file:path: reason lines and exits non-zero', async (t) => {
  const dir = t.testdir({});
  const good = join(dir, 'good.yaml');
  const bad = join(dir, 'bad.yaml');
  writeFileSync(good, BASE);
  writeFileSync(bad, BASE.replace('percent: 10', 'percent: 101').replace('champion: a', 'champion: missing'));
  const ok = spawnSync(process.execPath, ['bin/bellwether.js', 'config', 'check', good], { encoding: 'utf8' });
  t.equal(ok.status, 0, ok.stderr);
  t.match(ok.stdout, /OK/);
  const res = spawnSync(process.execPath, ['bin/bellwether.js', 'config', 'check', bad], { encoding: 'utf8' });
  t.equal(res.status, 1);
  const lines = res.stderr.trim().split('\n');
  t.match(lines, [new RegExp(`^${bad.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:routes\\.demo\\.rollout\\.percent: must be <= 100`)]);
  const dangling = spawnSync(process.execPath, ['bin/bellwether.js', 'config', 'check', join(dir, 'missing.yaml')], { encoding: 'utf8' });
  t.equal(dangling.status, 1);
  t.match(dangling.stderr, /missing\.yaml: cannot read file/);
});

t.test('only interpolated values are converted; a literal of the wrong type is an error', async (t) => {
  t.equal(parseConfig(BASE.replace('percent: 10', 'percent: "${PCT:-25}"'), 'x.yaml', {}).routes.demo?.rollout.percent, 25, '${VAR:-25} means the number');
  t.equal(parseConfig(`${BASE}server: { port: "\${PORT}" }\n`, 'x.yaml', { PORT: '9090' }).server.port, 9090);
  t.match(errorsOf(BASE.replace('percent: 10', 'percent: true')), [/^bad\.yaml:routes\.demo\.rollout\.percent: must be number, not true \(line \d+\)$/]);
  t.match(errorsOf(BASE.replace('percent: 10', 'percent:')), [/^bad\.yaml:routes\.demo\.rollout\.percent: must be number, not null/]);
  t.match(errorsOf(BASE.replace('percent: 10', 'percent: "10"')), [/^bad\.yaml:routes\.demo\.rollout\.percent: must be number, not the string "10"/]);
  t.match(errorsOf(`${BASE}auth: { clientKeys: [{ name: web, key: "0123456789", canForceVariant: "yes" }] }\n`), [/auth\.clientKeys\[0\]\.canForceVariant: must be boolean/]);
  t.match(errorsOf(`${BASE}auth: { clientKeys: [{ name: web, key: 12345678901 }] }\n`), [/^bad\.yaml:auth\.clientKeys\[0\]\.key: must be string, not 12345678901/]);
});

t.test('YAML anchors and merge keys share settings between entries', async (t) => {
  const config = parseConfig(`
providers:
  sim: { type: simulator }
models:
  a: &base { provider: sim, pricing: { inputPerMTok: 1, outputPerMTok: 2 } }
  b: { <<: *base, upstreamModel: b-2026 }
routes:
  demo: { champion: a, challenger: b, rollout: { percent: 10 } }
`, 'x.yaml', {});
  t.same(config.models.b?.pricing, { inputPerMTok: 1, outputPerMTok: 2 });
  t.equal(config.models.b?.upstreamModel, 'b-2026');
  t.match(errorsOf(BASE.replace('b: { provider: sim }', 'b: { <<: { provider: sim, colour: red } }')), [/^bad\.yaml:models\.b: unknown key "colour"/], 'merged keys are validated like written ones');
  const inherited = BASE.replace('a: { provider: sim }', 'a: &base { provider: sim, pricing: { inputPerMTok: -1, outputPerMTok: 2 } }').replace('b: { provider: sim }', 'b: { <<: *base }');
  t.same(errorsOf(inherited), [
    'bad.yaml:models.a.pricing.inputPerMTok: must be >= 0 (line 5)',
    'bad.yaml:models.b.pricing.inputPerMTok: must be >= 0 (line 5)',
  ], 'an inherited value is reported at the line it is written on');
});
