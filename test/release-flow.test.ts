// Release as the CLI runs it, on real parts: two findings contained through the
// pipeline with the local ledger and the strict Kubernetes fake, then the first
// one released by incident id. The node both findings hold stays cordoned until
// the second is released too.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClusterResponder } from '../src/actions/cluster-responder.ts';
import { LocalLedger } from '../src/adapters/local-ledger.ts';
import { createClusterAccess } from '../src/adapters/gke-cluster-access.ts';
import { validatePolicy, type Policy } from '../src/core/policy/policy.ts';
import type { StepLogger } from '../src/core/ports.ts';
import { handleInput, type PipelineDeps } from '../src/pipeline/respond.ts';
import { releaseIncident, type ReleaseFlowDeps } from '../src/pipeline/release.ts';
import { startFakeKubeApi, type FakeKubeApi } from './fakes/kube-api-server.ts';
import { notificationV1 } from './support/fixtures.ts';
import { CLUSTER, NODE, seed } from './support/kube-seed.ts';
import { summaryCheckingLog } from './support/summary-check.ts';

const NOW = new Date('2026-11-20T14:05:00Z');
const FIRST = '6a7d4f1e2b3c4d5e8f9a0b1c2d3e4f50';
const SECOND = 'f2222222222222222222222222222222';

let fake: FakeKubeApi;
let dir: string;
let store: LocalLedger;
let policy: Policy;
const log: StepLogger = summaryCheckingLog({ log: () => {} });

beforeAll(async () => {
  fake = await startFakeKubeApi({ seed: seed() });
  dir = mkdtempSync(join(tmpdir(), 'release-flow-'));
  store = new LocalLedger({ path: join(dir, 'ledger.sqlite'), leaseSeconds: 600, ttlDays: 30 });
  policy = validatePolicy({
    dryRun: false,
    rules: [{ name: 'contain', actions: ['label-pod', 'isolate-pod', 'cordon-node'] }],
    // Two cordons in the window: this test is about who holds the node, not the blast radius.
    budget: { perCluster: { cordons: 5 } },
    clusters: { [CLUSTER]: { kubeconfig: fake.kubeconfigPath, context: 'fake', networkPolicyEnforcement: 'enforced' } },
  });
});
afterAll(async () => {
  await store.close();
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
});

function finding(id: string, eventTime: string): Record<string, any> {
  const n = notificationV1();
  n.finding.name = n.finding.name.replace(/[^/]+$/, id);
  n.finding.eventTime = eventTime;
  return n;
}

function pipelineDeps(): PipelineDeps {
  const access = createClusterAccess({ policy });
  return {
    policy,
    now: () => NOW,
    log,
    ledger: async () => store,
    budget: async () => store,
    clusterResponder: async () => createClusterResponder({ policy, log, access, now: () => NOW }),
  };
}

function releaseDeps(): ReleaseFlowDeps {
  return { policy, now: () => NOW, log, connector: async () => createClusterAccess({ policy }), incidents: async () => store };
}

describe('release of one of two incidents on the same node', () => {
  it('releases the first incident and leaves the node cordoned for the second; releasing the second frees it', async () => {
    const a = await handleInput(finding(FIRST, '2026-11-20T14:03:27.512Z'), pipelineDeps());
    expect(a.summary!.actions.map((x) => x.status)).toEqual(['done', 'done', 'done']);
    // The second finding on the same pod: label and isolation already there (the first's), the node already cordoned.
    const b = await handleInput(finding(SECOND, '2026-11-20T14:04:10.000Z'), pipelineDeps());
    expect(b.summary!.actions.find((x) => x.type === 'cordon-node')!.status).toBe('already');

    const first = await releaseIncident({ incidentId: FIRST }, { dryRun: false, by: 'oncall' }, releaseDeps());
    const cordon = first.outcomes.find((o) => o.type === 'cordon-node')!;
    expect(cordon).toMatchObject({ status: 'skipped', reason: expect.stringContaining(`also held by open incident(s) ${SECOND}`) });
    expect(fake.state.nodes.get(NODE)!.spec.unschedulable).toBe(true);
    expect(first.summary).toMatchObject({ kind: 'release', outcome: 'contained' });

    const records = await store.listIncidents(new Date(0));
    expect(records.find((r) => r.findingName?.endsWith(FIRST))!.release).toMatchObject({ dryRun: false, by: 'oncall' });

    // The second incident found the node cordoned (the annotation names the first finding). The first is
    // released now, so the node is the second's to hand back: releasing it uncordons.
    const second = await releaseIncident({ incidentId: SECOND }, { dryRun: false }, releaseDeps());
    expect(second.outcomes.find((o) => o.type === 'cordon-node')).toMatchObject({ status: 'done', reason: `uncordoned node ${NODE}` });
    expect(fake.state.nodes.get(NODE)!.spec.unschedulable).toBeUndefined();
  });
});
