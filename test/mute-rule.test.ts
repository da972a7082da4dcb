// The suggested SCC mute rule: only fields the mute filter supports, string
// literals quoted and escaped, and a gcloud command a shell reads back word for word.
import { describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { decodeInput } from '../src/core/finding/envelope.ts';
import { filterString, MUTE_FILTER_FIELDS, shellWord, suggestMuteRule } from '../src/core/policy/mute-rule.ts';
import { plan } from '../src/core/plan/plan.ts';
import { parsePolicy } from '../src/core/policy/policy.ts';
import { notificationV1 } from './support/fixtures.ts';

const NOW = new Date('2026-11-20T14:05:00Z');
const CLUSTER = '//container.googleapis.com/projects/example-shop-prod/locations/us-central1/clusters/shop-prod-1';

function suggestion(exceptionYaml: string, n: Record<string, any> = notificationV1()) {
  const policy = parsePolicy(`exceptions: [${exceptionYaml}]`);
  const p = plan(decodeInput(n), policy, NOW);
  expect(p.exception).not.toBeNull();
  return suggestMuteRule(p, policy.exceptions[0]!, NOW)!;
}

/** The words a POSIX shell makes of `text`, each as the program receives it. */
async function shellWords(text: string): Promise<string[]> {
  const { stdout } = await promisify(execFile)('/bin/sh', ['-c', `printf '%s\\0' ${text}`]);
  return stdout.split('\0').slice(0, -1);
}

describe('SCC filter string literals', () => {
  it.each([
    ['plain', 'Unexpected Child Shell', '"Unexpected Child Shell"'],
    ['a double quote', 'a"b', '"a\\"b"'],
    ['a backslash', 'a\\b', '"a\\\\b"'],
    ['a backslash before a quote', '\\"', '"\\\\\\""'],
    ['a filter operator inside', 'x" OR category:"', '"x\\" OR category:\\""'],
  ])('quotes %s', (_name, value, expected) => {
    expect(filterString(value)).toBe(expected);
  });
  it('refuses control characters rather than carry them', () => {
    expect(filterString('a\nb')).toBeUndefined();
    expect(filterString('a\u0000b')).toBeUndefined();
  });
});

describe('shell words', () => {
  it.each([
    ['bare', 'example-shop-prod'],
    ['a space', 'a b'],
    ['a single quote', "it's"],
    ['shell syntax', '$(id) `id` ; | & > * ~ \\ "x"'],
    ['only quotes', "''"],
  ])('%s reads back as itself', async (_name, value) => {
    expect(await shellWords(shellWord(value))).toEqual([value]);
  });
});

describe('suggestMuteRule', () => {
  it('uses only fields SCC mute rules support', () => {
    const s = suggestion('{name: e, reason: r, expires: 2027-01-01, match: {namespaces: [payments], severities: [CRITICAL, HIGH]}}');
    expect(s.filter).toBe(`category="Unexpected Child Shell" AND resource.name="${CLUSTER}" AND (severity="CRITICAL" OR severity="HIGH")`);
    expect(s.fields).toEqual(['category', 'resource.name', 'severity']);
    for (const f of s.fields) expect(MUTE_FILTER_FIELDS).toContain(f);
    expect(s.broaderBy).toEqual(['namespaces']);
    expect(s.note).toMatch(/^Mutes every Unexpected Child Shell finding on cluster shop-prod-1 with severity CRITICAL or HIGH: broader than the exception, which also requires namespaces/);
  });

  it('one severity needs no parentheses; cluster-only conditions make it no broader', () => {
    const s = suggestion('{name: e, reason: r, expires: 2027-01-01, match: {clusters: ["shop-prod-*"], severities: [CRITICAL]}}');
    expect(s.filter).toBe(`category="Unexpected Child Shell" AND resource.name="${CLUSTER}" AND severity="CRITICAL"`);
    expect(s.broaderBy).toEqual([]);
    expect(s.note).toMatch(/^Mutes the same findings on cluster shop-prod-1 as the exception/);
  });

  it('lists every process and label condition it cannot express', () => {
    const s = suggestion('{name: e, reason: r, expires: 2027-01-01, match: {podLabels: {app: checkout}, images: ["**"], parent: {names: [node]}, child: {binaryPaths: [/bin/sh], argsContain: [curl]}}}');
    expect(s.broaderBy).toEqual(['podLabels.app', 'images', 'parent.names', 'child.binaryPaths', 'child.argsContain']);
  });

  it('keeps the finding\'s own resource name (zones form included), escaped', () => {
    const n = structuredClone(notificationV1());
    n.finding.resourceName = '//container.googleapis.com/projects/example-shop-prod/zones/us-central1-a/clusters/shop-prod-1';
    expect(suggestion('{name: e, reason: r, expires: 2027-01-01, match: {namespaces: [payments]}}', n).filter).toContain(
      'resource.name="//container.googleapis.com/projects/example-shop-prod/zones/us-central1-a/clusters/shop-prod-1"',
    );
  });

  it('gives a gcloud command a shell reads back as the intended words, expiring with the exception', async () => {
    const s = suggestion(`{name: Nightly_Job.1, reason: "it's the nightly job; see \\"OPS-1\\" $(id)", expires: 2027-01-01, match: {namespaces: [payments]}}`);
    expect(s.gcloud.startsWith('gcloud scc muteconfigs create ')).toBe(true);
    const words = await shellWords(s.gcloud.slice('gcloud scc muteconfigs create '.length));
    expect(words).toEqual([
      'scc-responder-nightly-job-1',
      '--project=example-shop-prod',
      '--location=global',
      '--type=dynamic',
      '--expiry-time=2027-01-01T00:00:00Z',
      `--description=scc-responder exception Nightly_Job.1: it's the nightly job; see "OPS-1" $(id)`,
      `--filter=${s.filter}`,
    ]);
  });
});
