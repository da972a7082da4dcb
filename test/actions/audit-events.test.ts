// The in-cluster audit trail: one Event per action that wrote, on the pod (or
// the node, for cordon), through the real client-node against the strict fake.
// Best effort: a refused or hung event write never changes an outcome.
import { describe, expect, it } from '@jest/globals';
import { INCIDENT_LABEL } from '../../src/actions/action.ts';
import { writeAuditEvents } from '../../src/actions/audit-events.ts';
import { createKubeApi, kubeConfigFromFile } from '../../src/adapters/kubernetes.ts';
import { NODE, NS, POD, POD_UID } from '../support/kube-seed.ts';
import { harnessPerTest, statuses } from './harness.ts';

const FINDING_ID = '6a7d4f1e2b3c4d5e8f9a0b1c2d3e4f50';
const setup = harnessPerTest();

describe('Kubernetes Events for what the responder did', () => {
  it('one event per action that wrote: on the pod in its namespace, on the node in "default"', async () => {
    const h = await setup({ actions: ['label-pod', 'isolate-pod', 'cordon-node', 'delete-pod'] });
    const result = await h.contain();
    expect(statuses(result)).toEqual({ 'label-pod': 'done', 'isolate-pod': 'done', 'cordon-node': 'done', 'delete-pod': 'done' });
    const events = h.fake.eventWrites().map((w) => ({ path: w.path, status: w.status, body: w.body as Record<string, any> }));
    expect(events.map((e) => [e.path, e.status, e.body.reason, e.body.type])).toEqual([
      [`/api/v1/namespaces/${NS}/events`, 201, 'SccResponderQuarantineLabelled', 'Normal'],
      [`/api/v1/namespaces/${NS}/events`, 201, 'SccResponderIsolated', 'Normal'],
      ['/api/v1/namespaces/default/events', 201, 'SccResponderNodeCordoned', 'Normal'],
      [`/api/v1/namespaces/${NS}/events`, 201, 'SccResponderPodDeleted', 'Normal'],
    ]);
    const podEvent = events[0]!.body;
    expect(podEvent.involvedObject).toEqual({ apiVersion: 'v1', kind: 'Pod', name: POD, namespace: NS, uid: POD_UID });
    expect(podEvent.metadata.labels[INCIDENT_LABEL]).toBe(FINDING_ID);
    expect(podEvent.message).toMatch(new RegExp(`^label-pod done: labelled pod .* \\(incident ${FINDING_ID}\\)$`));
    expect(podEvent.source).toEqual({ component: 'scc-responder' });
    expect(events[2]!.body.involvedObject).toMatchObject({ kind: 'Node', name: NODE });
    // What `kubectl get events --field-selector involvedObject.uid=…` shows afterwards.
    const onPod = h.fake.state.events.filter((e) => e.involvedObject?.uid === POD_UID && e.source?.component === 'scc-responder');
    expect(onPod).toHaveLength(3);
  });

  it('a failed or partial action is a Warning with its reason; dry-run and already write none', async () => {
    const h = await setup({
      actions: ['isolate-pod', 'cordon-node'],
      enforcement: 'unknown',
      seed: (s) => void (s.nodes![0]!.spec.unschedulable = true),
    });
    const result = await h.contain();
    expect(statuses(result)).toEqual({ 'isolate-pod': 'partial', 'cordon-node': 'already' });
    expect(h.fake.eventWrites().map((w) => [(w.body as any).reason, (w.body as any).type])).toEqual([['SccResponderPartiallyIsolated', 'Warning']]);

    const dry = await setup({ actions: ['label-pod', 'isolate-pod', 'cordon-node'], dryRun: true });
    await dry.contain();
    expect(dry.fake.eventWrites()).toEqual([]);
  });

  it('events refused (no `events create` grant) change no outcome; the summary gets one warning', async () => {
    const h = await setup({ actions: ['label-pod', 'cordon-node'] });
    h.fake.state.faults.push({ method: 'POST', path: /\/events$/, status: 403, reason: 'Forbidden', message: 'events is forbidden', times: Infinity });
    const result = await h.contain();
    expect(statuses(result)).toEqual({ 'label-pod': 'done', 'cordon-node': 'done' });
    expect(result.warnings).toContain('audit events: 2 of 2 not recorded (HTTP 403 Forbidden: events is forbidden)');
  });

  it('a hung event write is waited for only so long, then reported, never awaited to the end', async () => {
    const h = await setup({ actions: ['label-pod'] });
    h.fake.state.faults.push({ method: 'POST', path: /\/events$/, delayMs: 5_000 });
    const kube = createKubeApi(kubeConfigFromFile(h.fake.kubeconfigPath, 'fake'));
    const warning = await writeAuditEvents(kube, [{ namespace: NS, event: { metadata: { generateName: 'x.' }, involvedObject: { kind: 'Pod', name: POD, namespace: NS }, reason: 'R', message: 'm' } }], 50);
    expect(warning).toBe('audit events: 1 of 1 not recorded (not confirmed within 50 ms)');
  });
});
