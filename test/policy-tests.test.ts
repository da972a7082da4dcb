// `scc-responder test-policy POLICY DIR`: the shipped example folder passes, and
// every kind of difference (or missing expectation) fails with a non-zero exit.
import { describe, expect, it } from '@jest/globals';
import { copyFileSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../src/cli.ts';
import { parseExpectation, renderPolicyTestTable, runPolicyTest } from '../src/core/policy/policy-tests.ts';
import { parsePolicy } from '../src/core/policy/policy.ts';
import { notificationV1 } from './support/fixtures.ts';

async function run(argv: string[]) {
  let out = '';
  let err = '';
  const code = await runCli({ argv, env: {}, readStdin: () => '', stdout: (t) => (out += t), stderr: (t) => (err += t) });
  return { code, out, err };
}

/** A copy of the example folder, with `change` applied to it. */
function exampleCopy(change: (dir: string) => void): string {
  const dir = mkdtempSync(join(tmpdir(), 'scc-policy-tests-'));
  for (const f of readdirSync('examples/policy-tests')) copyFileSync(join('examples/policy-tests', f), join(dir, f));
  change(dir);
  return dir;
}

describe('scc-responder test-policy', () => {
  it('the shipped examples pass against examples/policy.yaml (whatever the clock says)', async () => {
    const { code, out, err } = await run(['test-policy', 'examples/policy.yaml', 'examples/policy-tests']);
    expect(err).toBe('');
    expect(code).toBe(0);
    expect(out.split('\n')[0]).toMatch(/^case +decision +rule \/ exception +actions +result$/);
    expect(out).toMatch(/^nightly-report +respond +exception nightly-report +\(none\) +ok$/m);
    expect(out).toMatch(/^nightly-report-after-expiry +respond +rule everything-else +label-pod,isolate-pod +ok$/m);
    expect(out).toMatch(/^payments-curl-pipe-sh +respond +rule payments-quarantine +label-pod,isolate-pod,cordon-node,delete-pod +ok$/m);
    expect(out).toContain('\n5 cases: 5 passed, 0 failed\n');
  });

  it('fails, naming the difference, when a plan differs from its expectation', async () => {
    const dir = exampleCopy((d) => writeFileSync(join(d, 'nightly-report.expect.yaml'), 'decision: respond\nnow: 2026-11-20T02:00:10Z\nrule: payments-quarantine\nactions: [label-pod]\n'));
    const { code, out } = await run(['test-policy', 'examples/policy.yaml', dir]);
    expect(code).toBe(1);
    expect(out).toMatch(/^nightly-report +respond +exception nightly-report +\(none\) +FAIL$/m);
    expect(out).toContain('    rule: expected "payments-quarantine", got null\n');
    expect(out).toContain('    actions: expected ["label-pod"], got []\n');
    expect(out).toContain('5 cases: 4 passed, 1 failed');
  });

  it('fails when the policy changes under the tests (the exception removed)', async () => {
    const policy = join(mkdtempSync(join(tmpdir(), 'scc-policy-')), 'p.yaml');
    writeFileSync(policy, 'rules: [{name: everything-else, actions: [label-pod, isolate-pod]}]');
    const { code, out } = await run(['test-policy', policy, 'examples/policy-tests']);
    expect(code).toBe(1);
    expect(out).toContain('    exception: expected "nightly-report", got null');
  });

  it('fails for a finding without an expectation, an expectation without a finding, and a bad expectation', async () => {
    const dir = exampleCopy((d) => {
      writeFileSync(join(d, 'lonely.json'), JSON.stringify(notificationV1()));
      writeFileSync(join(d, 'ghost.expect.yaml'), 'decision: respond\n');
      writeFileSync(join(d, 'nightly-report-tampered.expect.yaml'), 'decision: respond\nrul: x\n');
    });
    const { code, out } = await run(['test-policy', 'examples/policy.yaml', dir]);
    expect(code).toBe(1);
    expect(out).toContain('    no lonely.expect.yaml beside lonely.json');
    expect(out).toContain('    ghost.expect.yaml has no finding ghost.json beside it');
    expect(out).toContain('    nightly-report-tampered.expect.yaml: unknown field(s) rul');
    expect(out).toContain('7 cases: 4 passed, 3 failed');
  });

  it('fails when the folder has no findings at all, and on usage errors', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'scc-policy-empty-'));
    expect(await run(['test-policy', 'examples/policy.yaml', empty])).toMatchObject({ code: 1, err: expect.stringContaining('no NAME.json findings in') });
    expect((await run(['test-policy', 'examples/policy.yaml'])).code).toBe(2);
    expect((await run(['test-policy', 'examples/policy.yaml', join(empty, 'nope')])).code).toBe(2);
  });
});

describe('runPolicyTest', () => {
  const policy = parsePolicy('dryRun: false\nrules: [{name: all, actions: [delete-pod, label-pod]}]');
  const now = new Date('2026-11-20T14:05:00Z');

  it('compares actions in any order, and checks only the fields given', () => {
    const expect_ = parseExpectation('decision: respond\nactions: [delete-pod, label-pod]\n', 'x.expect.yaml');
    expect(runPolicyTest({ name: 'x', finding: notificationV1(), expect: expect_ }, policy, now)).toMatchObject({ passed: true, differences: [] });
  });

  it('reports each difference', () => {
    const expect_ = parseExpectation('decision: ignore\nrule: null\nexception: e\ndryRun: true\n', 'x.expect.yaml');
    const result = runPolicyTest({ name: 'x', finding: notificationV1(), expect: expect_ }, policy, now);
    expect(result.passed).toBe(false);
    expect(result.differences).toEqual([
      'decision: expected "ignore", got "respond"',
      'rule: expected null, got "all"',
      'exception: expected "e", got null',
      'dryRun: expected true, got false',
    ]);
    expect(renderPolicyTestTable([result])).toContain('1 case: 0 passed, 1 failed');
  });

  it('a finding that does not decode is a failure, not a crash', () => {
    const result = runPolicyTest({ name: 'x', finding: { a: 1 }, expect: parseExpectation('decision: ignore', 'x') }, policy, now);
    expect(result).toMatchObject({ passed: false, differences: [expect.stringMatching(/^the finding does not decode: /)] });
  });

  it('refuses an expectation with a bad time or decision', () => {
    expect(() => parseExpectation('decision: maybe', 'x.expect.yaml')).toThrow(/^x\.expect\.yaml: decision: /);
    expect(() => parseExpectation('decision: respond\nnow: tomorrow', 'x.expect.yaml')).toThrow(/now: an RFC 3339 time/);
  });
});
