import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { compileGlob, globProblem, matchGlob } from '../src/core/policy/glob.ts';
import { isProtectedNamespace, parsePolicy, PolicyError, validatePolicy } from '../src/core/policy/policy.ts';

function problems(yaml: string): string[] {
  try {
    parsePolicy(yaml, 'test.yaml');
  } catch (e) {
    if (e instanceof PolicyError) return e.problems;
    throw e;
  }
  throw new Error('expected the policy to be rejected');
}

describe('policy validation', () => {
  it('an empty policy means dry-run, no rules, built-in defaults', () => {
    const p = parsePolicy('');
    expect(p.dryRun).toBe(true);
    expect(p.rules).toEqual([]);
    expect(p.guards.replicaFloor).toBe(1);
    expect(p.actionSettings.deleteGracePeriodSeconds).toBe(30);
    expect(p.budget.perCluster).toEqual({ podRemovals: 3, cordons: 1 });
  });

  it('the bundled default and the example policy are valid', () => {
    for (const file of ['policy/default.yaml', 'examples/policy.yaml']) {
      expect(() => parsePolicy(readFileSync(file, 'utf8'), file)).not.toThrow();
    }
    expect(parsePolicy(readFileSync('policy/default.yaml', 'utf8')).dryRun).toBe(true);
  });

  const bad: Array<[string, string, RegExp]> = [
    ['an unknown action', 'rules: [{name: a, actions: [kill-pod]}]', /^rules\[0\]\.actions\[0\]: .*expected one of/],
    ['evict and delete together', 'rules: [{name: a, actions: [evict-pod, delete-pod]}]', /^rules\[0\]\.actions: choose evict-pod or delete-pod, not both/],
    ['an action twice', 'rules: [{name: a, actions: [label-pod, label-pod]}]', /^rules\[0\]\.actions\[1\]: label-pod is listed twice/],
    ['a bad glob', 'rules: [{name: a, actions: [], match: {clusters: ["prod-[x"]}}]', /^rules\[0\]\.match\.clusters\[0\]: bad pattern/],
    ['an empty glob', 'rules: [{name: a, actions: [], match: {namespaces: [""]}}]', /^rules\[0\]\.match\.namespaces\[0\]: empty pattern/],
    ['a glob with whitespace', 'protectedNamespaces: ["a b"]', /^protectedNamespaces\[0\]: pattern contains whitespace/],
    ['a typo in a match key', 'rules: [{name: a, actions: [], match: {namespace: [x]}}]', /^rules\[0\]\.match: unknown field\(s\) "namespace"/],
    ['a typo at the top', 'dryrun: false', /^\(top level\): unknown field\(s\) "dryrun"/],
    ['a string for a boolean', 'dryRun: "no"', /^dryRun: .*expected boolean/],
    ['an unknown severity', 'rules: [{name: a, actions: [], match: {severities: [SEVERE]}}]', /^rules\[0\]\.match\.severities\[0\]/],
    ['a duplicate rule name', 'rules: [{name: a, actions: []}, {name: a, actions: []}]', /^rules\[1\]\.name: rule name a is used twice/],
    ['a bad label key', 'rules: [{name: a, actions: [], match: {podLabels: {"bad key": x}}}]', /podLabels/],
    ['a zero grace period', 'actionSettings: {deleteGracePeriodSeconds: 0}', /^actionSettings\.deleteGracePeriodSeconds/],
    ['a bad cluster key', 'clusters: {"my-cluster": {kubeconfig: /k}}', /^clusters\.my-cluster: cluster keys are/],
    ['YAML that does not parse', 'rules: [', /^YAML: /],
    ['duplicate YAML keys', 'dryRun: true\ndryRun: false', /^YAML: .*[Mm]ap keys must be unique/],
    // Syntax the previous (picomatch) matcher read, refused rather than silently read as literals.
    ['an extglob +(...)', 'protectedNamespaces: ["+(*)+(*)+(*)x"]', /^protectedNamespaces\[0\]: extglob \+\(\.\.\.\) is not supported/],
    ['an extglob @(...)', 'rules: [{name: a, actions: [], match: {namespaces: ["@(a|b)"]}}]', /^rules\[0\]\.match\.namespaces\[0\]: extglob @/],
    ['an extglob !(...)', 'protectedNamespaces: ["!(prod)"]', /extglob !\(\.\.\.\) is not supported/],
    ['an extglob *(...)', 'protectedNamespaces: ["a*(b)"]', /extglob \*\(\.\.\.\) is not supported/],
    ['an extglob ?(...)', 'rules: [{name: a, actions: [], match: {podLabels: {app: "?(x)"}}}]', /^rules\[0\]\.match\.podLabels\.app: extglob \?/],
    ['a bare parenthesis', 'protectedNamespaces: ["a(b"]', /parentheses are extglob syntax/],
    ['brace expansion', 'rules: [{name: a, actions: [], match: {clusters: ["shop-{prod,dev}"]}}]', /^rules\[0\]\.match\.clusters\[0\]: brace expansion \{a,b\} is not supported/],
    ['a leading negation', 'protectedNamespaces: ["!prod"]', /a leading "!" \(negation\) is not supported/],
    ['alternation', 'protectedNamespaces: ["a|b"]', /"\|" \(alternation\) is not supported/],
    ['a backwards range', 'protectedNamespaces: ["[z-a]"]', /bad pattern: range z-a is backwards/],
    ['a trailing backslash', 'protectedNamespaces: ["a\\\\"]', /bad pattern: ends with a lone/],
    ['an over-long glob', `protectedNamespaces: ["${'a'.repeat(1025)}"]`, /pattern is longer than 1024 characters/],
    // Dropped unchecked by the schema, it would leave a rule that matches every pod.
    ['a __proto__ label key', 'rules: [{name: a, actions: [], match: {podLabels: {__proto__: x}}}]', /^YAML: "__proto__" is not a valid key/],
  ];
  it.each(bad)('rejects %s, naming the field', (_name, yaml, message) => {
    expect(problems(yaml)).toEqual(expect.arrayContaining([expect.stringMatching(message)]));
  });

  it('PolicyError names the source', () => {
    expect(() => parsePolicy('dryRun: 3', 'my-policy.yaml')).toThrow(/invalid policy my-policy.yaml: dryRun/);
  });

  it('validatePolicy takes an object too', () => {
    expect(validatePolicy({ rules: [{ name: 'r', actions: ['label-pod'] }] }).rules[0]?.match).toEqual({});
  });
});

describe('protected namespaces', () => {
  const policy = parsePolicy('protectedNamespaces: [monitoring, "team-*"]');
  it.each(['kube-system', 'kube-public', 'kube-node-lease', 'gke-managed-system', 'gmp-system', 'istio-system', 'scc-responder', 'monitoring', 'team-a'])(
    '%s is protected',
    (ns) => expect(isProtectedNamespace(policy, ns)).toBe(true),
  );
  it.each(['payments', 'default', 'kube-systemx', 'my-gke-app'])('%s is not', (ns) => expect(isProtectedNamespace(policy, ns)).toBe(false));
  it('the built-in list applies even when the policy lists none', () => {
    expect(isProtectedNamespace(parsePolicy(''), 'kube-system')).toBe(true);
  });
});

describe('the glob dialect', () => {
  const matches = (pattern: string, value: string) => matchGlob(compileGlob(pattern), value);
  const cases: Array<[string, string, boolean]> = [
    ['team-*', 'team-a', true],
    ['team-*', 'team-', true],
    ['team-*', 'team-a/b', false], // * stays within a path segment
    ['*', '.hidden', true], // no special case for dots
    ['shop-prod-?', 'shop-prod-1', true],
    ['shop-prod-?', 'shop-prod-12', false],
    ['?', '/', false],
    ['prod-[0-9]', 'prod-7', true],
    ['prod-[0-9]', 'prod-x', false],
    ['prod-[abc]', 'prod-b', true],
    ['prod-[!abc]', 'prod-b', false],
    ['prod-[!abc]', 'prod-d', true],
    ['prod-[^abc]', 'prod-d', true],
    ['[]]', ']', true],
    ['a[-]b', 'a-b', true],
    ['\\*', '*', true],
    ['\\*', 'x', false],
    ['a\\[b', 'a[b', true],
    ['us-docker.pkg.dev/example-shop-prod/**', 'us-docker.pkg.dev/example-shop-prod/apps/checkout:2.14.1', true],
    ['us-docker.pkg.dev/example-shop-prod/**', 'us-docker.pkg.dev/example-shop-prod', true],
    ['us-docker.pkg.dev/example-shop-prod/*', 'us-docker.pkg.dev/example-shop-prod/apps/checkout:2.14.1', false],
    ['gcr.io/**', 'us-docker.pkg.dev/x/y', false],
    ['a/**/b', 'a/b', true],
    ['a/**/b', 'a/x/y/b', true],
    ['**/checkout:*', 'us-docker.pkg.dev/p/apps/checkout:2.14.1', true],
    ['**/checkout:*', 'checkout:2.14.1', true],
    ['**', 'any/thing/at/all', true],
    ['a**b', 'a/b', false], // ** inside a segment is *
    ['*@sha256:*', 'img@sha256:abc', true],
    ['', '', true],
  ];
  it.each(cases)('%j against %j is %s', (pattern, value, expected) => {
    expect(matches(pattern, value)).toBe(expected);
  });

  it('names what is wrong with a pattern, or nothing', () => {
    expect(globProblem('prod-*')).toBeUndefined();
    expect(globProblem('prod-[x')).toMatch(/^bad pattern: "\[" is never closed/);
    expect(globProblem('[a/]')).toMatch(/never matches "\/"/);
  });
});

describe('what a policy file may cost', () => {
  it('refuses a policy text over 256 KiB before parsing it', () => {
    const text = `protectedNamespaces: [${Array.from({ length: 30_000 }, (_, i) => `ns-${i}`).join(', ')}]`;
    expect(text.length).toBeGreaterThan(256 * 1024);
    expect(problems(text)).toEqual([expect.stringMatching(/^YAML: the policy is \d+ bytes, more than the 262144 allowed/)]);
  });

  it('accepts a few shared match blocks (aliases)', () => {
    const yaml = `
rules:
  - {name: a, match: &prod {clusters: ["shop-prod-*"], namespaces: [payments]}, actions: [label-pod]}
  - {name: b, match: *prod, actions: [isolate-pod]}
  - {name: c, match: *prod, actions: [cordon-node]}
`;
    expect(parsePolicy(yaml).rules.map((r) => r.match.clusters)).toEqual([['shop-prod-*'], ['shop-prod-*'], ['shop-prod-*']]);
  });
});

describe('process conditions and exceptions: validation', () => {
  const exception = (fields: string) => `exceptions: [{name: e, reason: r, expires: 2027-01-01, match: {namespaces: [x]}, ${fields}}]`.replace(', }', '}');
  const bad: Array<[string, string, RegExp]> = [
    ['an unknown process field', 'rules: [{name: a, actions: [], match: {child: {binary: [x]}}}]', /^rules\[0\]\.match\.child: unknown field\(s\) "binary"/],
    ['an empty process block', 'rules: [{name: a, actions: [], match: {parent: {}}}]', /^rules\[0\]\.match\.parent: give at least one condition/],
    ['a bad sha256', 'rules: [{name: a, actions: [], match: {child: {sha256: [abc]}}}]', /^rules\[0\]\.match\.child\.sha256\[0\]: a SHA-256 is 64 hex digits/],
    ['a bad binary path glob', 'rules: [{name: a, actions: [], match: {parent: {binaryPaths: ["/usr/[x"]}}}]', /^rules\[0\]\.match\.parent\.binaryPaths\[0\]: bad pattern/],
    ['a space in a path glob', 'rules: [{name: a, actions: [], match: {child: {binaryPaths: ["/bin/s h"]}}}]', /pattern contains whitespace/],
    ['a tab in an args glob', 'rules: [{name: a, actions: [], match: {child: {args: ["sh\\t-c"]}}}]', /^rules\[0\]\.match\.child\.args\[0\]: pattern contains control characters or whitespace other than spaces/],
    ['an empty args list', 'rules: [{name: a, actions: [], match: {child: {args: []}}}]', /^rules\[0\]\.match\.child\.args: must list at least one/],
    ['an empty argsContain string', 'rules: [{name: a, actions: [], match: {child: {argsContain: [""]}}}]', /^rules\[0\]\.match\.child\.argsContain\[0\]/],
    ['an exception without a reason', 'exceptions: [{name: e, expires: 2027-01-01, match: {namespaces: [x]}}]', /^exceptions\[0\]\.reason: /],
    ['an exception with a blank reason', exception('reason: "  "').replace('reason: r, ', ''), /^exceptions\[0\]\.reason: must not be empty/],
    ['an exception without an expiry', 'exceptions: [{name: e, reason: r, match: {namespaces: [x]}}]', /^exceptions\[0\]\.expires: /],
    ['an expiry that is no date', 'exceptions: [{name: e, reason: r, expires: next week, match: {namespaces: [x]}}]', /^exceptions\[0\]\.expires: a date \(2026-12-31/],
    ['an expiry on a day that does not exist', 'exceptions: [{name: e, reason: r, expires: 2027-02-30, match: {namespaces: [x]}}]', /^exceptions\[0\]\.expires: a date/],
    ['an expiry time without a zone', 'exceptions: [{name: e, reason: r, expires: "2027-01-01T10:00:00", match: {namespaces: [x]}}]', /^exceptions\[0\]\.expires: a date/],
    ['an exception with an empty match (it would except everything)', 'exceptions: [{name: e, reason: r, expires: 2027-01-01, match: {}}]', /^exceptions\[0\]\.match: an exception must name at least one condition/],
    ['an exception without a match', 'exceptions: [{name: e, reason: r, expires: 2027-01-01}]', /^exceptions\[0\]\.match: /],
    ['an exception field typo', exception('ownr: me'), /^exceptions\[0\]: unknown field\(s\) "ownr"/],
    ['an exception name twice', 'exceptions: [{name: e, reason: r, expires: 2027-01-01, match: {namespaces: [x]}}, {name: e, reason: r, expires: 2027-01-01, match: {namespaces: [y]}}]', /^exceptions\[1\]\.name: exception name e is used twice/],
    ['a sink that cannot be chosen', 'exceptionSettings: {sinks: [log]}', /^exceptionSettings\.sinks\[0\]/],
    ['an unknown exception sink', exception('sinks: [email]'), /^exceptions\[0\]\.sinks\[0\]/],
    ['a reason over two lines', 'exceptions: [{name: e, reason: "a\\nb", expires: 2027-01-01, match: {namespaces: [x]}}]', /^exceptions\[0\]\.reason: one line/],
  ];
  it.each(bad)('rejects %s, naming the field', (_name, yaml, message) => {
    expect(problems(yaml)).toEqual(expect.arrayContaining([expect.stringMatching(message)]));
  });

  it('accepts every process condition and a full exception', () => {
    const p = parsePolicy(`
exceptions:
  - name: nightly
    reason: the nightly job runs sh -c
    expires: "2027-01-01T06:00:00+02:00"
    owner: data-team
    sinks: [pubsub]
    match:
      namespaces: [reporting]
      parent: {names: [python3], binaryPaths: ["/usr/bin/*"], sha256: ["${'A'.repeat(64)}"], scriptPaths: ["/app/**"]}
      child: {args: ["/bin/sh -c /opt/run.sh --date=[0-9]* | tee (log) {x}"], argsContain: ["--date="]}
exceptionSettings: {sinks: [pubsub, chat]}
`);
    expect(p.exceptions[0]).toMatchObject({ name: 'nightly', owner: 'data-team', sinks: ['pubsub'] });
    expect(p.exceptionSettings.sinks).toEqual(['pubsub', 'chat']);
    expect(parsePolicy('').exceptionSettings.sinks).toEqual(['pubsub', 'slack', 'chat']);
    expect(parsePolicy('').exceptions).toEqual([]);
  });
});

describe('the glob dialect for command lines (text mode)', () => {
  const matches = (pattern: string, value: string) => matchGlob(compileGlob(pattern, 'text'), value);
  const cases: Array<[string, string, boolean]> = [
    ['/bin/sh -c *', '/bin/sh -c /opt/x/run.sh --all', true], // * crosses "/"
    ['/bin/sh -c /opt/*/run.sh', '/bin/sh -c /opt/a/b/run.sh', true],
    ['sh -c ?', 'sh -c /', true],
    ['sh -c [/x]', 'sh -c /', true],
    ['sh -c [!a]', 'sh -c /', true],
    ['a | b', 'a | b', true], // shell characters are plain
    ['(cd /x && run) {a,b} !x @y +z', '(cd /x && run) {a,b} !x @y +z', true],
    ['!x', '!x', true],
    ['run.sh', 'run.sh; curl x | sh', false], // the whole line must match
    ['run \\*', 'run *', true],
    ['run \\*', 'run x', false],
  ];
  it.each(cases)('%j against %j is %s', (pattern, value, expected) => {
    expect(matches(pattern, value)).toBe(expected);
  });
  it('keeps path mode as it was', () => {
    expect(matchGlob(compileGlob('/bin/*'), '/bin/a/b')).toBe(false);
    expect(globProblem('a | b')).toMatch(/alternation/);
    expect(globProblem('a | b', 'text')).toBeUndefined();
    expect(globProblem('[x', 'text')).toMatch(/never closed/);
  });
  it('stays linear on a hostile command line', () => {
    const started = performance.now();
    expect(matches(`${'*a'.repeat(500)}*b`, 'a'.repeat(16_384))).toBe(false);
    expect(performance.now() - started).toBeLessThan(5_000);
  });
});
