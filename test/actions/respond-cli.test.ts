// `scc-responder respond` end to end: the CLI, the composition root's lazy
// cluster responder, the pipeline, the real client-node, the fake API server
// reached through a policy `clusters` kubeconfig mapping.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { runCli } from '../../src/cli.ts';
import { startFakeKubeApi, type FakeKubeApi } from '../fakes/kube-api-server.ts';
import { CLUSTER, NODE, NS, POD, seed } from '../support/kube-seed.ts';
import { noteSummary } from '../support/summary-check.ts';

let fake: FakeKubeApi;
let dir: string;

beforeAll(async () => {
  fake = await startFakeKubeApi({ seed: seed() });
  dir = mkdtempSync(join(tmpdir(), 'respond-cli-'));
});
afterAll(async () => {
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
});

function policyFile(dryRun: boolean): string {
  const path = join(dir, `policy-${dryRun}.yaml`);
  writeFileSync(
    path,
    [
      `dryRun: ${dryRun}`,
      'rules:',
      '  - name: contain-payments',
      '    match: {namespaces: [payments]}',
      '    actions: [label-pod, isolate-pod, cordon-node, delete-pod]',
      'clusters:',
      `  ${CLUSTER}:`,
      `    kubeconfig: ${fake.kubeconfigPath}`,
      '    context: fake',
      '    networkPolicyEnforcement: enforced',
      '',
    ].join('\n'),
  );
  return path;
}

/** Runs the CLI as a person would from a terminal: no Firestore, so the local ledger (a file of this test's own). */
async function cli(argv: string[]): Promise<{ code: number; out: any; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli({
    argv,
    env: { SCC_RESPONDER_LOCAL_LEDGER: join(dir, 'ledger.sqlite'), USER: 'oncall' },
    readStdin: () => '',
    stdout: (t) => void (out += t),
    stderr: (t) => void (err += t),
  });
  let parsed: any = out;
  try {
    parsed = JSON.parse(out);
  } catch {
    // a table, not JSON
  }
  if (argv[0] === 'release' && code !== 2) noteSummary(parsed, 'release stdout');
  return { code, out: parsed, err };
}

async function respond(dryRun: boolean): Promise<{ code: number; out: any; err: string }> {
  let out = '';
  let err = '';
  const code = await runCli({
    argv: ['respond', '--finding', 'test/fixtures/notification-v1.json', '--policy', policyFile(dryRun), '--now', '2026-11-20T14:05:00Z', '--no-evidence'],
    env: { SCC_RESPONDER_LOCAL_LEDGER: join(dir, 'ledger.sqlite') },
    readStdin: () => '',
    stdout: (t) => void (out += t),
    stderr: (t) => void (err += t),
  });
  const printed = out ? JSON.parse(out) : null;
  // Without a summary (a duplicate, a malformed finding) the CLI prints {status, …} instead.
  if (printed !== null && !('status' in printed)) noteSummary(printed, 'respond stdout');
  return { code, out: printed, err };
}

const byType = (actions: { type: string; status: string }[]) => Object.fromEntries(actions.map((a) => [a.type, a.status]));

describe('scc-responder respond', () => {
  it('dry-run: reports would for every action and writes nothing', async () => {
    const { code, out, err } = await respond(true);
    expect(err).not.toMatch(/"severity":"ERROR"/);
    expect(code).toBe(0);
    expect(byType(out.actions)).toEqual({ 'label-pod': 'would', 'isolate-pod': 'would', 'cordon-node': 'would', 'delete-pod': 'would' });
    expect(fake.writes()).toEqual([]);
  });

  it('enforced from a terminal without Firestore: the local ledger\'s budget lets cordon and delete run; then incidents, release, incidents', async () => {
    const { out, code, err } = await respond(false);
    expect(code).toBe(0);
    expect(err).toMatch(/respond uses the local ledger .*ledger\.sqlite/);
    expect(byType(out.actions)).toEqual({ 'label-pod': 'done', 'isolate-pod': 'done', 'cordon-node': 'done', 'delete-pod': 'done' });
    expect(fake.writes().map((w) => `${w.method} ${w.path}`)).toEqual([
      `PATCH /api/v1/namespaces/${NS}/pods/${POD}`,
      `POST /apis/networking.k8s.io/v1/namespaces/${NS}/networkpolicies`,
      `PATCH /api/v1/namespaces/${NS}/pods/${POD}`,
      `PATCH /api/v1/nodes/${NODE}`,
      `DELETE /api/v1/namespaces/${NS}/pods/${POD}`,
    ]);
    // The same finding again is a duplicate: the local ledger remembers it, as Firestore would.
    const again = await respond(false);
    expect(again.out.status).toBe('duplicate');
    expect(fake.writes()).toHaveLength(5);

    // Then, as the person on call would: list, release (dry-run first), list again.
    const listed = await cli(['incidents', '--since', '30d', '--now', '2026-11-20T14:06:00Z']);
    expect(listed.code).toBe(0);
    expect(listed.out).toMatch(/^1 incident\(s\) in the local ledger /);
    expect(listed.out).toMatch(/6a7d4f1e2b3c4d5e8f9a0b1c2d3e4f50 .*shop-prod-1\/payments\/checkout-7c9f8d6b5-q2w8x .*released no/);

    const dry = await cli(['release', '--incident', '6a7d4f1e2b3c4d5e8f9a0b1c2d3e4f50', '--policy', policyFile(false), '--dry-run', '--now', '2026-11-20T14:06:00Z']);
    expect(dry.err).not.toMatch(/"severity":"ERROR"/);
    expect(dry.code).toBe(0);
    expect(dry.out).toMatchObject({ kind: 'release', outcome: 'dry-run' });
    const writes = fake.writes().length;
    expect(writes).toBe(5);

    const released = await cli(['release', '--incident', '6a7d4f1e2b3c4d5e8f9a0b1c2d3e4f50', '--policy', policyFile(false), '--now', '2026-11-20T14:06:00Z']);
    expect(released.code).toBe(0);
    expect(released.out.headline).toMatch(/quarantine released$/);
    expect(byType(released.out.actions)).toEqual({ 'label-pod': 'skipped', 'isolate-pod': 'done', 'cordon-node': 'done' });
    expect(fake.state.nodes.get(NODE)!.spec.unschedulable).toBeUndefined();
    expect([...fake.state.networkPolicies.keys()]).toEqual([]);

    const after = await cli(['incidents', '--json', '--since', '30d', '--now', '2026-11-20T14:07:00Z']);
    expect(after.out[0].release).toMatchObject({ dryRun: false, by: 'oncall' });
  });

  it('release without --finding or --incident, or with both, is a usage error', async () => {
    expect((await cli(['release'])).code).toBe(2);
    expect((await cli(['release', '--incident', 'x', '--finding', 'y'])).code).toBe(2);
  });
});

describe('scc-responder respond in a namespace that already has an allow-everything-in-namespace policy', () => {
  let other: FakeKubeApi;
  beforeAll(async () => {
    const s = seed();
    s.networkPolicies = [
      {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'NetworkPolicy',
        metadata: { name: 'allow-same-namespace', namespace: NS },
        spec: { podSelector: {}, policyTypes: ['Ingress'], ingress: [{ from: [{ podSelector: {} }] }] },
      },
    ];
    other = await startFakeKubeApi({ seed: s });
  });
  afterAll(() => other.close());

  async function respondHere(dryRun: boolean) {
    const path = join(dir, `policy-allow-${dryRun}.yaml`);
    writeFileSync(
      path,
      [`dryRun: ${dryRun}`, 'rules: [{name: isolate, actions: [label-pod, isolate-pod]}]', 'clusters:', `  ${CLUSTER}: {kubeconfig: ${other.kubeconfigPath}, context: fake, networkPolicyEnforcement: enforced}`, ''].join('\n'),
    );
    let out = '';
    const code = await runCli({
      argv: ['respond', '--finding', 'test/fixtures/notification-v1.json', '--policy', path, '--now', '2026-11-20T14:05:00Z', '--no-evidence'],
      env: { SCC_RESPONDER_LOCAL_LEDGER: join(dir, 'ledger-allow.sqlite') },
      readStdin: () => '',
      stdout: (t) => void (out += t),
      stderr: () => {},
    });
    return { code, out: noteSummary(JSON.parse(out), 'respond stdout') };
  }

  it('dry-run says the pod would NOT be isolated and why; enforced says it is NOT isolated, in the headline and the action', async () => {
    const dry = await respondHere(true);
    expect(dry.code).toBe(0);
    expect(dry.out.headline).toMatch(/dry-run \(nothing changed\); pod would NOT be isolated/);
    expect(dry.out.actions.find((a: any) => a.type === 'isolate-pod').reason).toMatch(/still admitted by NetworkPolicy allow-same-namespace \(ingress\)/);
    expect(other.writes()).toEqual([]);

    const enforced = await respondHere(false);
    expect(byType(enforced.out.actions)).toEqual({ 'label-pod': 'done', 'isolate-pod': 'partial' });
    expect(enforced.out.outcome).toBe('partial');
    expect(enforced.out.headline).toMatch(/partially contained; pod NOT isolated$/);
    expect(enforced.out.warnings.join('\n')).toMatch(/isolation blocks new connections only.*does NOT remove the pod/);
  });
});
