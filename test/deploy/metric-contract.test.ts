// The metric contract the dashboard and rules are written against is what the gateway's registry
// really exports: same names, same types, no label outside the contract.
import t from 'tap';
import { exportedFamilies, metricContract } from './metric-contract.js';

t.test('the gateway registry exports every contract metric with its type and labels', async (t) => {
  const exported = await exportedFamilies();
  for (const [name, spec] of Object.entries(metricContract)) {
    const family = exported.get(name);
    t.equal(family?.type, spec.type, `${name} is a ${spec.type} in the registry`);
    for (const label of family?.labels ?? []) {
      t.ok(spec.labels.includes(label), `${name}: label ${label} is in the contract`);
    }
  }
});
