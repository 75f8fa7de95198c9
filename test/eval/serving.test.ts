// Which models serve a target: the cache-key part that decides whether an answer may be replayed.
import t from 'tap';
import { parseConfig } from '../../src/config/load.js';
import { identityFromConfig, identityFromGateway } from '../../src/eval/serving.js';
import { startTestGateway } from '../helpers/gateway.js';
import { ADMIN_TOKEN, config } from '../rollout/support.js';

// An existing app keeps calling its old model name; the route answers to it as an alias.
const YAML = config().replace('    champion: a\n', '    champion: a\n    aliases: [legacy-chat]\n');

t.test('a target naming a route alias has the same identity as the route, in process and at --url', async (t) => {
  const gw = await startTestGateway(YAML);
  t.teardown(() => gw.close());
  const remote = await identityFromGateway(gw.url, ADMIN_TOKEN);
  const local = identityFromConfig(parseConfig(YAML, 'test.yaml', {}));
  for (const [where, serving] of [['--url', remote], ['in process', local]] as const) {
    for (const forceVariant of [undefined, 'champion', 'challenger'] as const) {
      const byName = serving?.({ model: 'demo', ...(forceVariant ? { forceVariant } : {}) });
      t.ok(byName, `${where}, ${forceVariant ?? 'unforced'}: the route is known`);
      t.equal(serving?.({ model: 'legacy-chat', ...(forceVariant ? { forceVariant } : {}) }), byName, `${where}, ${forceVariant ?? 'unforced'}: the alias is the same route`);
    }
    t.equal(serving?.({ model: 'nope' }), undefined, `${where}: an unknown name has no identity`);
  }
});
