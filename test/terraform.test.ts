// The Terraform stack, checked without providers (they cannot be downloaded
// here): `terraform fmt`, the HCL parsed with @cdktf/hcl2json and asserted on,
// and the provider-less permissions module evaluated for real with
// `terraform console`. The ClusterRole-vs-actions test lives with the actions.
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from '@cdktf/hcl2json';
import { ENV_VARS } from '../src/config.ts';
import { ACTION_ORDER, type ActionType } from '../src/core/policy.ts';
import { PREFLIGHT_RBAC, type RbacNeed } from '../src/actions/rbac.ts';
import type { ClusterAction } from '../src/actions/action.ts';
import { labelPod } from '../src/actions/label-pod.ts';
import { isolatePod } from '../src/actions/isolate-pod.ts';
import { captureProcessList } from '../src/actions/capture-process-list.ts';
import { cordonNode } from '../src/actions/cordon-node.ts';
import { evictPod } from '../src/actions/evict-pod.ts';
import { deletePod } from '../src/actions/delete-pod.ts';
import { RUNTIME_NODE_OPTIONS } from '../scripts/bundle.ts';

const ROOT = join(import.meta.dirname, '..');
const TF_DIR = join(ROOT, 'terraform');
const PERMISSIONS_MODULE = join(TF_DIR, 'modules', 'cluster-permissions');

type Block = Record<string, any>;
interface Stack {
  resource: Record<string, Record<string, Block[]>>;
  variable: Record<string, Block[]>;
  output: Record<string, Block[]>;
  module: Record<string, Block[]>;
  locals: Record<string, any>;
  text: string;
}

async function loadStack(): Promise<Stack> {
  const stack: Stack = { resource: {}, variable: {}, output: {}, module: {}, locals: {}, text: '' };
  for (const file of readdirSync(TF_DIR).filter((f) => f.endsWith('.tf')).sort()) {
    const text = readFileSync(join(TF_DIR, file), 'utf8');
    stack.text += `\n${text}`;
    const doc = await parse(file, text);
    for (const [type, byName] of Object.entries<Record<string, Block[]>>(doc.resource ?? {})) {
      stack.resource[type] = { ...stack.resource[type], ...byName };
    }
    for (const kind of ['variable', 'output', 'module'] as const) Object.assign(stack[kind], doc[kind] ?? {});
    for (const locals of doc.locals ?? []) Object.assign(stack.locals, locals);
  }
  return stack;
}

function only(stack: Stack, type: string, name: string): Block {
  const blocks = stack.resource[type]?.[name];
  if (!blocks || blocks.length !== 1) throw new Error(`expected one ${type}.${name}`);
  return blocks[0]!;
}

function tfEnv(dataDir: string): NodeJS.ProcessEnv {
  const cliConfig = join(dataDir, 'terraformrc');
  writeFileSync(cliConfig, '');
  return { ...process.env, TF_DATA_DIR: join(dataDir, 'data'), TF_CLI_CONFIG_FILE: cliConfig, TF_IN_AUTOMATION: '1', NO_COLOR: '1' };
}

let stack: Stack;
beforeAll(async () => {
  stack = await loadStack();
});

describe('formatting', () => {
  it('terraform fmt -check -recursive terraform/ passes', () => {
    const result = spawnSync('terraform', ['fmt', '-check', '-recursive', '-diff', 'terraform/'], { cwd: ROOT, encoding: 'utf8' });
    expect(result.error).toBeUndefined();
    expect(result.stdout).toBe('');
    expect(result.status).toBe(0);
  });
});

describe('SCC notification', () => {
  it('streams only ACTIVE Unexpected Child Shell findings, any extra clause parenthesised', () => {
    expect(stack.locals.scc_filter_base).toBe('category = "Unexpected Child Shell" AND state = "ACTIVE"');
    // OR binds tighter than AND in SCC filters: the base must not contain a bare OR,
    // and a user's extra clause is wrapped, as is the base.
    expect(stack.locals.scc_filter_base).not.toMatch(/\bOR\b/);
    expect(stack.locals.scc_filter).toContain('(${local.scc_filter_base}) AND (${var.scc_filter_extra})');
  });

  it('has an organization and a project variant (v2 resources), both on the findings topic with the filter', () => {
    const org = only(stack, 'google_scc_v2_organization_notification_config', 'findings');
    const project = only(stack, 'google_scc_v2_project_notification_config', 'findings');
    for (const config of [org, project]) {
      expect(config.streaming_config[0].filter).toBe('${local.scc_filter}');
      expect(config.pubsub_topic).toBe('${google_pubsub_topic.findings.id}');
      expect(config.location).toBe('global');
    }
    expect(org.count).toBe('${local.org_mode ? 1 : 0}');
    expect(project.for_each).toBe('${local.org_mode ? toset([]) : local.cluster_projects}');
  });

  it("lets SCC's service agent publish to the findings topic only", () => {
    const grant = only(stack, 'google_pubsub_topic_iam_member', 'scc_publishes_findings');
    expect(grant.topic).toBe('${google_pubsub_topic.findings.name}');
    expect(grant.role).toBe('roles/pubsub.publisher');
    expect(grant.for_each).toContain('google_scc_v2_organization_notification_config.findings');
    expect(grant.for_each).toContain('google_scc_v2_project_notification_config.findings');
    expect(grant.for_each).toContain('c.service_account');
  });
});

describe('the function', () => {
  let fn: Block;
  beforeAll(() => {
    fn = only(stack, 'google_cloudfunctions2_function', 'responder');
  });

  it('is Node 22, entry point sccResponder, built from the packaged source', () => {
    const build = fn.build_config[0];
    expect(build.runtime).toBe('nodejs22');
    expect(build.entry_point).toBe('sccResponder');
    expect(build.source[0].storage_source[0].object).toBe('${google_storage_bucket_object.source.name}');
    const object = only(stack, 'google_storage_bucket_object', 'source');
    // Content-addressed: a new package redeploys, the same package does not.
    expect(object.name).toBe('function-source-${filemd5(local.source_zip)}.zip');
    expect(stack.locals.source_zip).toContain('/../.build/function-source.zip');
  });

  it('runs as its own service account, internal ingress only, sized by validated variables', () => {
    const service = fn.service_config[0];
    expect(service.service_account_email).toBe('${google_service_account.function.email}');
    expect(service.ingress_settings).toBe('ALLOW_INTERNAL_ONLY');
    expect(service.available_memory).toBe('${var.function_memory}');
    expect(service.timeout_seconds).toBe('${var.function_timeout_seconds}');
    expect(service.max_instance_count).toBe('${var.max_instances}');
    // Sized from npm run bench (README, Performance).
    expect(stack.variable.function_memory![0]!.default).toBe('512Mi');
    expect(stack.variable.function_timeout_seconds![0]!.default).toBe(120);
    for (const name of ['function_memory', 'function_timeout_seconds', 'max_instances']) {
      expect(stack.variable[name]![0]!.validation).toBeDefined();
    }
  });

  it('sets every environment variable the code reads', () => {
    const service = fn.service_config[0];
    const plain = Object.keys(service.environment_variables);
    const secretContent = service.dynamic.secret_environment_variables[0];
    expect(secretContent.for_each).toBe('${local.webhook_secrets}');
    expect(secretContent.content[0].key).toBe('${secret_environment_variables.key}');
    const secretKeys = [...String(stack.locals.webhook_secrets).matchAll(/\b([A-Z][A-Z0-9_]+)\s*=/g)].map((m) => m[1]);
    const set = new Set([...plain, ...secretKeys]);
    // Names a test or a local run points at an emulator or fake; never set in production.
    const localOnly = (name: string) => /_EMULATOR_HOST$|_API_ENDPOINT$/.test(name);
    const required = new Set([
      ...ENV_VARS.filter((name) => !localOnly(name)),
      // Read outside src/config.ts today (composition / adapters); listed in the deploy issue.
      'SCC_RESPONDER_POLICY_FILE',
      'SCC_RESPONDER_FORCE_DRY_RUN',
      'OPS_TOPIC',
      'SLACK_WEBHOOK_URL',
      'CHAT_WEBHOOK_URL',
      'FIRESTORE_DATABASE',
      'EVIDENCE_BUCKET',
      'LOG_LEVEL',
    ]);
    expect(ENV_VARS.length).toBeGreaterThan(0);
    expect([...required].filter((name) => !set.has(name))).toEqual([]);
    // Webhook URLs are credentials: from Secret Manager only, never plain.
    expect(plain).not.toContain('SLACK_WEBHOOK_URL');
    expect(plain).not.toContain('CHAT_WEBHOOK_URL');
    expect(secretKeys.sort()).toEqual(['CHAT_WEBHOOK_URL', 'SLACK_WEBHOOK_URL']);
  });

  it('passes values in the format src/config.ts accepts', () => {
    const env = fn.service_config[0].environment_variables;
    expect(env.SCC_RESPONDER_FORCE_DRY_RUN).toBe('${var.force_dry_run ? "true" : "false"}');
    expect(stack.variable.force_dry_run![0]!.default).toBe(true);
    expect(env.LOG_LEVEL).toBe('${var.log_level}');
    expect(stack.variable.log_level![0]!.validation[0].condition).toContain('["DEBUG", "INFO", "NOTICE", "WARNING", "ERROR"]');
    expect(env.SCC_RESPONDER_POLICY_FILE).toBe('${var.policy_file}');
    expect(env.OPS_TOPIC).toBe('${google_pubsub_topic.ops.id}');
    expect(env.FIRESTORE_DATABASE).toBe('${google_firestore_database.ledger.name}');
    // The lease outlasts any run (timeout ≤ 540) and stays within what src/config.ts accepts (60..3600).
    expect(env.LEDGER_LEASE_SECONDS).toBe('${var.function_timeout_seconds + 60}');
    expect(stack.variable.function_timeout_seconds![0]!.validation[0].condition).toContain('var.function_timeout_seconds <= 540');
    expect(stack.variable.function_timeout_seconds![0]!.validation[0].condition).toContain('var.function_timeout_seconds >= 30');
  });

  it('runs the bundle with the Node flags the benchmark measured (source maps, small young generation)', () => {
    // NODE_OPTIONS is read by Node, not src/config.ts: the bench's figures hold only with these flags.
    const env = fn.service_config[0].environment_variables;
    expect(env.NODE_OPTIONS).toBe(RUNTIME_NODE_OPTIONS);
    expect(RUNTIME_NODE_OPTIONS).toContain('--enable-source-maps');
  });
});

describe('delivery', () => {
  it('eventarc: the managed trigger on the findings topic with RETRY_POLICY_RETRY and the trigger account', () => {
    const fn = only(stack, 'google_cloudfunctions2_function', 'responder');
    const trigger = fn.dynamic.event_trigger[0];
    expect(trigger.for_each).toBe('${var.delivery == "eventarc" ? [1] : []}');
    const content = trigger.content[0];
    expect(content.event_type).toBe('google.cloud.pubsub.topic.v1.messagePublished');
    expect(content.pubsub_topic).toBe('${google_pubsub_topic.findings.id}');
    expect(content.retry_policy).toBe('RETRY_POLICY_RETRY');
    expect(content.service_account_email).toBe('${google_service_account.trigger.email}');
  });

  it('push (default): OIDC-authenticated push with backoff and a dead-letter topic that keeps what it gets', () => {
    expect(stack.variable.delivery![0]!.default).toBe('push');
    const sub = only(stack, 'google_pubsub_subscription', 'push');
    expect(sub.count).toBe('${var.delivery == "push" ? 1 : 0}');
    expect(sub.topic).toBe('${google_pubsub_topic.findings.id}');
    const oidc = sub.push_config[0].oidc_token[0];
    expect(oidc.service_account_email).toBe('${google_service_account.trigger.email}');
    expect(oidc.audience).toBe('${google_cloudfunctions2_function.responder.service_config[0].uri}');
    expect(sub.dead_letter_policy[0]).toEqual({
      dead_letter_topic: '${google_pubsub_topic.dead_letter.id}',
      max_delivery_attempts: '${var.max_delivery_attempts}',
    });
    expect(sub.retry_policy[0].maximum_backoff).toBe('${var.retry_maximum_backoff_seconds}s');
    expect(sub.ack_deadline_seconds).toBe('${var.function_timeout_seconds + 30}');
    const hold = only(stack, 'google_pubsub_subscription', 'dead_letter_hold');
    expect(hold.topic).toBe('${google_pubsub_topic.dead_letter.id}');
  });

  it("push endpoint path is one the functions framework converts into a Pub/Sub CloudEvent", () => {
    const endpoint: string = only(stack, 'google_pubsub_subscription', 'push').push_config[0].push_endpoint;
    const example = endpoint
      .replace('${google_cloudfunctions2_function.responder.service_config[0].uri}', 'https://fn-abc-ew.a.run.app')
      .replace('${var.project_id}', 'my-project')
      .replace('${google_pubsub_topic.findings.name}', 'scc-responder-findings');
    expect(example).toBe('https://fn-abc-ew.a.run.app/projects/my-project/topics/scc-responder-findings');
    // The framework's own test (pubsub_middleware.js extractPubSubTopic).
    expect(new URL(example).pathname).toMatch(/projects\/[^/?]+\/topics\/[^/?]+/);
  });

  it('the Pub/Sub agent may dead-letter, ack and sign push tokens — on those resources only', () => {
    expect(only(stack, 'google_pubsub_topic_iam_member', 'pubsub_agent_dead_letters').topic).toBe('${google_pubsub_topic.dead_letter.name}');
    expect(only(stack, 'google_pubsub_subscription_iam_member', 'pubsub_agent_acks_dead_lettered').subscription).toBe(
      '${google_pubsub_subscription.push[0].name}',
    );
    expect(only(stack, 'google_service_account_iam_member', 'pubsub_agent_signs_push').service_account_id).toBe(
      '${google_service_account.trigger.name}',
    );
    const invoker = only(stack, 'google_cloud_run_v2_service_iam_member', 'trigger_invokes_function');
    expect(invoker.role).toBe('roles/run.invoker');
    expect(invoker.member).toBe('serviceAccount:${google_service_account.trigger.email}');
  });
});

describe('least privilege', () => {
  interface Grant {
    address: string;
    role: string;
  }
  let grants: Grant[];
  beforeAll(() => {
    grants = [];
    for (const [type, byName] of Object.entries(stack.resource)) {
      if (!/_iam_(member|binding|policy)$/.test(type)) continue;
      for (const [name, blocks] of Object.entries(byName)) for (const b of blocks) grants.push({ address: `${type}.${name}`, role: b.role });
    }
  });

  it('uses additive members only (an authoritative binding or policy would wipe other grants)', () => {
    expect(grants.length).toBeGreaterThan(0);
    expect(grants.filter((g) => !g.address.split('.')[0]!.endsWith('_iam_member'))).toEqual([]);
  });

  it('grants exactly the expected roles, each on the narrowest resource', () => {
    const byAddress = Object.fromEntries(grants.map((g) => [g.address, g.role]));
    expect(byAddress).toEqual({
      'google_pubsub_topic_iam_member.scc_publishes_findings': 'roles/pubsub.publisher',
      'google_pubsub_topic_iam_member.function_publishes_ops': 'roles/pubsub.publisher',
      'google_pubsub_topic_iam_member.pubsub_agent_dead_letters': 'roles/pubsub.publisher',
      'google_pubsub_subscription_iam_member.pubsub_agent_acks_dead_lettered': 'roles/pubsub.subscriber',
      'google_service_account_iam_member.pubsub_agent_signs_push': 'roles/iam.serviceAccountTokenCreator',
      'google_cloud_run_v2_service_iam_member.trigger_invokes_function': 'roles/run.invoker',
      'google_project_iam_member.function_cluster_responder': '${google_project_iam_custom_role.cluster_responder[each.value].name}',
      'google_project_iam_member.function_reads_logs': 'roles/logging.viewer',
      'google_project_iam_member.function_uses_firestore': 'roles/datastore.user',
      'google_secret_manager_secret_iam_member.function_reads_webhook': 'roles/secretmanager.secretAccessor',
      'google_storage_bucket_iam_member.function_evidence': '${each.value}',
    });
    expect(String(stack.locals.evidence_roles)).toContain('"roles/storage.objectCreator"');
    expect(String(stack.locals.evidence_roles)).toContain('"roles/storage.objectViewer"');
    const ops = only(stack, 'google_pubsub_topic_iam_member', 'function_publishes_ops');
    expect(ops.topic).toBe('${google_pubsub_topic.ops.name}');
    const secret = only(stack, 'google_secret_manager_secret_iam_member', 'function_reads_webhook');
    expect(secret.secret_id).toBe('${each.value}');
    expect(secret.for_each).toBe('${local.webhook_secrets}');
    // Cluster and logging grants only on the projects that hold clusters in scope.
    expect(only(stack, 'google_project_iam_member', 'function_cluster_responder').for_each).toBe('${local.cluster_projects}');
    expect(only(stack, 'google_project_iam_member', 'function_reads_logs').for_each).toBe('${local.cluster_projects}');
  });

  it('never grants a basic, admin or broad predefined role', () => {
    const broad = /^roles\/(owner|editor|viewer|browser)$|admin$|Admin$|^roles\/container\.|^roles\/iam\.serviceAccountUser$|^roles\/(logging\.privateLogViewer|storage\.objectAdmin|pubsub\.editor)$/;
    // Comments may name the roles we avoid (and why); only code counts.
    const codeOnly = stack.text.replace(/#.*$/gm, '');
    const codeRoles = [...codeOnly.matchAll(/"(roles\/[A-Za-z0-9_.]+)"/g)].map((m) => m[1]!);
    expect(codeRoles.length).toBeGreaterThanOrEqual(10);
    expect(codeRoles.filter((r) => broad.test(r))).toEqual([]);
    expect(broad.test('roles/container.admin') && broad.test('roles/editor') && !broad.test('roles/run.invoker')).toBe(true);
  });

  it('says why beside every grant', () => {
    const roleLines = stack.text.split('\n').filter((line) => /^\s*role\s*=/.test(line));
    expect(roleLines.length).toBe(grants.length);
    expect(roleLines.filter((line) => !/#\s*\S/.test(line))).toEqual([]);
  });

  it('builds the custom role from the cluster-permissions module and the enabled actions', () => {
    const role = only(stack, 'google_project_iam_custom_role', 'cluster_responder');
    expect(role.permissions).toBe('${module.cluster_permissions.permissions}');
    const mod = stack.module.cluster_permissions![0]!;
    expect(mod.source).toBe('./modules/cluster-permissions');
    expect(mod.enabled_actions).toBe('${var.enabled_actions}');
    expect(mod.grant_via_iam).toBe('${var.cluster_permissions_via_iam}');
    // exec into the attacker's container is never on by default.
    expect(stack.variable.enabled_actions![0]!.default).not.toContain('capture-process-list');
  });
});

// ---------------------------------------------------------------- the permissions module, evaluated

/** GKE maps Kubernetes RBAC (resource, verb) to IAM container.* permissions. */
function iamPermissionsFor(needs: readonly RbacNeed[]): string[] {
  const resourceName: Record<string, string> = {
    pods: 'pods',
    nodes: 'nodes',
    events: 'events',
    networkpolicies: 'networkPolicies',
    replicasets: 'replicaSets',
  };
  const verbName: Record<string, string> = { get: 'get', list: 'list', create: 'create', delete: 'delete', patch: 'update', update: 'update' };
  const out = new Set<string>();
  for (const need of needs) {
    for (const verb of need.verbs) {
      if (need.resource === 'pods/log' && verb === 'get') out.add('container.pods.getLogs');
      else if (need.resource === 'pods/eviction' && verb === 'create') out.add('container.pods.evict');
      else if (need.resource === 'pods/exec' && (verb === 'create' || verb === 'get')) out.add('container.pods.exec');
      else {
        const resource = resourceName[need.resource];
        const iamVerb = verbName[verb];
        if (!resource || !iamVerb) throw new Error(`no IAM mapping for ${need.resource} ${verb}: extend the table`);
        out.add(`container.${resource}.${iamVerb}`);
      }
    }
  }
  return [...out];
}

const ACTIONS: readonly ClusterAction[] = [labelPod, isolatePod, captureProcessList, cordonNode, evictPod, deletePod];

function expectedPermissions(enabled: readonly ActionType[]): string[] {
  const needs = [...PREFLIGHT_RBAC, ...ACTIONS.filter((a) => enabled.includes(a.type)).flatMap((a) => a.rbac)];
  return [...new Set(['container.clusters.get', ...iamPermissionsFor(needs)])].sort();
}

describe('cluster-permissions module (terraform console, offline)', () => {
  let work: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'scc-tf-perms-'));
    env = tfEnv(work);
    execFileSync('terraform', [`-chdir=${PERMISSIONS_MODULE}`, 'init', '-backend=false', '-input=false'], { env, stdio: 'pipe' });
  });
  afterAll(() => {
    rmSync(work, { recursive: true, force: true });
  });

  function evaluate(vars: { enabled_actions: readonly string[]; grant_via_iam?: boolean }): { ok: true; value: string[] } | { ok: false; output: string } {
    const args = [`-chdir=${PERMISSIONS_MODULE}`, 'console', '-var', `enabled_actions=${JSON.stringify(vars.enabled_actions)}`];
    if (vars.grant_via_iam !== undefined) args.push('-var', `grant_via_iam=${vars.grant_via_iam}`);
    const result = spawnSync('terraform', args, { env, input: 'jsonencode(local.iam_permissions)\n', encoding: 'utf8' });
    if (result.status !== 0) return { ok: false, output: `${result.stdout}${result.stderr}` };
    return { ok: true, value: JSON.parse(JSON.parse(result.stdout.trim())) as string[] };
  }

  it('declares an entry for every action, and the actions declare every type', () => {
    const text = readFileSync(join(PERMISSIONS_MODULE, 'main.tf'), 'utf8');
    for (const action of ACTION_ORDER) expect(text).toContain(`"${action}"`);
    expect(ACTIONS.map((a) => a.type).sort()).toEqual([...ACTION_ORDER].sort());
  });

  it.each(ACTION_ORDER.map((a) => [a]))('%s alone: preflight reads plus exactly what the action declares', (action) => {
    const result = evaluate({ enabled_actions: [action] });
    expect(result).toEqual({ ok: true, value: expectedPermissions([action]) });
  });

  it('every action, and the default set', () => {
    expect(evaluate({ enabled_actions: ACTION_ORDER })).toEqual({ ok: true, value: expectedPermissions(ACTION_ORDER) });
    const defaults = stack.variable.enabled_actions![0]!.default as ActionType[];
    const result = evaluate({ enabled_actions: defaults });
    expect(result).toEqual({ ok: true, value: expectedPermissions(defaults) });
    expect(result.ok && result.value).not.toContain('container.pods.exec');
  });

  it('no actions: reads only; RBAC mode: just enough IAM to reach the API server', () => {
    expect(evaluate({ enabled_actions: [] })).toEqual({ ok: true, value: expectedPermissions([]) });
    expect(evaluate({ enabled_actions: ACTION_ORDER, grant_via_iam: false })).toEqual({ ok: true, value: ['container.clusters.get'] });
  });

  it('rejects an unknown or repeated action at plan time', () => {
    const unknown = evaluate({ enabled_actions: ['label-pod', 'rm-rf'] });
    expect(unknown.ok).toBe(false);
    expect(!unknown.ok && unknown.output).toContain('each entry must be one of');
    const twice = evaluate({ enabled_actions: ['label-pod', 'label-pod'] });
    expect(twice.ok).toBe(false);
    expect(!twice.ok && twice.output).toContain('listed twice');
  });
});

describe('variables and the example settings', () => {
  it('every variable is typed and described', () => {
    const untyped = Object.entries(stack.variable).filter(([, [v]]) => !v!.type || !v!.description);
    expect(untyped.map(([name]) => name)).toEqual([]);
  });

  it('terraform.tfvars.example parses and sets only declared variables, with placeholder values', async () => {
    const text = readFileSync(join(TF_DIR, 'terraform.tfvars.example'), 'utf8');
    const doc = await parse('terraform.tfvars.example', text);
    const unknown = Object.keys(doc).filter((name) => !(name in stack.variable));
    expect(unknown).toEqual([]);
    for (const required of ['project_id', 'region', 'clusters']) expect(doc).toHaveProperty(required);
    expect(String(doc.project_id)).toMatch(/^my-/);
  });

  it('outputs the topics, function URL, service accounts and the test-finding command', () => {
    for (const name of ['findings_topic', 'ops_topic', 'dead_letter_topic', 'function_url', 'function_service_account', 'trigger_service_account', 'test_finding_command']) {
      expect(stack.output).toHaveProperty(name);
    }
    expect(stack.output.test_finding_command![0]!.value).toBe(
      'gcloud pubsub topics publish ${google_pubsub_topic.findings.id} --message="$(cat test/fixtures/notification-v2.json)"',
    );
  });

  it('keeps ledger documents no longer than their expireAt (Firestore TTL)', () => {
    const ttl = only(stack, 'google_firestore_field', 'ledger_ttl');
    expect(ttl.field).toBe('expireAt');
    expect(ttl.collection).toBe('${var.ledger_collection}');
    expect(ttl.database).toBe('${google_firestore_database.ledger.name}');
    expect(ttl.ttl_config).toEqual([{}]);
  });

  it('the evidence bucket, when created, has uniform access and a retention policy', () => {
    const bucket = only(stack, 'google_storage_bucket', 'evidence');
    expect(bucket.uniform_bucket_level_access).toBe(true);
    expect(bucket.public_access_prevention).toBe('enforced');
    expect(bucket.retention_policy[0].retention_period).toBe('${var.evidence_retention_days * 86400}');
  });
});
