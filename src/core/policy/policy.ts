// The response policy: which findings get which actions, and every knob the
// actions, evidence, budget and summary read. Parsed once, strictly: a typo in
// a security policy must be an error that names the field, not a silent default.
import { parse as parseYaml, YAMLParseError } from 'yaml';
import * as z from 'zod';
import { globProblem, matchesAnyGlob, type GlobMode } from './glob.ts';
import { isLabelKey, isLabelValue } from '../finding/k8s-names.ts';

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

/** The summary's overall outcome (core/plan/outcome.ts), which routes can match on. */
export const OVERALL_OUTCOMES = ['contained', 'partial', 'failed', 'dry-run', 'report-only', 'skipped', 'excepted'] as const;

/** Slack member IDs (U…, W… on Enterprise Grid) and user-group IDs (S…), as Slack's API gives them. */
export const SLACK_USER_ID = /^[UW][A-Z0-9]{2,20}$/;
export const SLACK_GROUP_ID = /^S[A-Z0-9]{2,20}$/;

/**
 * An environment variable that holds a webhook URL (a Secret Manager secret Cloud Run
 * mounts). The suffix keeps a route from naming any other variable: the URL read
 * from it is where summaries go.
 */
export const WEBHOOK_ENV_NAME = /^[A-Z][A-Z0-9_]{0,50}_WEBHOOK_URL$/;

/** A Pub/Sub topic named in full (a route's topic may live in another project). */
export const TOPIC_NAME = /^projects\/[a-z][a-z0-9-]{4,28}[a-z0-9]\/topics\/[A-Za-z][A-Za-z0-9._~+%-]{2,254}$/;

function globError(glob: string, mode: GlobMode): string | undefined {
  if (glob === '') return 'empty pattern';
  // A command line has spaces between its arguments; nothing else that is blank or a control character.
  const blank = mode === 'text' ? /[\t\n\v\f\r\u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\p{C}]/u : /[\s\p{C}]/u;
  if (blank.test(glob)) return mode === 'text' ? 'pattern contains control characters or whitespace other than spaces' : 'pattern contains whitespace or control characters';
  return globProblem(glob, mode);
}

const globOf = (mode: GlobMode) =>
  z.string().superRefine((value, ctx) => {
    const problem = globError(value, mode);
    if (problem) ctx.addIssue({ code: 'custom', message: `${problem} (${JSON.stringify(value)})` });
  });
const glob = globOf('path');
const listOf = <T extends z.ZodType>(item: T) => z.array(item).min(1, 'must list at least one pattern (leave the field out to match all)');
const globList = listOf(glob);

// A refinement, not a schema `pattern`: editors read JSON Schema patterns without the `u` flag.
const CONTROL = /\p{C}/u;

/** Longest joined command line an args condition reads; a longer one is treated as truncated. */
export const MAX_COMMAND_LINE = 16_384;

/**
 * Conditions on one process of the finding (the child shell, or its parent).
 * Each list matches when any entry does; a condition on a process the finding
 * does not name, or on a field it leaves empty, does not hold.
 */
const processMatchSchema = z
  .strictObject({
    names: globList.optional().describe('process name globs (e.g. sh, java)'),
    binaryPaths: globList.optional().describe('binary path globs; * stays within a path segment, ** crosses "/"'),
    sha256: z
      .array(z.string().regex(/^[A-Fa-f0-9]{64}$/, 'a SHA-256 is 64 hex digits'))
      .min(1, 'must list at least one hash (leave the field out to match all)')
      .optional()
      .describe("the binary's SHA-256 as SCC reports it (case-insensitive)"),
    args: listOf(globOf('text'))
      .optional()
      .describe('globs over the whole command line, args joined by one space; * and ? also match "/". Never matches truncated args'),
    argsContain: z
      .array(z.string().min(1).max(1024).refine((v) => !CONTROL.test(v), 'no control characters'))
      .min(1, 'must list at least one string (leave the field out to match all)')
      .optional()
      .describe('substrings of the joined command line (case-sensitive). Never matches truncated args'),
    scriptPaths: globList.optional().describe('globs for the script the process runs, as SCC reports it'),
  })
  .refine((m) => Object.keys(m).length > 0, 'give at least one condition (or leave the process out)')
  .meta({ id: 'ProcessMatch' });

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
  parent: processMatchSchema.optional().describe('conditions on the process that spawned the shell'),
  child: processMatchSchema.optional().describe('conditions on the shell process itself'),
}).meta({ id: 'Match' });

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** Sinks that may be left out for an excepted finding; the log line is the record and always goes. */
export const QUIETABLE_SINKS = ['pubsub', 'slack', 'chat'] as const;
export type QuietableSink = (typeof QUIETABLE_SINKS)[number];

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;

/**
 * When an exception stops applying. A date alone is the start of that day in
 * UTC: `expires: 2026-12-31` no longer applies on 31 December. Undefined for a
 * string that is not a real date or RFC 3339 time.
 */
export function exceptionExpiry(expires: string): Date | undefined {
  const text = DATE_ONLY.test(expires) ? `${expires}T00:00:00Z` : DATE_TIME.test(expires) ? expires : undefined;
  if (text === undefined) return undefined;
  const t = Date.parse(text);
  if (Number.isNaN(t)) return undefined;
  // Date.parse rolls 2026-02-30 over to March: the day must read back unchanged.
  if (DATE_ONLY.test(expires) && new Date(t).toISOString().slice(0, 10) !== expires) return undefined;
  return new Date(t);
}

const singleLine = (max: number) =>
  z
    .string()
    .trim()
    .min(1, 'must not be empty')
    .max(max, `at most ${max} characters`)
    .refine((v) => !CONTROL.test(v), 'one line, no control characters');

const exceptionSchema = z.strictObject({
  name: z.string().regex(NAME, 'exception names are 1-63 letters, digits, ".", "_" or "-"'),
  reason: singleLine(500).describe('why these findings are expected: shown in the summary and the plan'),
  expires: z
    .string()
    .refine((v) => exceptionExpiry(v) !== undefined, 'a date (2026-12-31, the start of that day in UTC) or an RFC 3339 time (2026-12-31T18:00:00Z)')
    .meta({ pattern: '^\\d{4}-\\d{2}-\\d{2}(T\\d{2}:\\d{2}:\\d{2}(\\.\\d{1,9})?(Z|[+-]\\d{2}:\\d{2}))?$' })
    .describe('when the exception stops applying: a date (start of that day, UTC) or an RFC 3339 time'),
  owner: singleLine(200).optional().describe('who answers for it (a team, an address)'),
  match: matchSchema.describe('the same conditions as a rule; every one given must hold'),
  sinks: z
    .array(z.enum(QUIETABLE_SINKS))
    .optional()
    .describe('overrides exceptionSettings.sinks for this exception'),
}).superRefine((exception, ctx) => {
  if (Object.keys(exception.match).length === 0) {
    ctx.addIssue({ code: 'custom', path: ['match'], message: 'an exception must name at least one condition: an empty match would except every finding' });
  }
});

const routeWebhookEnv = z
  .string()
  .regex(WEBHOOK_ENV_NAME, 'an environment variable name ending in _WEBHOOK_URL')
  .refine((v) => v !== 'SLACK_WEBHOOK_URL' && v !== 'CHAT_WEBHOOK_URL', 'the ops webhooks get every summary already: name a variable of its own');

const approversSchema = z
  .strictObject({
    users: z.array(z.string().regex(SLACK_USER_ID, 'a Slack member ID such as U0123ABCD')).default([]),
    groups: z.array(z.string().regex(SLACK_GROUP_ID, 'a Slack user-group ID such as S0123ABCD')).default([]),
  })
  .meta({ id: 'Approvers' });

const ruleSchema = z
  .strictObject({
    name: z.string().regex(NAME, 'rule names are 1-63 letters, digits, ".", "_" or "-"'),
    match: matchSchema.default({}),
    actions: z.array(z.enum(ACTION_ORDER)),
    dryRun: z.boolean().optional(),
    approval: z
      .enum(['required'])
      .optional()
      .describe('required: the rule runs in dry-run and the Slack summary offers Contain / Dismiss to the approvers; Contain runs the planned actions for real'),
    approvers: approversSchema.optional().describe("who may press Contain or Dismiss for this rule's findings (default: approval.approvers)"),
  })
  .superRefine((rule, ctx) => {
    if (rule.approval === 'required' && rule.dryRun === false) {
      ctx.addIssue({ code: 'custom', path: ['dryRun'], message: 'approval: required runs the rule in dry-run until a person approves: leave out dryRun: false' });
    }
    if (rule.approvers !== undefined && rule.approval !== 'required') {
      ctx.addIssue({ code: 'custom', path: ['approvers'], message: 'approvers only apply to a rule with approval: required' });
    }
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
  /**
   * Whether the cluster's dataplane enforces NetworkPolicy. The API server stores a
   * NetworkPolicy either way, and a kubeconfig does not say: unknown (the default)
   * means isolate-pod never reports `done` there, only `partial` with the reason.
   */
  networkPolicyEnforcement: z.enum(['enforced', 'not-enforced', 'unknown']).default('unknown'),
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
    exceptions: z
      .array(exceptionSchema)
      .default([])
      .describe('expected findings, evaluated before the rules: the first live one that matches reports the finding as excepted, with no actions'),
    exceptionSettings: z
      .strictObject({
        /** The summary of an excepted finding goes to these sinks (when configured) and to the log line. */
        sinks: z.array(z.enum(QUIETABLE_SINKS)).default([...QUIETABLE_SINKS]).describe('sinks an excepted finding is reported to, besides the log line'),
      })
      .prefault({}),
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
        /**
         * cordon-node when the finding's pod is gone: the node is then named by the finding
         * alone, which nothing on the cluster confirms. Off: cordon only a node a verified pod runs on.
         */
        cordonWhenPodGone: z.boolean().default(false),
        /**
         * Deliveries of one finding that may end in a retry because an action failed on a fault that
         * can heal (5xx, 429, timeouts). After that the action is reported failed with its last error and
         * the message is acked, so a failing admission webhook cannot make every redelivery repeat.
         */
        maxContainmentRounds: z.int().min(1).max(20).default(3),
      })
      .prefault({}),
    actionSettings: z
      .strictObject({
        quarantineLabel: labelSettingSchema.default({ key: 'scc-responder.dev/quarantine', value: 'true' }),
        deleteGracePeriodSeconds: z.int().min(1).max(3600).default(30),
        podLogTailLines: z.int().min(0).max(5000).default(200),
        captureTimeoutSeconds: z.int().min(1).max(120).default(10),
        /** How isolate-pod deals with NetworkPolicies that allow traffic and also select the pod (they are additive). */
        isolation: z
          .strictObject({
            /**
             * Remove from the pod the labels those policies select on (kept in an annotation for release).
             * Side effects: the pod also leaves the Services and the ReplicaSet that select on those labels,
             * and the ReplicaSet starts a clean replacement.
             */
            detachFromAllowPolicies: z.boolean().default(true),
            /**
             * Where detaching cannot deselect the pod (an empty `podSelector: {}`, NotIn/DoesNotExist
             * selectors, kept labels), add `incident NotIn [id]` to that policy's podSelector. Off by
             * default: it edits objects the responder does not own, which a GitOps reconciler reverts.
             */
            excludeFromAllowPolicies: z.boolean().default(false),
            /** Label keys detaching never removes. */
            keepLabels: z.array(z.string().refine(isLabelKey, 'not a valid label key')).default([]),
          })
          .prefault({}),
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
    /**
     * Credential redaction (src/core/summary/redact.ts) on top of the built-in rules. Plain names, no
     * regexes: a policy-supplied regex would run on attacker input (ReDoS).
     */
    redaction: z
      .strictObject({
        /** Extra name substrings (case-insensitive) that make an env, flag or key name secret. */
        secretNames: z
          .array(z.string().regex(/^[A-Za-z0-9_.-]{2,64}$/, 'a name substring: 2-64 letters, digits, "_", "." or "-"'))
          .max(64)
          .default([]),
        /** Extra flags whose value (`--flag=value` or the next argument) is secret. */
        secretFlags: z
          .array(z.string().regex(/^--?[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'a flag such as --passphrase or -k'))
          .max(64)
          .default([]),
        /** The access-controlled evidence bundle keeps process and container args unredacted. */
        keepRawArgsInBundle: z.boolean().default(false),
      })
      .prefault({}),
    /** How GKE clusters without a `clusters` kubeconfig mapping are reached (Container API + ADC token). */
    gke: z
      .strictObject({
        /** Connect to the control plane's private endpoint (the function runs inside the VPC). */
        usePrivateEndpoint: z.boolean().default(false),
      })
      .prefault({}),
    /** Writing the response back to the SCC finding (security marks, optionally its state). */
    scc: z
      .strictObject({
        marks: z
          .boolean()
          .default(true)
          .describe('write security marks (outcome, incident id, time, summary id) on the finding, when SCC write-back is configured (SCC_WRITEBACK)'),
        setInactive: z
          .enum(['never', 'when-pod-gone'])
          .default('never')
          .describe('when-pod-gone: set the finding INACTIVE once its pod was deleted or evicted and the re-read shows it gone; never in dry-run or on a partial outcome'),
        timeoutSeconds: z.int().min(1).max(30).default(5).describe('upper bound for the write-back calls'),
      })
      .prefault({}),
    /** Who owns the workload: shown in the summary, mentioned in chat, matched by routes. */
    owners: z
      .strictObject({
        essentialContacts: z.boolean().default(true).describe("the project's SECURITY contacts (Essential Contacts, inherited ones included)"),
        clusterLabelKeys: z
          .array(z.string().regex(/^[a-z][a-z0-9_-]{0,62}$/, 'a GCP resource label key'))
          .default(['owner', 'team', 'contact'])
          .describe("the cluster's resource labels whose values name an owner"),
        namespaceKeys: z
          .array(z.string().refine(isLabelKey, 'not a valid label key'))
          .default(['owner', 'team', 'contact', 'app.kubernetes.io/part-of'])
          .describe("the namespace's labels and annotations whose values name an owner"),
        workloadLabelKeys: z
          .array(z.string().refine(isLabelKey, 'not a valid label key'))
          .default(['owner', 'team', 'contact', 'app.kubernetes.io/part-of'])
          .describe("the pod's (and its controller's) labels whose values name an owner"),
        timeoutSeconds: z.int().min(1).max(30).default(3).describe('upper bound for each owner source'),
      })
      .prefault({}),
    /** Extra destinations for some findings' summaries, beside the ops sinks (which always get every summary). */
    routes: z
      .array(
        z
          .strictObject({
            // No ".": the name is part of a ledger field path (deliveries.route:NAME:slack).
            name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/, 'route names are 1-63 letters, digits, "_" or "-"'),
            match: z
              .strictObject({
                projects: globList.optional(),
                clusters: globList.optional(),
                namespaces: globList.optional(),
                severities: z.array(z.enum(SEVERITIES)).min(1).optional(),
                outcomes: z.array(z.enum(OVERALL_OUTCOMES)).min(1).optional(),
                owners: listOf(globOf('text')).optional().describe("globs over the owners found (owner, team or contact values)"),
              })
              .default({})
              .describe('every condition given must hold; an empty match routes every finding'),
            slackWebhookEnv: routeWebhookEnv.optional(),
            chatWebhookEnv: routeWebhookEnv.optional(),
            pubsubTopic: z.string().regex(TOPIC_NAME, 'projects/PROJECT/topics/TOPIC').optional(),
          })
          .refine((r) => r.slackWebhookEnv !== undefined || r.chatWebhookEnv !== undefined || r.pubsubTopic !== undefined, 'a route needs slackWebhookEnv, chatWebhookEnv or pubsubTopic'),
      )
      .default([]),
    /** Owner (team) values → who to mention, so a mention notifies real people. */
    mentions: z
      .strictObject({
        slack: z
          .record(
            z.string().min(1).max(200).refine((v) => !CONTROL.test(v), 'no control characters'),
            z.string().refine((v) => SLACK_USER_ID.test(v) || SLACK_GROUP_ID.test(v), 'a Slack member ID (U…) or user-group ID (S…)'),
          )
          .default({}),
      })
      .prefault({}),
    /** approval: required rules (Slack Contain / Dismiss). */
    approval: z
      .strictObject({
        approvers: approversSchema.prefault({}),
        expiresMinutes: z.int().min(1).max(7 * 24 * 60).default(60).describe('how long after the dry-run summary a Contain is still accepted'),
      })
      .prefault({}),
  })
  .superRefine((policy, ctx) => {
    if (policy.scc.setInactive !== 'never' && !policy.scc.marks) {
      // The state changes only after the marks are written: an INACTIVE finding with no mark leaves no trace of why.
      ctx.addIssue({ code: 'custom', path: ['scc', 'setInactive'], message: 'setInactive needs scc.marks: true (the state is set only after the marks say why)' });
    }
    const routeNames = new Set<string>();
    policy.routes.forEach((route, i) => {
      if (routeNames.has(route.name)) ctx.addIssue({ code: 'custom', path: ['routes', i, 'name'], message: `route name ${route.name} is used twice` });
      routeNames.add(route.name);
    });
    policy.rules.forEach((rule, i) => {
      if (rule.approval !== 'required') return;
      const who = rule.approvers ?? policy.approval.approvers;
      if (who.users.length === 0 && who.groups.length === 0) {
        ctx.addIssue({ code: 'custom', path: ['rules', i, 'approval'], message: 'nobody may approve: list Slack users or groups in approval.approvers or the rule\'s approvers' });
      }
    });
    const names = new Set<string>();
    policy.rules.forEach((rule, i) => {
      if (names.has(rule.name)) {
        ctx.addIssue({ code: 'custom', path: ['rules', i, 'name'], message: `rule name ${rule.name} is used twice` });
      }
      names.add(rule.name);
    });
    const exceptionNames = new Set<string>();
    policy.exceptions.forEach((exception, i) => {
      if (exceptionNames.has(exception.name)) {
        ctx.addIssue({ code: 'custom', path: ['exceptions', i, 'name'], message: `exception name ${exception.name} is used twice` });
      }
      exceptionNames.add(exception.name);
    });
  });

/**
 * The policy file's JSON Schema, for editors (yaml-language-server) to complete
 * and check a policy as it is typed. Generated from the zod schema, so it cannot
 * drift: `npm run policy-schema` writes it to policy/policy.schema.json and a test
 * compares. It describes the input (defaults optional); the checks a JSON Schema
 * cannot express (glob syntax, expiry dates, duplicate names) stay validate-policy's.
 */
export function policyJsonSchemaText(): string {
  const schema = z.toJSONSchema(policySchema, { io: 'input', target: 'draft-7', unrepresentable: 'any' });
  return `${JSON.stringify({ ...schema, title: 'scc-responder policy', description: 'Checked strictly by `scc-responder validate-policy`; see docs/policy.md.' }, null, 2)}\n`;
}

export type Policy = z.output<typeof policySchema>;
export type PolicyRule = Policy['rules'][number];
export type PolicyException = Policy['exceptions'][number];
export type PolicyMatch = PolicyRule['match'];
export type ProcessMatch = NonNullable<PolicyMatch['child']>;
export type PolicyInput = z.input<typeof policySchema>;
export type PolicyRoute = Policy['routes'][number];
export type Approvers = Policy['approval']['approvers'];

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

/**
 * What a policy file may cost to read. A policy is a few kilobytes; these bound
 * the work a hostile or broken file can cause (YAML aliases let a small text
 * expand into a large tree, and every value in it is validated):
 * - the text, in bytes;
 * - yaml's alias budget (alias uses × aliases inside the anchored node), enough
 *   to share a match block between a few rules;
 * - the values in the parsed tree, aliases counted once per use (as validation
 *   sees them), and its depth (a valid policy nests about six levels).
 * The same walk refuses `__proto__` keys, which the schema would drop unchecked.
 */
export const POLICY_LIMITS = { maxBytes: 256 * 1024, maxAliasCount: 16, maxValues: 20_000, maxDepth: 32 } as const;

/** Counts the values the validator would visit, stopping at the first limit crossed. */
function treeProblem(doc: unknown): string | undefined {
  const stack: Array<[unknown, number]> = [[doc, 0]];
  let values = 0;
  while (stack.length > 0) {
    const [value, depth] = stack.pop()!;
    if (++values > POLICY_LIMITS.maxValues) return `more than ${POLICY_LIMITS.maxValues} values (after expanding aliases)`;
    if (depth > POLICY_LIMITS.maxDepth) return `nested deeper than ${POLICY_LIMITS.maxDepth} levels`;
    if (typeof value === 'object' && value !== null) {
      // The schema would drop the key unchecked: `podLabels: {__proto__: x}` would match every pod.
      if (Object.hasOwn(value, '__proto__')) return '"__proto__" is not a valid key';
      for (const child of Object.values(value)) stack.push([child, depth + 1]);
    }
  }
  return undefined;
}

/** Parses policy YAML text (the file's contents; reading it is the caller's I/O). */
export function parsePolicy(yamlText: string, source = 'policy'): Policy {
  const bytes = Buffer.byteLength(yamlText, 'utf8');
  if (bytes > POLICY_LIMITS.maxBytes) {
    throw new PolicyError(source, [`YAML: the policy is ${bytes} bytes, more than the ${POLICY_LIMITS.maxBytes} allowed`]);
  }
  let doc: unknown;
  try {
    doc = parseYaml(yamlText, { prettyErrors: true, uniqueKeys: true, maxAliasCount: POLICY_LIMITS.maxAliasCount });
  } catch (e) {
    const message = e instanceof YAMLParseError ? e.message.split('\n')[0] ?? e.message : String(e);
    throw new PolicyError(source, [`YAML: ${message}`]);
  }
  const tooBig = treeProblem(doc);
  if (tooBig !== undefined) throw new PolicyError(source, [`YAML: ${tooBig}`]);
  return validatePolicy(doc, source);
}

export function isProtectedNamespace(policy: Policy, namespace: string): boolean {
  return matchesAnyGlob(BUILTIN_PROTECTED_NAMESPACES, namespace) || matchesAnyGlob(policy.protectedNamespaces, namespace);
}
