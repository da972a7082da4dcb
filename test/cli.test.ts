import { describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { runCli } from '../src/cli.ts';
import { decodeInput } from '../src/core/finding/envelope.ts';
import { plan } from '../src/core/plan/plan.ts';
import { validatePolicy } from '../src/core/policy/policy.ts';
import { SCC_MARK } from '../src/core/scc/marks.ts';
import { findingKey } from '../src/core/finding/key.ts';
import { notificationV1 } from './support/fixtures.ts';

const dir = mkdtempSync(join(tmpdir(), 'scc-cli-'));
function file(name: string, content: unknown): string {
  const path = join(dir, name);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

async function run(argv: string[], stdin = '', env: Record<string, string> = {}) {
  let out = '';
  let err = '';
  const code = await runCli({ argv, env, readStdin: () => stdin, stdout: (t) => (out += t), stderr: (t) => (err += t) });
  return { code, out, err };
}

const FINDING = file('finding.json', notificationV1());
const POLICY = file('policy.yaml', 'dryRun: false\nrules: [{name: all, actions: [evict-pod, label-pod]}]\n');

describe('scc-responder plan', () => {
  it('prints the plan JSON and exits 0', async () => {
    const { code, out, err } = await run(['plan', '--finding', FINDING, '--policy', POLICY, '--now', '2026-11-20T14:05:00Z']);
    expect(err).toBe('');
    expect(code).toBe(0);
    const plan = JSON.parse(out);
    expect(plan).toMatchObject({
      decision: 'respond',
      reason: 'rule all matched',
      dryRun: false,
      rule: 'all',
      target: { project: 'example-shop-prod', location: 'us-central1', cluster: 'shop-prod-1', namespace: 'payments', pod: 'checkout-7c9f8d6b5-q2w8x', container: 'checkout', node: 'gke-shop-prod-1-default-pool-3f2a9c1b-x7kq' },
      inputShape: 'notification',
      plannedAt: '2026-11-20T14:05:00.000Z',
    });
    expect(plan.actions.map((a: { type: string }) => a.type)).toEqual(['label-pod', 'evict-pod']);
    expect(plan.evidence.map((e: { kind: string }) => e.kind)).toEqual(['pod-logs', 'cluster-audit-logs', 'node-logs']);
    expect(Object.keys(plan).slice(0, 5)).toEqual(['version', 'decision', 'reason', 'dryRun', 'rule']);
  });

  it('reads the finding from stdin with "-"', async () => {
    const { code, out } = await run(['plan', '--finding', '-', '--policy', POLICY], JSON.stringify(notificationV1().finding));
    expect(code).toBe(0);
    expect(JSON.parse(out).inputShape).toBe('finding');
  });

  it('prints process args with credentials redacted (the plan for people, not the raw finding)', async () => {
    const n = structuredClone(notificationV1());
    const child = n.finding.processes.find((p: any) => p.parentPid !== undefined && n.finding.processes.some((q: any) => q.pid === p.parentPid));
    child.args = ['mysql', '-uroot', '-pCliSecret0001', '--password=CliSecret0002', 'https://admin:CliSecret0003@db.example'];
    const { code, out } = await run(['plan', '--finding', file('creds.json', n), '--policy', POLICY]);
    expect(code).toBe(0);
    expect(out).not.toMatch(/CliSecret000/);
    expect(JSON.parse(out).processes.child.args).toEqual(['mysql', '-uroot', '-p<redacted>', '--password=<redacted>', 'https://admin:<redacted>@db.example']);
  });

  it('plans a finding that carries our own SCC marks: a person passed it in (the function ignores it as our echo)', async () => {
    const n = structuredClone(notificationV1());
    const key = findingKey(n.finding);
    n.finding.securityMarks = { name: `${n.finding.name}/securityMarks`, marks: { [SCC_MARK.incident]: key.id, [SCC_MARK.outcome]: 'dry-run' } };
    const { code, out } = await run(['plan', '--finding', file('exported.json', n), '--policy', POLICY]);
    expect(code).toBe(0);
    expect(JSON.parse(out)).toMatchObject({ decision: 'respond', rule: 'all' });
    // The same finding delivered to the function is the echo of our write-back.
    expect(plan(decodeInput(n), validatePolicy({ rules: [{ name: 'all', actions: ['label-pod'] }] }), new Date()).reason).toMatch(/our own write-back/);
  });

  it('exits 0 with decision ignore for an out-of-scope finding', async () => {
    const n = structuredClone(notificationV1());
    n.finding.state = 'INACTIVE';
    const { code, out } = await run(['plan', '--finding', file('inactive.json', n)]);
    expect(code).toBe(0);
    expect(JSON.parse(out)).toMatchObject({ decision: 'ignore', reason: 'state is "INACTIVE", not ACTIVE' });
  });

  it('uses SCC_RESPONDER_POLICY_FILE, and the bundled dry-run default without it', async () => {
    expect(JSON.parse((await run(['plan', '--finding', FINDING], '', { SCC_RESPONDER_POLICY_FILE: POLICY })).out).rule).toBe('all');
    expect(JSON.parse((await run(['plan', '--finding', FINDING])).out)).toMatchObject({ rule: 'default-contain', dryRun: true });
  });

  it('SCC_RESPONDER_FORCE_DRY_RUN=true wins over the policy', async () => {
    const { out } = await run(['plan', '--finding', FINDING, '--policy', POLICY], '', { SCC_RESPONDER_FORCE_DRY_RUN: 'true' });
    expect(JSON.parse(out).dryRun).toBe(true);
  });

  it('--explain names the exception that applies, and stops naming it once it expired', async () => {
    const nightly = 'examples/policy-tests/nightly-report.json';
    const before = await run(['plan', '--explain', '--finding', nightly, '--policy', 'examples/policy.yaml', '--now', '2026-11-20T02:00:10Z']);
    expect(before.code).toBe(0);
    expect(before.out).toContain('decision   respond · EXCEPTED by nightly-report (expires 2027-03-31T00:00:00Z, owner "data-platform@example.com")');
    expect(before.out).toContain('suggested SCC mute rule');
    const after = await run(['plan', '--explain', '--finding', nightly, '--policy', 'examples/policy.yaml', '--now', '2027-03-31T00:00:00Z']);
    expect(after.out).toContain('decision   respond · rule everything-else matched · dry-run');
    expect(after.out).toContain('  ✗ nightly-report  expired at 2027-03-31T00:00:00Z: not applied (its conditions hold)');
    expect(after.out).not.toContain('suggested SCC mute rule');
    const json = JSON.parse((await run(['plan', '--finding', nightly, '--policy', 'examples/policy.yaml', '--now', '2026-11-20T02:00:10Z'])).out);
    expect(json).toMatchObject({ rule: null, actions: [], exception: { name: 'nightly-report', expires: '2027-03-31T00:00:00Z', sinks: ['pubsub'] } });
  });

  it('--explain never prints credentials from the args', async () => {
    const n = structuredClone(notificationV1());
    const child = n.finding.processes.find((p: any) => p.pid === '48213');
    child.args = ['mysql', '-uroot', '-pCliSecret0001', '--password=CliSecret0002'];
    const { code, out } = await run(['plan', '--explain', '--finding', file('creds-explain.json', n), '--policy', 'examples/policy.yaml']);
    expect(code).toBe(0);
    expect(out).toContain('"mysql -uroot -p<redacted> --password=<redacted>"');
    expect(out).not.toMatch(/CliSecret000/);
  });

  const failures: Array<[string, string[], number, RegExp]> = [
    ['a missing file', ['plan', '--finding', join(dir, 'nope.json')], 2, /^scc-responder plan: cannot read .*nope.json: ENOENT\n$/],
    ['a file that is not JSON', ['plan', '--finding', file('bad.json', '{oops')], 1, /^scc-responder plan: .*bad.json: not valid JSON/],
    ['JSON that is not a finding', ['plan', '--finding', file('other.json', { a: 1 })], 1, /not an SCC notification/],
    ['no --finding', ['plan'], 2, /--finding FILE is required/],
    ['an unknown flag', ['plan', '--finding', FINDING, '--force'], 2, /Unknown option '--force'/],
    ['a bad --now', ['plan', '--finding', FINDING, '--now', 'yesterday'], 2, /--now must be an RFC 3339 time/],
    ['an invalid policy', ['plan', '--finding', FINDING, '--policy', file('p.yaml', 'dryRun: 1')], 1, /invalid policy .*p.yaml:\n {2}- dryRun: /],
    ['an unknown command', ['frobnicate'], 2, /unknown command "frobnicate"/],
  ];
  it.each(failures)('fails clearly on %s, without a stack trace', async (_name, argv, exitCode, message) => {
    const { code, out, err } = await run(argv);
    expect(code).toBe(exitCode);
    expect(out).toBe('');
    expect(err).toMatch(message);
    expect(err).not.toMatch(/\n\s+at /);
  });
});

describe('scc-responder validate-policy', () => {
  it('exits 0 for a valid policy', async () => {
    expect(await run(['validate-policy', 'examples/policy.yaml', '--now', '2026-11-20T14:05:00Z'])).toEqual({
      code: 0,
      out: 'examples/policy.yaml: valid (3 rule(s), 1 exception(s), dryRun: true)\n',
      err: '',
    });
  });
  it('warns on stderr about an exception expiring soon or expired, and still exits 0', async () => {
    const soon = await run(['validate-policy', 'examples/policy.yaml', '--now', '2027-03-25T00:00:00Z']);
    expect(soon).toMatchObject({ code: 0, err: "warning: exceptions[0] nightly-report: expires at 2027-03-31T00:00:00Z (in 6 days); after that its findings get the rules' actions\n" });
    const expired = await run(['validate-policy', 'examples/policy.yaml', '--now', '2027-04-02T00:00:00Z']);
    expect(expired.code).toBe(0);
    expect(expired.out).toMatch(/: valid /);
    expect(expired.err).toMatch(/^warning: exceptions\[0\] nightly-report: expired at 2027-03-31T00:00:00Z \(2 days ago\) and no longer applies/);
  });
  it('names every problem', async () => {
    const { code, err } = await run(['validate-policy', file('bad.yaml', 'rules: [{name: a, actions: [kill-pod]}]\nfoo: 1')]);
    expect(code).toBe(1);
    expect(err).toContain('- rules[0].actions[0]:');
    expect(err).toContain('- (top level): unknown field(s) "foo"');
  });
});

describe('the real executable', () => {
  it('runs as a process on Node 22 and prints the plan', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['src/cli.ts', 'plan', '--finding', FINDING, '--policy', POLICY], { env: { PATH: process.env.PATH ?? '' } });
    expect(JSON.parse(stdout).rule).toBe('all');
  });
  it('exits non-zero with one line on stderr for bad input', async () => {
    const result = await promisify(execFile)(process.execPath, ['src/cli.ts', 'plan', '--finding', file('x.json', '[]')]).catch((e: { code: number; stderr: string }) => e);
    expect(result).toMatchObject({ code: 1, stderr: 'scc-responder plan: expected a JSON object\n' });
  });
});
