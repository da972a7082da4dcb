// A second finding on a pod that an earlier finding isolated: no second
// NetworkPolicy and no relabel (which would de-select the first policy), but
// only while that earlier policy is provably ours for this pod.
import { afterEach, describe, expect, it } from '@jest/globals';
import { INCIDENT_LABEL } from '../../src/actions/action.ts';
import { decodeInput } from '../../src/core/finding/envelope.ts';
import { plan as makePlan } from '../../src/core/plan/plan.ts';
import { notificationV1 } from '../support/fixtures.ts';
import { NS, POD } from '../support/kube-seed.ts';
import { harness, NOW, statuses, type Harness } from './harness.ts';

let h: Harness | undefined;
afterEach(async () => {
  await h?.fake.close();
  h = undefined;
});

function secondFinding(policy: Harness['policy']) {
  const n = notificationV1();
  n.finding.name = n.finding.name.replace(/[^/]+$/, 'f2222222222222222222222222222222');
  n.finding.eventTime = '2026-11-20T14:04:10.000Z';
  return makePlan(decodeInput(n), policy, NOW);
}

const applied = (x: Harness) => x.fake.writes().filter((w) => w.status < 300).map((w) => `${w.method} ${w.path}`);

describe('isolate-pod on an already isolated pod', () => {
  it('reports already and writes nothing new', async () => {
    h = await harness({ actions: ['isolate-pod'] });
    expect(statuses(await h.contain())).toEqual({ 'isolate-pod': 'done' });
    const firstId = h.fake.state.pods.get(`${NS}/${POD}`)!.metadata.labels[INCIDENT_LABEL];
    const before = applied(h);
    const again = await h.contain({ plan: secondFinding(h.policy) });
    expect(statuses(again)).toEqual({ 'isolate-pod': 'already' });
    expect(applied(h)).toEqual(before);
    expect(h.fake.state.pods.get(`${NS}/${POD}`)!.metadata.labels[INCIDENT_LABEL]).toBe(firstId);
    expect([...h.fake.state.networkPolicies.keys()]).toEqual([`${NS}/scc-isolate-${firstId}`]);
  });

  it('does not trust an incident label whose policy is gone: isolates under this finding\'s id instead', async () => {
    h = await harness({ actions: ['isolate-pod'] });
    await h.contain();
    h.fake.state.networkPolicies.clear();
    const result = await h.contain({ plan: secondFinding(h.policy) });
    expect(statuses(result)).toEqual({ 'isolate-pod': 'done' });
    expect(result.outcomes[0]!.checks?.join(' ')).toMatch(/did not place for this pod/);
    expect([...h.fake.state.networkPolicies.keys()]).toEqual([`${NS}/scc-isolate-f2222222222222222222222222222222`]);
    expect(h.fake.state.pods.get(`${NS}/${POD}`)!.metadata.labels[INCIDENT_LABEL]).toBe('f2222222222222222222222222222222');
  });

  it('a redelivery of the second finding reads back the policy the first one made (the recorded details), not one named after itself', async () => {
    h = await harness({ actions: ['isolate-pod'] });
    await h.contain();
    const second = secondFinding(h.policy);
    const first = await h.contain({ plan: second });
    expect(statuses(first)).toEqual({ 'isolate-pod': 'already' });
    const responder = await import('../../src/actions/cluster-responder.ts');
    const access = (await import('../../src/adapters/gke-cluster-access.ts')).createClusterAccess({ policy: h.policy });
    const again = await responder
      .createClusterResponder({ policy: h.policy, log: { log: () => {} }, access, now: () => NOW })
      .contain({ plan: second, deniedByBudget: new Map(), previous: new Map([['isolate-pod', first.outcomes[0]!]]) });
    expect(again.outcomes[0]).toMatchObject({ status: 'already', reason: expect.stringMatching(/^already in an earlier delivery/) });
  });
});
