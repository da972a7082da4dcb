// The response policy: which findings get which actions, and every knob the
// actions, evidence, budget and summary read. Parsed once, strictly: a typo in
// a security policy must be an error that names the field, not a silent default.
import picomatch from 'picomatch';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import * as z from 'zod';
import { isLabelKey, isLabelValue } from './k8s-names.ts';

/** In the order the plan runs them: containment that keeps the pod first, removal last. */
export const ACTION_ORDER = [
  'label-pod',
  'isolate-pod',
  'capture-process-list',
  'cordon-node',
  'evict-pod',
  'delete-pod',
] as const;
export type ActionType = (typeof ACTION_ORDER)[number];

/** Always protected, whatever the policy says. */
export const BUILTIN_PROTECTED_NAMESPACES = [
  'kube-system',
  'kube-public',
  'kube-node-lease',
  'gke-*',
  'gmp-*',
  'istio-system',
  'scc-responder',
] as const;

export const SEVERITIES = ['CRITICAL', 'HIGH', 'MEDIUM', 'LOW'] as const;

function globError(glob: string): string | undefined {
  if (glob === '') return 'empty pattern';
  if (/[\s\p{C}]/u.test(glob)) return 'pattern contains whitespace or control characters';
  try {
    picomatch.makeRe(glob, { strictBrackets: true, dot: true });
  } catch (e) {
    return `bad pattern: ${(e as Error).message}`;
  }
  return undefined;
}

const glob = z.string().superRefine((value, ctx) => {
  const problem = globError(value);
  if (problem) ctx.addIssue({ code: 'custom', message: `${problem} (${JSON.stringify(value)})` });
});
const globList = z.array(glob).min(1, 'must list at least one pattern (leave the field out to match all)');

const matchSchema = z.strictObject({
  projects: globList.optional(),
  locations: globList.optional(),
  clusters: globList.optional(),
  namespaces: globList.optional(),
  podLabels: z
    .record(
      z.string().refine(isLabelKey, 'not a valid label key'),
      glob,
    )
    .optional(),
  images: globList.optional(),
  severities: z.array(z.enum(SEVERITIES)).min(1).optional(),
});

const ruleSchema = z
  .strictObject({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'rule names are 1-63 letters, digits, ".", "_" or "-"'),
    match: matchSchema.default({}),
    actions: z.array(z.enum(ACTION_ORDER)),
    dryRun: z.boolean().optional(),
  })
  .superRefine((rule, ctx) => {
    if (rule.actions.includes('evict-pod') && rule.actions.includes('delete-pod')) {
      ctx.addIssue({ code: 'custom', path: ['actions'], message: 'choose evict-pod or delete-pod, not both' });
    }
    const seen = new Set<string>();
    rule.actions.forEach((a, i) => {
      if (seen.has(a)) ctx.addIssue({ code: 'custom', path: ['actions', i], message: `${a} is listed twice` });
      seen.add(a);
    });
  });

const clusterAccessSchema = z.strictObject({
  kubeconfig: z.string().min(1),
  context: z.string().min(1).optional(),
});

const CLUSTER_KEY = /^projects\/[^/]+\/locations\/[^/]+\/clusters\/[^/]+$/;

const labelSettingSchema = z.strictObject({
  key: z.string().refine(isLabelKey, 'not a valid label key'),
  value: z.string().refine(isLabelValue, 'not a valid label value'),
});

export const policySchema = z
  .strictObject({
    version: z.literal(1).default(1),
    dryRun: z.boolean().default(true),
    protectedNamespaces: z.array(glob).default([]),
    rules: z.array(ruleSchema).default([]),
    clusters: z
      .record(z.string().regex(CLUSTER_KEY, 'cluster keys are "projects/P/locations/L/clusters/C"'), clusterAccessSchema)
      .default({}),
    guards: z
      .strictObject({
        replicaFloor: z.int().min(0).max(100).default(1),
        skipDaemonSetPods: z.boolean().default(true),
        skipStaticPods: z.boolean().default(true),
        optOutAnnotation: z.string().refine(isLabelKey, 'not a valid annotation key').default('scc-responder.dev/opt-out'),
        requireNodeMatch: z.boolean().default(true),
        stopOnFailure: z.boolean().default(false),
        deleteRequiresIsolation: z.boolean().default(true),
      })
      .prefault({}),
    actionSettings: z
      .strictObject({
        quarantineLabel: labelSettingSchema.default({ key: 'scc-responder.dev/quarantine', value: 'true' }),
        deleteGracePeriodSeconds: z.int().min(1).max(3600).default(30),
        podLogTailLines: z.int().min(0).max(5000).default(200),
        captureTimeoutSeconds: z.int().min(1).max(120).default(10),
      })
      .prefault({}),
    evidence: z
      .strictObject({
        windowBeforeMinutes: z.int().min(1).max(7 * 24 * 60).default(30),
        windowAfterMinutes: z.int().min(0).max(24 * 60).default(15),
        pageSize: z.int().min(1).max(1000).default(50),
        maxEntriesPerQuery: z.int().min(1).max(10000).default(200),
        excerptLines: z.int().min(0).max(50).default(5),
        quotaBudgetSeconds: z.int().min(0).max(300).default(20),
      })
      .prefault({}),
    budget: z
      .strictObject({
        windowMinutes: z.int().min(1).max(7 * 24 * 60).default(60),
        perCluster: z
          .strictObject({ podRemovals: z.int().min(0).default(3), cordons: z.int().min(0).default(1) })
          .prefault({}),
        perNamespace: z.strictObject({ podRemovals: z.int().min(0).default(2) }).prefault({}),
      })
      .prefault({}),
    summary: z
      .strictObject({
        revealEnvValues: z.array(z.string().min(1)).default([]),
        maxArgLength: z.int().min(16).max(4096).default(256),
        maxArgs: z.int().min(1).max(256).default(32),
      })
      .prefault({}),
    /** How GKE clusters without a `clusters` kubeconfig mapping are reached (Container API + ADC token). */
    gke: z
      .strictObject({
        /** Connect to the control plane's private endpoint (the function runs inside the VPC). */
        usePrivateEndpoint: z.boolean().default(false),
      })
      .prefault({}),
  })
  .superRefine((policy, ctx) => {
    const names = new Set<string>();
    policy.rules.forEach((rule, i) => {
      if (names.has(rule.name)) {
        ctx.addIssue({ code: 'custom', path: ['rules', i, 'name'], message: `rule name ${rule.name} is used twice` });
      }
      names.add(rule.name);
    });
  });

export type Policy = z.output<typeof policySchema>;
export type PolicyRule = Policy['rules'][number];
export type PolicyInput = z.input<typeof policySchema>;

export class PolicyError extends Error {
  override readonly name = 'PolicyError';
  readonly problems: string[];
  constructor(source: string, problems: string[]) {
    super(`invalid policy ${source}: ${problems.join('; ')}`);
    this.problems = problems;
  }
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out || '(top level)';
}

/** Validates an already-parsed policy object. */
export function validatePolicy(value: unknown, source = 'policy'): Policy {
  const parsed = policySchema.safeParse(value ?? {});
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => {
    if (issue.code === 'unrecognized_keys') {
      return `${formatPath(issue.path)}: unknown field(s) ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`;
    }
    if (issue.code === 'invalid_key') {
      return `${formatPath(issue.path)}: ${issue.issues[0]?.message ?? issue.message}`;
    }
    return `${formatPath(issue.path)}: ${issue.message}`;
  });
  throw new PolicyError(source, problems);
}

/** Parses policy YAML text (the file's contents; reading it is the caller's I/O). */
export function parsePolicy(yamlText: string, source = 'policy'): Policy {
  let doc: unknown;
  try {
    doc = parseYaml(yamlText, { prettyErrors: true, uniqueKeys: true, maxAliasCount: 100 });
  } catch (e) {
    const message = e instanceof YAMLParseError ? e.message.split('\n')[0] ?? e.message : String(e);
    throw new PolicyError(source, [`YAML: ${message}`]);
  }
  return validatePolicy(doc, source);
}

export function isProtectedNamespace(policy: Policy, namespace: string): boolean {
  const patterns = [...BUILTIN_PROTECTED_NAMESPACES, ...policy.protectedNamespaces];
  return picomatch.isMatch(namespace, patterns, { dot: true });
}
