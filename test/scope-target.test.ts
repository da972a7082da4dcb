import { describe, expect, it } from '@jest/globals';
import { decodeInput } from '../src/core/finding/envelope.ts';
import type { Finding } from '../src/core/finding/schema.ts';
import { checkScope, parseGkeClusterResourceName } from '../src/core/finding/scope.ts';
import { extractProcesses, extractTarget, validateTarget } from '../src/core/finding/target.ts';
import { notificationV1 } from './support/fixtures.ts';

const finding = (): Record<string, any> => notificationV1().finding;
const parse = (f: unknown): Finding => decodeInput(f).notification.finding;

describe('scope filter', () => {
  it('keeps an active, unmuted Unexpected Child Shell threat on a GKE cluster', () => {
    const result = checkScope(parse(finding()));
    expect(result).toEqual({
      inScope: true,
      cluster: { project: 'example-shop-prod', location: 'us-central1', cluster: 'shop-prod-1', name: 'projects/example-shop-prod/locations/us-central1/clusters/shop-prod-1' },
    });
  });

  const outOfScope: Array<[string, (f: Record<string, any>) => void, RegExp]> = [
    ['another category', (f) => (f.category = 'Added Binary Executed'), /category is "Added Binary Executed"/],
    ['the category in other case', (f) => (f.category = 'unexpected child shell'), /category/],
    ['the same category on Cloud Run', (f) => (f.resourceName = '//run.googleapis.com/projects/example-shop-prod/locations/us-central1/services/checkout'), /not a GKE cluster/],
    ['the same category on Agent Engine', (f) => (f.resourceName = '//aiplatform.googleapis.com/projects/example-shop-prod/locations/us-central1/reasoningEngines/123'), /not a GKE cluster/],
    ['an inactive finding', (f) => (f.state = 'INACTIVE'), /state is "INACTIVE"/],
    ['a finding with no state', (f) => delete f.state, /state is missing/],
    ['a muted finding', (f) => (f.mute = 'MUTED'), /muted/],
    ['a finding that is not a threat', (f) => (f.findingClass = 'VULNERABILITY'), /findingClass/],
    ['no resourceName', (f) => delete f.resourceName, /no resourceName/],
    ['a cluster path with extra segments', (f) => (f.resourceName += '/nodePools/x'), /not a GKE cluster/],
    ['a cluster name that is not a GKE name', (f) => (f.resourceName = '//container.googleapis.com/projects/example-shop-prod/locations/us-central1/clusters/Bad_Name'), /not a GKE cluster/],
  ];
  it.each(outOfScope)('ignores %s', (_name, change, reason) => {
    const f = structuredClone(finding());
    change(f);
    const result = checkScope(parse(f));
    expect(result.inScope).toBe(false);
    expect(result.inScope === false && result.reason).toMatch(reason);
  });

  it('accepts zonal clusters and normalises them to locations', () => {
    expect(parseGkeClusterResourceName('//container.googleapis.com/projects/example-shop-prod/zones/us-central1-a/clusters/c1')?.name).toBe(
      'projects/example-shop-prod/locations/us-central1-a/clusters/c1',
    );
  });

  it('findingClass may be absent', () => {
    const f = structuredClone(finding());
    delete f.findingClass;
    expect(checkScope(parse(f)).inScope).toBe(true);
  });
});

describe('target extraction', () => {
  const cluster = { project: 'example-shop-prod', location: 'us-central1', cluster: 'shop-prod-1', name: 'projects/example-shop-prod/locations/us-central1/clusters/shop-prod-1' };

  it('reads pod, container, image and node from kubernetes/containers', () => {
    const t = extractTarget(parse(finding()), cluster);
    expect(t).toMatchObject({
      namespace: 'payments',
      pod: 'checkout-7c9f8d6b5-q2w8x',
      container: 'checkout',
      image: 'us-docker.pkg.dev/example-shop-prod/apps/checkout:2.14.1',
      node: 'gke-shop-prod-1-default-pool-3f2a9c1b-x7kq',
      podLabels: { app: 'checkout', 'pod-template-hash': '7c9f8d6b5', tier: 'payments' },
    });
    expect(validateTarget(t)).toEqual({ podActionable: true, nodeActionable: true, problems: [] });
  });

  it('falls back to sourceProperties when CTD left kubernetes/containers empty', () => {
    const f = structuredClone(finding());
    delete f.kubernetes;
    delete f.containers;
    f.sourceProperties.Pod_Name = 'checkout-fallback-1';
    const t = extractTarget(parse(f), cluster);
    expect(t).toMatchObject({
      namespace: 'payments',
      pod: 'checkout-fallback-1',
      container: 'checkout',
      image: 'us-docker.pkg.dev/example-shop-prod/apps/checkout:2.14.1',
      node: 'gke-shop-prod-1-default-pool-3f2a9c1b-x7kq',
    });
  });

  it('picks the pod that runs the finding container when several are listed', () => {
    const f = structuredClone(finding());
    f.kubernetes.pods.unshift({ ns: 'other', name: 'sidecar-pod', containers: [{ name: 'envoy' }] });
    expect(extractTarget(parse(f), cluster).pod).toBe('checkout-7c9f8d6b5-q2w8x');
  });

  const hostile: Array<[string, (f: Record<string, any>) => void, RegExp, boolean]> = [
    ['a pod name with a path', (f) => (f.kubernetes.pods[0].name = '../../nodes/x'), /pod "..\/..\/nodes\/x" is not a valid Kubernetes name/, false],
    ['a namespace with a quote', (f) => (f.kubernetes.pods[0].ns = 'payments" OR "1'), /namespace/, false],
    ['an upper-case container', (f) => (f.containers[0].name = 'Checkout'), /container "Checkout"/, false],
    ['a node name with spaces', (f) => (f.kubernetes.nodes[0].name = '//compute.googleapis.com/x/instances/bad node'), /node "bad node"/, true],
    ['a 300-character pod name', (f) => (f.kubernetes.pods[0].name = 'a'.repeat(300)), /pod "a{80}" is not a valid/, false],
  ];
  it.each(hostile)('marks %s as not actionable', (_name, change, problem, podActionable) => {
    const f = structuredClone(finding());
    change(f);
    const v = validateTarget(extractTarget(parse(f), cluster));
    expect(v.problems.join('; ')).toMatch(problem);
    expect(v.podActionable).toBe(podActionable);
  });

  it('keeps only pod labels a real pod could carry, in a null-prototype record', () => {
    const f = structuredClone(finding());
    f.kubernetes.pods[0].labels.push(
      { name: 'bad key', value: 'x' },
      { name: 'team', value: 'x'.repeat(64) },
      { name: '__proto__', value: 'x' },
      { name: 'toString', value: 'v' },
    );
    const labels = extractTarget(parse(f), cluster).podLabels;
    expect(Object.getPrototypeOf(labels)).toBeNull();
    expect({ ...labels }).toEqual({ app: 'checkout', 'pod-template-hash': '7c9f8d6b5', tier: 'payments', toString: 'v' });
  });

  it('keeps at most 256 pod labels', () => {
    const f = structuredClone(finding());
    f.kubernetes.pods[0].labels = Array.from({ length: 10_000 }, (_, i) => ({ name: `l${i}`, value: 'v' }));
    expect(Object.keys(extractTarget(parse(f), cluster).podLabels)).toHaveLength(256);
  });

  it('bounds the length of values kept for the report', () => {
    const f = structuredClone(finding());
    f.kubernetes.pods[0].name = 'x'.repeat(10_000);
    expect(extractTarget(parse(f), cluster).pod?.length).toBeLessThanOrEqual(254);
  });

  it('never cuts between the halves of a surrogate pair', () => {
    const f = structuredClone(finding());
    f.kubernetes.pods[0].ns = `${'x'.repeat(252)}\u{1F600}tail`;
    expect(extractTarget(parse(f), cluster).namespace).toBe(`${'x'.repeat(252)}…`);
  });
});

describe('process extraction', () => {
  it('pairs child and parent by parentPid, not array order', () => {
    const p = extractProcesses(parse(finding()));
    expect(p.child).toMatchObject({ name: 'sh', pid: '48213', parentPid: '1', binaryPath: '/bin/sh' });
    expect(p.parent).toMatchObject({ name: 'node', pid: '1', binaryPath: '/usr/local/bin/node' });
    const reversed = structuredClone(finding());
    reversed.processes.reverse();
    const q = extractProcesses(parse(reversed));
    expect(q.child?.name).toBe('sh');
    expect(q.parent?.name).toBe('node');
  });

  it('keeps environment variable names and never their values', () => {
    const p = extractProcesses(parse(finding()));
    expect(p.child?.envVariableNames).toEqual(['PATH', 'STRIPE_API_KEY', 'HOSTNAME']);
    expect(JSON.stringify(p)).not.toContain('sk_live_');
  });

  it('drops a sha256 that is not 64 hex characters', () => {
    const f = structuredClone(finding());
    f.processes[0].binary.sha256 = 'javascript:alert(1)';
    expect(extractProcesses(parse(f)).child?.sha256).toBeNull();
  });

  it('copes with no processes at all', () => {
    const f = structuredClone(finding());
    delete f.processes;
    expect(extractProcesses(parse(f))).toEqual({ parent: null, child: null, count: 0 });
  });
});
