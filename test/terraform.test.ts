// The Terraform stack, checked without providers (they cannot be downloaded
// here, so neither `terraform validate` nor `plan` can run): `terraform fmt`,
// the HCL parsed with @cdktf/hcl2json and asserted on (references resolved,
// API enablement ordered before use), pure expressions and the provider-less
// permissions module evaluated for real with `terraform console`. The check
// that the permissions data file matches the code lives with the actions.
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from '@cdktf/hcl2json';
import { parseAllDocuments } from 'yaml';
import { ENV_VARS } from '../src/config.ts';
import { ACTION_ORDER, TOPIC_NAME, WEBHOOK_ENV_NAME, type ActionType } from '../src/core/policy/policy.ts';
import { unionOfNeeds, type RbacNeed } from '../src/actions/rbac.ts';
import { PREFLIGHT_RBAC } from '../src/actions/preflight.ts';
import { RELEASE_RBAC } from '../src/actions/release.ts';
import { ACTIONS } from '../src/actions/run-plan.ts';
import { RUNTIME_NODE_OPTIONS } from '../scripts/bundle.ts';
import { iamPermissionsFor } from '../scripts/permissions.ts';

const ROOT = join(import.meta.dirname, '..');
const TF_DIR = join(ROOT, 'terraform');
const PERMISSIONS_MODULE = join(TF_DIR, 'modules', 'cluster-permissions');
/** The README and the reference pages beside it (docs/), where the deploy guide lives. */
const DOC_FILES = [join(ROOT, 'README.md'), ...readdirSync(join(ROOT, 'docs')).filter((f) => f.endsWith('.md')).map((f) => join(ROOT, 'docs', f))];

type Block = Record<string, any>;
interface Stack {
  resource: Record<string, Record<string, Block[]>>;
  data: Record<string, Record<string, Block[]>>;
  variable: Record<string, Block[]>;
  output: Record<string, Block[]>;
  module: Record<string, Block[]>;
  locals: Record<string, any>;
  text: string;
}

async function loadStack(): Promise<Stack> {
  const stack: Stack = { resource: {}, data: {}, variable: {}, output: {}, module: {}, locals: {}, text: '' };
  for (const file of readdirSync(TF_DIR).filter((f) => f.endsWith('.tf')).sort()) {
    const text = readFileSync(join(TF_DIR, file), 'utf8');
    stack.text += `\n${text}`;
    const doc = await parse(file, text);
    for (const kind of ['resource', 'data'] as const) {
      for (const [type, byName] of Object.entries<Record<string, Block[]>>(doc[kind] ?? {})) {
        stack[kind][type] = { ...stack[kind][type], ...byName };
      }
    }
    for (const kind of ['variable', 'output', 'module'] as const) Object.assign(stack[kind], doc[kind] ?? {});
    for (const locals of doc.locals ?? []) Object.assign(stack.locals, locals);
  }
  return stack;
}

/** Every resource as [address, block]. */
function resources(stack: Stack): [string, Block][] {
  return Object.entries(stack.resource).flatMap(([type, byName]) => Object.entries(byName).map(([name, [b]]) => [`${type}.${name}`, b!] as [string, Block]));
}

/** The expression inside a "${...}" string hcl2json produced. */
function expression(value: unknown): string {
  const text = String(value);
  if (!text.startsWith('${') || !text.endsWith('}')) throw new Error(`not a single expression: ${text}`);
  return text.slice(2, -1);
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

/** Evaluates pure HCL expressions offline: `terraform console` in a scratch module that declares them as locals. */
function evaluateHcl(exprs: Record<string, string>, vars: Record<string, string> = {}): Record<string, unknown> {
  const dir = mkdtempSync(join(tmpdir(), 'scc-tf-expr-'));
  try {
    const decls = Object.keys(vars).map((name) => `variable "${name}" {}\n`).join('');
    const locals = Object.entries(exprs).map(([name, expr]) => `  ${name} = ${expr}\n`).join('');
    writeFileSync(join(dir, 'main.tf'), `${decls}locals {\n${locals}}\n`);
    const args = [`-chdir=${dir}`, 'console', ...Object.entries(vars).flatMap(([k, v]) => ['-var', `${k}=${v}`])];
    const input = `jsonencode({${Object.keys(exprs).map((k) => `${k} = local.${k}`).join(', ')}})\n`;
    const result = spawnSync('terraform', args, { env: tfEnv(dir), input, encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`terraform console failed: ${result.stdout}${result.stderr}`);
    return JSON.parse(JSON.parse(result.stdout.trim())) as Record<string, unknown>;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
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

  it("lets SCC's service agents publish to the findings topic only, each agent once", () => {
    const grant = only(stack, 'google_pubsub_topic_iam_binding', 'scc_publishes_findings');
    expect(grant.topic).toBe('${google_pubsub_topic.findings.name}');
    expect(grant.role).toBe('roles/pubsub.publisher');
    expect(grant.members).toContain('google_scc_v2_organization_notification_config.findings');
    expect(grant.members).toContain('google_scc_v2_project_notification_config.findings');
    expect(grant.members).toContain('c.service_account');
    // One member per config would let removing one project revoke the agent they share.
    expect(grant.members).toMatch(/^\$\{sort\(distinct\(/);
    expect(stack.resource.google_pubsub_topic_iam_member?.scc_publishes_findings).toBeUndefined();
  });

  it('deduplicates the agent members: three projects sharing one agent give one member', () => {
    const expr = expression(only(stack, 'google_pubsub_topic_iam_binding', 'scc_publishes_findings').members)
      .replace('google_scc_v2_organization_notification_config.findings', 'local.org')
      .replace('google_scc_v2_project_notification_config.findings', 'local.projects');
    const agent = 'service-org-1@gcp-sa-scc-notification.iam.gserviceaccount.com';
    const { members } = evaluateHcl({
      org: '[]',
      projects: `{ a = { service_account = "${agent}" }, b = { service_account = "${agent}" }, c = { service_account = "${agent}" } }`,
      members: expr,
    });
    expect(members).toEqual([`serviceAccount:${agent}`]);
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

  it("builds as an identity the stack grants what a build needs, never the project's default", () => {
    const build = fn.build_config[0];
    expect(build.service_account).toBe('${local.build_service_account_name}');
    expect(build.docker_repository).toBe('${google_artifact_registry_repository.function.id}');
    expect(only(stack, 'google_service_account', 'build').count).toBe('${var.build_service_account == "" ? 1 : 0}');
    // Built for the account's own project, whatever the host project is.
    // hcl2json keeps the template's source text: quoted, it is the template again.
    const template = String(stack.locals.build_service_account_name).replaceAll('local.build_service_account_email', 'var.email');
    const evaluated = evaluateHcl({ name: `"${template}"` }, { email: 'builder@other-project.iam.gserviceaccount.com' });
    expect(evaluated.name).toBe('projects/other-project/serviceAccounts/builder@other-project.iam.gserviceaccount.com');
    // Log writing, the image repository, the source: each grant to that identity, and the
    // build waits for them to propagate.
    const member = 'serviceAccount:${local.build_service_account_email}';
    expect(only(stack, 'google_project_iam_member', 'build_writes_logs')).toMatchObject({ role: 'roles/logging.logWriter', member });
    expect(only(stack, 'google_artifact_registry_repository_iam_member', 'build_pushes_image')).toMatchObject({
      role: 'roles/artifactregistry.writer',
      repository: '${google_artifact_registry_repository.function.name}',
      member,
    });
    expect(only(stack, 'google_storage_bucket_iam_member', 'build_reads_source')).toMatchObject({ bucket: '${google_storage_bucket.source.name}', member });
    const staged = only(stack, 'google_project_iam_member', 'build_reads_staged_source');
    expect(staged).toMatchObject({ role: 'roles/storage.objectViewer', member });
    expect(staged.condition[0].expression).toContain('projects/_/buckets/gcf-v2-sources-');
    expect(fn.depends_on).toContain('${time_sleep.build_grants_propagate}');
    expect(stack.variable.build_service_account![0]!.description).not.toContain('projects/-/');
  });

  it('runs as its own service account, internal ingress only, sized by validated variables', () => {
    const service = fn.service_config[0];
    expect(service.service_account_email).toBe('${google_service_account.function.email}');
    expect(service.ingress_settings).toBe('ALLOW_INTERNAL_ONLY');
    expect(service.available_memory).toBe('${var.function_memory}');
    expect(service.timeout_seconds).toBe('${var.function_timeout_seconds}');
    expect(service.max_instance_count).toBe('${var.max_instances}');
    // Sized from npm run bench (docs/performance.md).
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
    // SCC_RESPONDER_LOCAL_LEDGER: the SQLite ledger of a run on one machine (the function uses Firestore).
    const localOnly = (name: string) => /_EMULATOR_HOST$|_API_ENDPOINT$/.test(name) || name === 'SCC_RESPONDER_LOCAL_LEDGER';
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
  it('eventarc: what the docs say about retention (24 hours, not 7 days)', () => {
    const delivery = stack.variable.delivery![0]!.description as string;
    expect(delivery).toContain('24 hours');
    const example = readFileSync(join(TF_DIR, 'terraform.tfvars.example'), 'utf8');
    const readme = DOC_FILES.map((f) => readFileSync(f, 'utf8')).join('\n');
    for (const text of [delivery, example, readme]) expect(text).not.toMatch(/(eventarc|RETRY_POLICY_RETRY)[^.\n]*7[- ]days?/i);
    expect(example).toMatch(/eventarc[^\n]*\n?[^\n]*24 hours/i);
  });

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
    // The agent may not exist yet on a new project: the service identity creates it.
    const identity = only(stack, 'google_project_service_identity', 'pubsub');
    expect(identity).toMatchObject({ provider: '${google-beta}', service: 'pubsub.googleapis.com' });
    const agent = 'serviceAccount:${google_project_service_identity.pubsub.email}';
    const deadLetters = only(stack, 'google_pubsub_topic_iam_member', 'pubsub_agent_dead_letters');
    expect(deadLetters).toMatchObject({ topic: '${google_pubsub_topic.dead_letter.name}', member: agent });
    const acks = only(stack, 'google_pubsub_subscription_iam_member', 'pubsub_agent_acks_dead_lettered');
    expect(acks).toMatchObject({ subscription: '${google_pubsub_subscription.push[0].name}', member: agent });
    const signs = only(stack, 'google_service_account_iam_member', 'pubsub_agent_signs_push');
    expect(signs).toMatchObject({ service_account_id: '${google_service_account.trigger.name}', member: agent });
    // Eventarc's subscription pushes with the trigger account's token too (agents from before April 2021).
    expect(signs.count).toBeUndefined();
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

  it('uses additive members only (an authoritative binding or policy would wipe other grants), but on the topic the stack owns', () => {
    expect(grants.length).toBeGreaterThan(0);
    // The one exception: publishers of the findings topic, which the stack creates and only SCC may publish to.
    expect(grants.filter((g) => !g.address.split('.')[0]!.endsWith('_iam_member')).map((g) => g.address)).toEqual([
      'google_pubsub_topic_iam_binding.scc_publishes_findings',
    ]);
  });

  it('grants exactly the expected roles, each on the narrowest resource', () => {
    const byAddress = Object.fromEntries(grants.map((g) => [g.address, g.role]));
    expect(byAddress).toEqual({
      'google_pubsub_topic_iam_binding.scc_publishes_findings': 'roles/pubsub.publisher',
      'google_pubsub_topic_iam_member.function_publishes_ops': 'roles/pubsub.publisher',
      'google_pubsub_topic_iam_member.pubsub_agent_dead_letters': 'roles/pubsub.publisher',
      'google_pubsub_subscription_iam_member.pubsub_agent_acks_dead_lettered': 'roles/pubsub.subscriber',
      'google_service_account_iam_member.pubsub_agent_signs_push': 'roles/iam.serviceAccountTokenCreator',
      'google_cloud_run_v2_service_iam_member.trigger_invokes_function': 'roles/run.invoker',
      'google_project_iam_member.function_cluster_responder': '${google_project_iam_custom_role.cluster_responder[each.value].name}',
      'google_project_iam_member.function_reads_logs': '${google_project_iam_custom_role.log_reader[each.value].name}',
      'google_project_iam_member.function_uses_firestore': 'roles/datastore.user',
      'google_secret_manager_secret_iam_member.function_reads_webhook': 'roles/secretmanager.secretAccessor',
      'google_storage_bucket_iam_member.function_evidence': '${each.value}',
      'google_project_iam_member.build_writes_logs': 'roles/logging.logWriter',
      'google_artifact_registry_repository_iam_member.build_pushes_image': 'roles/artifactregistry.writer',
      'google_storage_bucket_iam_member.build_reads_source': 'roles/storage.objectViewer',
      'google_project_iam_member.build_reads_staged_source': 'roles/storage.objectViewer',
      'google_pubsub_topic_iam_member.function_publishes_routes': 'roles/pubsub.publisher',
      'google_organization_iam_member.function_marks_findings': 'roles/securitycenter.findingSecurityMarksWriter',
      'google_project_iam_member.function_marks_findings': 'roles/securitycenter.findingSecurityMarksWriter',
      'google_organization_iam_member.function_sets_finding_state': 'roles/securitycenter.findingsStateSetter',
      'google_project_iam_member.function_sets_finding_state': 'roles/securitycenter.findingsStateSetter',
      'google_organization_iam_member.function_reads_contacts': 'roles/essentialcontacts.viewer',
      'google_project_iam_member.function_reads_contacts': 'roles/essentialcontacts.viewer',
      // Slack approval (terraform/approval.tf; test/terraform-approval.test.ts checks each one's resource).
      'google_cloud_run_v2_service_iam_member.anyone_invokes_slack_endpoint': 'roles/run.invoker',
      'google_cloud_run_v2_service_iam_member.trigger_invokes_approval': 'roles/run.invoker',
      'google_pubsub_subscription_iam_member.pubsub_agent_acks_dead_lettered_approvals': 'roles/pubsub.subscriber',
      'google_pubsub_topic_iam_member.pubsub_agent_dead_letters_approvals': 'roles/pubsub.publisher',
      'google_pubsub_topic_iam_member.slack_publishes_approvals': 'roles/pubsub.publisher',
      'google_secret_manager_secret_iam_member.function_reads_bot_token': 'roles/secretmanager.secretAccessor',
      'google_secret_manager_secret_iam_member.slack_reads_signing_secret': 'roles/secretmanager.secretAccessor',
    });
    // Logs: one permission, not roles/logging.viewer (sinks, metrics, buckets, views).
    expect(only(stack, 'google_project_iam_custom_role', 'log_reader').permissions).toEqual(['logging.logEntries.list']);
    // Firestore roles exist only at project level: the condition narrows it to the ledger database.
    const firestore = only(stack, 'google_project_iam_member', 'function_uses_firestore');
    expect(firestore.condition[0].expression).toBe('resource.name == "${google_firestore_database.ledger.id}"');
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
    const broad = /^roles\/(owner|editor|viewer|browser)$|admin$|Admin$|^roles\/container\.|^roles\/iam\.serviceAccountUser$|^roles\/(logging\.viewer|logging\.privateLogViewer|storage\.objectAdmin|pubsub\.editor|cloudbuild\.builds\.builder)$/;
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

  it('builds the custom role and the ClusterRole manifests from one module call and the enabled actions', () => {
    const role = only(stack, 'google_project_iam_custom_role', 'cluster_responder');
    expect(role.permissions).toBe('${module.cluster_permissions.permissions}');
    const mod = stack.module.cluster_permissions![0]!;
    expect(mod.source).toBe('./modules/cluster-permissions');
    expect(mod.enabled_actions).toBe('${var.enabled_actions}');
    expect(mod.grant_via_iam).toBe('${var.cluster_permissions_via_iam}');
    // The RBAC subject is the account the function runs as.
    expect(mod.service_account_email).toBe('${google_service_account.function.email}');
    expect(only(stack, 'google_cloudfunctions2_function', 'responder').service_config[0].service_account_email).toBe('${google_service_account.function.email}');
    expect(stack.output.cluster_role_manifest![0]!.value).toBe('${module.cluster_permissions.cluster_role_manifest}');
    expect(stack.output.exec_role_manifest![0]!.value).toBe('${module.cluster_permissions.exec_role_manifest}');
    // No hand-written ClusterRole left to drift from enabled_actions.
    expect(existsSync(join(TF_DIR, 'k8s'))).toBe(false);
    // exec into the attacker's container is never on by default.
    expect(stack.variable.enabled_actions![0]!.default).not.toContain('capture-process-list');
  });
});

// ---------------------------------------------------------------- routes, SCC write-back, owners (issue 14)

/** An expression of the stack evaluated offline, its var./local. references given as HCL values. */
function evaluateWith(expr: string, values: Record<string, string>): unknown {
  return evaluateHcl({ ...values, result: expr.replace(/\bvar\./g, 'local.') }).result;
}

/** Which of `values` each of a variable's validations accepts: one terraform console run for all. */
function validations(name: string, values: string[]): boolean[][] {
  const conditions = (stack.variable[name]![0]!.validation as Block[]).map((v) => expression(v.condition));
  const exprs: Record<string, string> = {};
  values.forEach((value, i) => {
    exprs[`v${i}`] = value;
    conditions.forEach((c, j) => (exprs[`ok${i}_${j}`] = c.replaceAll(`var.${name}`, `local.v${i}`)));
  });
  const out = evaluateHcl(exprs);
  return values.map((_, i) => conditions.map((_c, j) => out[`ok${i}_${j}`] as boolean));
}
const accepted = (name: string, values: string[]) => validations(name, values).map((each) => each.every(Boolean));

describe('routes, SCC write-back and owners', () => {
  const member = 'serviceAccount:${google_service_account.function.email}';

  it('route webhook secrets: validated names (as the policy spells them), merged into the secrets the function mounts and may read', () => {
    const condition = String(stack.variable.route_webhook_secrets![0]!.validation[0].condition);
    // The same rule as the policy's slackWebhookEnv / chatWebhookEnv.
    expect(condition).toContain(`regex("${WEBHOOK_ENV_NAME.source}", name)`);
    expect(stack.variable.route_webhook_secrets![0]!.default).toEqual({});
    const cases: [string, boolean][] = [
      ['{ PAYMENTS_SLACK_WEBHOOK_URL = "payments-slack" }', true],
      ['{ PAYMENTS_SLACK_WEBHOOK_URL = "payments-slack", BILLING_CHAT_WEBHOOK_URL = "billing_chat-1" }', true],
      ['{}', true],
      ['{ SLACK_WEBHOOK_URL = "s" }', false],
      ['{ CHAT_WEBHOOK_URL = "s" }', false],
      ['{ payments_WEBHOOK_URL = "s" }', false],
      ['{ PAYMENTS_SLACK_URL = "s" }', false],
      ['{ _WEBHOOK_URL = "s" }', false],
      [`{ A${'B'.repeat(51)}_WEBHOOK_URL = "s" }`, false],
      ['{ PAYMENTS_SLACK_WEBHOOK_URL = "projects/p/secrets/s" }', false],
      ['{ PAYMENTS_SLACK_WEBHOOK_URL = "" }', false],
    ];
    expect(accepted('route_webhook_secrets', cases.map(([v]) => v))).toEqual(cases.map(([, ok]) => ok));

    const secrets = evaluateWith(expression(stack.locals.webhook_secrets), {
      slack_webhook_secret: '"ops-slack"',
      chat_webhook_secret: '""',
      route_webhook_secrets: '{ PAYMENTS_SLACK_WEBHOOK_URL = "payments-slack", BILLING_CHAT_WEBHOOK_URL = "billing-chat" }',
    });
    expect(secrets).toEqual({ SLACK_WEBHOOK_URL: 'ops-slack', PAYMENTS_SLACK_WEBHOOK_URL: 'payments-slack', BILLING_CHAT_WEBHOOK_URL: 'billing-chat' });
    // Mounted as secret variables and granted one by one, from the same map.
    const fn = only(stack, 'google_cloudfunctions2_function', 'responder');
    expect(fn.service_config[0].dynamic.secret_environment_variables[0].for_each).toBe('${local.webhook_secrets}');
    const grant = only(stack, 'google_secret_manager_secret_iam_member', 'function_reads_webhook');
    expect(grant).toMatchObject({ for_each: '${local.webhook_secrets}', secret_id: '${each.value}', role: 'roles/secretmanager.secretAccessor', member });
  });

  it('route topics: full names (as the policy spells them), publisher on each topic only, in its own project', () => {
    const condition = String(stack.variable.route_topics![0]!.validation[0].condition);
    expect(condition).toContain(`regex("${TOPIC_NAME.source.replaceAll('\\/', '/')}", t)`);
    const cases: [string, boolean][] = [
      ['["projects/payments-prod/topics/incidents"]', true],
      ['["projects/payments-prod/topics/incidents", "projects/audit-project/topics/all.summaries"]', true],
      ['[]', true],
      ['["incidents"]', false],
      ['["projects/payments-prod/topics/goog-incidents"]', false],
      ['["projects/payments-prod/topics/GOOGincidents"]', false],
      ['["projects/Payments/topics/incidents"]', false],
      ['["projects/payments-prod/subscriptions/incidents"]', false],
      ['["projects/payments-prod/topics/incidents", "projects/payments-prod/topics/incidents"]', false],
    ];
    expect(accepted('route_topics', cases.map(([v]) => v))).toEqual(cases.map(([, ok]) => ok));

    const grant = only(stack, 'google_pubsub_topic_iam_member', 'function_publishes_routes');
    expect(grant).toMatchObject({ for_each: '${toset(var.route_topics)}', role: 'roles/pubsub.publisher', member });
    const where = evaluateHcl({
      each: '{ value = "projects/payments-prod/topics/incidents" }',
      project: expression(grant.project).replaceAll('each.', 'local.each.'),
      topic: expression(grant.topic).replaceAll('each.', 'local.each.'),
    });
    expect([where.project, where.topic]).toEqual(['payments-prod', 'incidents']);
  });

  it('SCC write-back: SCC_WRITEBACK on the function, on by default; the state change off by default', () => {
    const env = only(stack, 'google_cloudfunctions2_function', 'responder').service_config[0].environment_variables;
    expect(env.SCC_WRITEBACK).toBe('${var.scc_writeback ? "true" : "false"}');
    expect(stack.variable.scc_writeback![0]).toMatchObject({ type: '${bool}', default: true });
    expect(stack.variable.scc_set_state![0]).toMatchObject({ type: '${bool}', default: false });
    expect(stack.variable.essential_contacts![0]).toMatchObject({ type: '${bool}', default: true });
  });

  // Where each grant lands, for every combination: the organization in organization mode, else each cluster project.
  const GRANTS: Record<string, { role: string; when: (o: { writeback: boolean; setState: boolean; contacts: boolean }) => boolean }> = {
    function_marks_findings: { role: 'roles/securitycenter.findingSecurityMarksWriter', when: (o) => o.writeback },
    function_sets_finding_state: { role: 'roles/securitycenter.findingsStateSetter', when: (o) => o.writeback && o.setState },
    function_reads_contacts: { role: 'roles/essentialcontacts.viewer', when: (o) => o.contacts },
  };
  const COMBINATIONS = [
    { writeback: true, setState: false, contacts: true },
    { writeback: true, setState: true, contacts: false },
    { writeback: false, setState: true, contacts: true },
    { writeback: false, setState: false, contacts: false },
  ];

  it.each(Object.entries(GRANTS))('%s: at the organization (organization mode) or on each cluster project, and only when enabled', (name, grant) => {
    const org = only(stack, 'google_organization_iam_member', name);
    const project = only(stack, 'google_project_iam_member', name);
    expect(org).toMatchObject({ org_id: '${var.organization_id}', role: grant.role, member });
    expect(project).toMatchObject({ project: '${each.value}', role: grant.role, member });
    // Every combination in one terraform console run: each one's inputs as locals suffixed _i.
    const cases = COMBINATIONS.flatMap((o) => [true, false].map((orgMode) => ({ o, orgMode })));
    const exprs: Record<string, string> = {};
    const inputs = (i: number) => (expr: string) => expr.replace(/\b(?:var|local)\.([a-z_]+)/g, (_, n: string) => `local.${n}_${i}`);
    cases.forEach(({ o, orgMode }, i) => {
      Object.assign(exprs, {
        [`scc_writeback_${i}`]: String(o.writeback),
        [`scc_set_state_${i}`]: String(o.setState),
        [`essential_contacts_${i}`]: String(o.contacts),
        [`organization_id_${i}`]: orgMode ? '"123456789012"' : '""',
        [`org_mode_${i}`]: inputs(i)(expression(stack.locals.org_mode)),
        [`cluster_projects_${i}`]: 'toset(["shop-prod", "shop-staging"])',
        [`count_${i}`]: inputs(i)(expression(org.count)),
        [`projects_${i}`]: inputs(i)(expression(project.for_each)),
      });
    });
    const out = evaluateHcl(exprs);
    const got = cases.map((c, i) => ({ ...c, count: out[`count_${i}`], projects: out[`projects_${i}`] }));
    const wanted = cases.map((c) => ({ ...c, count: grant.when(c.o) && c.orgMode ? 1 : 0, projects: grant.when(c.o) && !c.orgMode ? ['shop-prod', 'shop-staging'] : [] }));
    expect(got).toEqual(wanted);
  });

  it('every role the stack grants has its row in the deploy guide (Least privilege)', () => {
    const readme = readFileSync(join(ROOT, 'docs', 'deploy.md'), 'utf8');
    const table = readme.slice(readme.indexOf('### Least privilege: every grant and why'), readme.indexOf('### Send a test finding'));
    const code = stack.text.replace(/#.*$/gm, '');
    const roles = new Set([...code.matchAll(/"(roles\/[A-Za-z0-9_.]+)"/g)].map((m) => m[1]!));
    expect(roles.size).toBeGreaterThan(10);
    expect([...roles].filter((role) => !table.includes(`\`${role}\``))).toEqual([]);
  });
});

// ---------------------------------------------------------------- the permissions module, evaluated

function expectedPermissions(enabled: readonly ActionType[]): string[] {
  const needs = [...PREFLIGHT_RBAC, ...enabled.flatMap((a) => ACTIONS[a].rbac)];
  return [...new Set(['container.clusters.get', ...iamPermissionsFor(needs)])].sort();
}

/** The rules of a rendered ClusterRole manifest as needs, plus the parsed documents. */
function rendered(manifest: string): { needs: RbacNeed[]; role?: Record<string, any>; binding?: Record<string, any> } {
  if (manifest === '') return { needs: [] };
  const docs = parseAllDocuments(manifest).map((d) => {
    expect(d.errors).toEqual([]);
    return d.toJS() as Record<string, any>;
  });
  const role = docs.find((d) => d.kind === 'ClusterRole');
  const binding = docs.find((d) => d.kind === 'ClusterRoleBinding');
  expect(docs.length).toBe(2);
  const needs: RbacNeed[] = [];
  for (const rule of role!.rules as { apiGroups: string[]; resources: string[]; verbs: string[] }[]) {
    for (const apiGroup of rule.apiGroups) for (const resource of rule.resources) needs.push({ apiGroup, resource, verbs: rule.verbs });
  }
  return { needs: unionOfNeeds(needs), role, binding };
}

const SA = 'scc-responder-fn@my-secops-project.iam.gserviceaccount.com';

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

  interface Evaluated {
    iam: string[];
    main: string;
    exec: string;
  }

  function evaluate(vars: { enabled_actions: readonly string[]; grant_via_iam?: boolean }): { ok: true; value: Evaluated } | { ok: false; output: string } {
    const args = [`-chdir=${PERMISSIONS_MODULE}`, 'console', '-var', `enabled_actions=${JSON.stringify(vars.enabled_actions)}`, '-var', `service_account_email=${SA}`];
    if (vars.grant_via_iam !== undefined) args.push('-var', `grant_via_iam=${vars.grant_via_iam}`);
    const input = 'jsonencode({ iam = local.iam_permissions, main = local.cluster_role_manifest, exec = local.exec_role_manifest })\n';
    const result = spawnSync('terraform', args, { env, input, encoding: 'utf8' });
    if (result.status !== 0) return { ok: false, output: `${result.stdout}${result.stderr}` };
    return { ok: true, value: JSON.parse(JSON.parse(result.stdout.trim())) as Evaluated };
  }

  function evaluated(enabled: readonly string[], grantViaIam?: boolean): Evaluated {
    const result = evaluate({ enabled_actions: enabled, ...(grantViaIam === undefined ? {} : { grant_via_iam: grantViaIam }) });
    if (!result.ok) throw new Error(result.output);
    return result.value;
  }

  it('validates exactly the actions the code and the data file have', () => {
    const text = readFileSync(join(PERMISSIONS_MODULE, 'main.tf'), 'utf8');
    const literal = /contains\(\[([^\]]+)\], action\)/.exec(text)![1]!;
    const listed = [...literal.matchAll(/"([a-z-]+)"/g)].map((m) => m[1]);
    expect(listed.sort()).toEqual([...ACTION_ORDER].sort());
    const data = JSON.parse(readFileSync(join(PERMISSIONS_MODULE, 'permissions.json'), 'utf8'));
    expect(Object.keys(data.actions).sort()).toEqual([...ACTION_ORDER].sort());
  });

  it('maps RBAC to the IAM permissions GKE checks (patch is update; subresources by name)', () => {
    expect(iamPermissionsFor([{ apiGroup: '', resource: 'nodes', verbs: ['patch'] }])).toEqual(['container.nodes.update']);
    expect(iamPermissionsFor([{ apiGroup: '', resource: 'pods/log', verbs: ['get'] }])).toEqual(['container.pods.getLogs']);
    expect(iamPermissionsFor([{ apiGroup: '', resource: 'pods/eviction', verbs: ['create'] }])).toEqual(['container.pods.evict']);
    expect(iamPermissionsFor([{ apiGroup: '', resource: 'pods/exec', verbs: ['create', 'get'] }])).toEqual(['container.pods.exec']);
    expect(iamPermissionsFor([{ apiGroup: 'networking.k8s.io', resource: 'networkpolicies', verbs: ['list'] }])).toEqual(['container.networkPolicies.list']);
    expect(() => iamPermissionsFor([{ apiGroup: '', resource: 'secrets', verbs: ['get'] }])).toThrow('no IAM permission known');
  });

  it.each(ACTION_ORDER.map((a) => [a]))('%s alone: preflight reads plus exactly what the action declares, in IAM and in RBAC', (action) => {
    const { iam, main, exec } = evaluated([action]);
    expect(iam).toEqual(expectedPermissions([action]));
    const both = unionOfNeeds([...rendered(main).needs, ...rendered(exec).needs]);
    expect(both).toEqual(unionOfNeeds([...PREFLIGHT_RBAC, ...ACTIONS[action].rbac]));
  });

  // Several sets, each leaving out what a deployment may well not want.
  const SETS: Record<string, ActionType[]> = {
    'the default set': ['label-pod', 'isolate-pod', 'cordon-node', 'evict-pod', 'delete-pod'],
    'without delete-pod': ['label-pod', 'isolate-pod', 'cordon-node', 'evict-pod'],
    'without cordon-node': ['label-pod', 'isolate-pod', 'evict-pod', 'delete-pod'],
    'isolation only': ['isolate-pod'],
    'every action': [...ACTION_ORDER],
    'no action': [],
  };

  it.each(Object.entries(SETS))('%s: the ClusterRoles grant exactly the union of the preflight and the enabled actions', (_label, enabled) => {
    const { iam, main, exec } = evaluated(enabled);
    const wanted = unionOfNeeds([...PREFLIGHT_RBAC, ...enabled.flatMap((a) => ACTIONS[a].rbac)]);
    const mainRole = rendered(main);
    const execRole = rendered(exec);
    expect(unionOfNeeds([...mainRole.needs, ...execRole.needs])).toEqual(wanted);
    expect(iam).toEqual(expectedPermissions(enabled));
    // exec never rides in the main role.
    expect(mainRole.needs.map((n) => n.resource)).not.toContain('pods/exec');
    // Bound to the function's account, as a User (how GKE names a Google service account).
    expect(mainRole.binding!.subjects).toEqual([{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: SA }]);
    expect(mainRole.binding!.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: mainRole.role!.metadata.name });
  });

  const verbsOf = (needs: RbacNeed[], resource: string) => needs.find((n) => n.apiGroup === '' && n.resource === resource)?.verbs ?? [];

  it('without delete-pod: no pods delete; without cordon-node: no nodes patch; without evict-pod: no eviction', () => {
    const noDelete = rendered(evaluated(SETS['without delete-pod']!).main).needs;
    expect(verbsOf(noDelete, 'pods')).not.toContain('delete');
    expect(verbsOf(noDelete, 'nodes')).toContain('patch');
    const noCordon = rendered(evaluated(SETS['without cordon-node']!).main).needs;
    expect(verbsOf(noCordon, 'nodes')).toEqual(['get']);
    expect(verbsOf(noCordon, 'pods')).toContain('delete');
    expect(verbsOf(rendered(evaluated(['label-pod']).main).needs, 'pods/eviction')).toEqual([]);
  });

  it('without capture-process-list: no pods/exec anywhere and no exec role; with it, exec lives in its own role', () => {
    const without = evaluated(SETS['the default set']!);
    expect(without.exec).toBe('');
    expect(without.iam).not.toContain('container.pods.exec');
    const withCapture = evaluated(['label-pod', 'capture-process-list']);
    const execRole = rendered(withCapture.exec);
    expect(execRole.role!.metadata.name).toBe('scc-responder-exec');
    expect(execRole.needs).toEqual(unionOfNeeds(ACTIONS['capture-process-list'].rbac));
    expect(execRole.binding!.subjects[0].name).toBe(SA);
    expect(rendered(withCapture.main).needs.map((n) => n.resource)).not.toContain('pods/exec');
  });

  it('no wildcard, no secrets, no escalation verbs in any rendered role', () => {
    const all = evaluated([...ACTION_ORDER]);
    for (const manifest of [all.main, all.exec]) {
      for (const rule of rendered(manifest).role!.rules) {
        for (const v of [...rule.apiGroups, ...rule.resources, ...rule.verbs]) expect(v).not.toContain('*');
        expect(rule.resources).not.toContain('secrets');
        expect(rule.nonResourceURLs).toBeUndefined();
        expect(rule.verbs).not.toEqual(expect.arrayContaining(['escalate']));
        expect(rule.verbs).not.toEqual(expect.arrayContaining(['bind']));
        expect(rule.verbs).not.toEqual(expect.arrayContaining(['impersonate']));
      }
    }
  });

  it('RBAC mode: just enough IAM to reach the API server, the ClusterRole grants the rest', () => {
    const rbacMode = evaluated([...ACTION_ORDER], false);
    expect(rbacMode.iam).toEqual(['container.clusters.get']);
    expect(rendered(rbacMode.main).needs.length).toBeGreaterThan(0);
  });

  it('renders a release role only for the subjects named for it, granting exactly what release declares', () => {
    const none = spawnSync('terraform', [`-chdir=${PERMISSIONS_MODULE}`, 'console', '-var', 'enabled_actions=[]', '-var', `service_account_email=${SA}`], {
      env,
      input: 'jsonencode(local.release_role_manifest)\n',
      encoding: 'utf8',
    });
    expect(JSON.parse(JSON.parse(none.stdout.trim()))).toBe('');
    const subjects = '[{kind="Group",name="sre@example.com"},{kind="User",name="oncall@example.com"}]';
    const result = spawnSync(
      'terraform',
      [`-chdir=${PERMISSIONS_MODULE}`, 'console', '-var', 'enabled_actions=[]', '-var', `service_account_email=${SA}`, '-var', `release_subjects=${subjects}`],
      { env, input: 'jsonencode(local.release_role_manifest)\n', encoding: 'utf8' },
    );
    expect(result.status).toBe(0);
    const release = rendered(JSON.parse(JSON.parse(result.stdout.trim())) as string);
    expect(release.needs).toEqual(unionOfNeeds(RELEASE_RBAC));
    expect(release.role!.metadata.name).toBe('scc-responder-release');
    expect(release.binding!.subjects).toEqual([
      { apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: 'sre@example.com' },
      { apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: 'oncall@example.com' },
    ]);
  });

  it('rejects an unknown or repeated action, or a subject that is not a service account, at plan time', () => {
    const unknown = evaluate({ enabled_actions: ['label-pod', 'rm-rf'] });
    expect(unknown.ok).toBe(false);
    expect(!unknown.ok && unknown.output).toContain('each entry must be one of');
    const twice = evaluate({ enabled_actions: ['label-pod', 'label-pod'] });
    expect(twice.ok).toBe(false);
    expect(!twice.ok && twice.output).toContain('listed twice');
    const result = spawnSync(
      'terraform',
      [`-chdir=${PERMISSIONS_MODULE}`, 'console', '-var', 'enabled_actions=[]', '-var', 'service_account_email=scc-responder@example.com'],
      { env, input: 'local.iam_permissions\n', encoding: 'utf8' },
    );
    // console reports a failed validation, and still evaluates what does not depend on the variable.
    expect(`${result.stdout}${result.stderr}`).toContain("service_account_email must be the function's service account email");
  });
});

// ---------------------------------------------------------------- the first apply on a fresh project

/** Which API each resource type needs in the host project (Terraform bills every call there). */
const API_FOR_TYPE: Record<string, string[]> = {
  google_logging_metric: ['logging.googleapis.com'],
  google_monitoring_alert_policy: ['monitoring.googleapis.com'],
  google_monitoring_dashboard: ['monitoring.googleapis.com'],
  google_project_service: ['serviceusage.googleapis.com'],
  google_project_service_identity: ['serviceusage.googleapis.com'],
  google_service_account: ['iam.googleapis.com'],
  google_service_account_iam_member: ['iam.googleapis.com'],
  google_project_iam_custom_role: ['iam.googleapis.com'],
  google_project_iam_member: ['cloudresourcemanager.googleapis.com'],
  google_organization_iam_member: ['cloudresourcemanager.googleapis.com'],
  google_pubsub_topic: ['pubsub.googleapis.com'],
  google_pubsub_subscription: ['pubsub.googleapis.com'],
  google_pubsub_topic_iam_member: ['pubsub.googleapis.com'],
  google_pubsub_topic_iam_binding: ['pubsub.googleapis.com'],
  google_pubsub_subscription_iam_member: ['pubsub.googleapis.com'],
  google_storage_bucket: ['storage.googleapis.com'],
  google_storage_bucket_object: ['storage.googleapis.com'],
  google_storage_bucket_iam_member: ['storage.googleapis.com'],
  google_firestore_database: ['firestore.googleapis.com'],
  google_firestore_field: ['firestore.googleapis.com'],
  google_cloudfunctions2_function: ['cloudfunctions.googleapis.com', 'cloudbuild.googleapis.com', 'run.googleapis.com', 'artifactregistry.googleapis.com'],
  google_cloud_run_v2_service_iam_member: ['run.googleapis.com'],
  google_secret_manager_secret_iam_member: ['secretmanager.googleapis.com'],
  google_scc_v2_organization_notification_config: ['securitycenter.googleapis.com'],
  google_scc_v2_project_notification_config: ['securitycenter.googleapis.com'],
  google_artifact_registry_repository: ['artifactregistry.googleapis.com'],
  google_artifact_registry_repository_iam_member: ['artifactregistry.googleapis.com'],
  time_sleep: [],
};
const BOOTSTRAP_APIS = ['serviceusage.googleapis.com', 'cloudresourcemanager.googleapis.com'];
const HOST_APIS = 'google_project_service.host';

describe('the first apply on a fresh project', () => {
  let hostApis: { push: string[]; eventarc: string[] };
  beforeAll(() => {
    const expr = expression(only(stack, 'google_project_service', 'host').for_each);
    hostApis = {
      push: evaluateHcl({ apis: expr }, { delivery: 'push', essential_contacts: 'true' }).apis as string[],
      eventarc: evaluateHcl({ apis: expr }, { delivery: 'eventarc', essential_contacts: 'false' }).apis as string[],
    };
  });

  it('no bucket has both a retention policy and Object Versioning (Cloud Storage refuses the pair)', () => {
    const buckets = Object.entries(stack.resource.google_storage_bucket ?? {});
    expect(buckets.length).toBeGreaterThan(0);
    const both = buckets.filter(([, [b]]) => b!.retention_policy && (b!.versioning ?? []).some((v: Block) => v.enabled !== false));
    expect(both.map(([name]) => name)).toEqual([]);
    // The evidence bucket keeps its retention policy: that is what makes it write-once.
    expect(only(stack, 'google_storage_bucket', 'evidence').retention_policy).toBeDefined();
  });

  it('enables, in the host project, every API a resource of the stack needs (Eventarc only for that delivery)', () => {
    for (const [address] of resources(stack)) {
      const type = address.split('.')[0]!;
      const apis = API_FOR_TYPE[type];
      if (!apis) throw new Error(`${type}: which API does it need? Add it to API_FOR_TYPE`);
      expect({ address, missing: apis.filter((api) => !hostApis.push.includes(api)) }).toEqual({ address, missing: [] });
    }
    expect(hostApis.push).not.toContain('eventarc.googleapis.com');
    expect(hostApis.eventarc).toContain('eventarc.googleapis.com');
    // The Essential Contacts call is billed to the function account's project (client-based: it
    // also serves organizations and folders), so the API is on there, and only when it is used.
    expect(hostApis.push).toContain('essentialcontacts.googleapis.com');
    expect(hostApis.eventarc).not.toContain('essentialcontacts.googleapis.com');
    // Listed too, though deploy.sh enables them first (test/deploy-script.test.ts).
    for (const api of BOOTSTRAP_APIS) expect(hostApis.push).toContain(api);
    expect(only(stack, 'google_project_service', 'host').disable_on_destroy).toBe(false);
    // A data source is read at plan time, before any API could be enabled.
    expect(stack.data).toEqual({});
  });

  it('orders every resource after the API enablement (depends_on, or a reference to something that is)', () => {
    const graph = new Map<string, Set<string>>();
    const refsIn = (value: unknown): Set<string> => {
      const text = JSON.stringify(value);
      const out = new Set<string>();
      for (const m of text.matchAll(/\b((?:google|time)_[a-z0-9_]+)\.([a-z0-9_]+)\b/g)) if (stack.resource[m[1]!]?.[m[2]!]) out.add(`${m[1]}.${m[2]}`);
      for (const m of text.matchAll(/\blocal\.([a-z0-9_]+)/g)) out.add(`local.${m[1]}`);
      for (const m of text.matchAll(/\bmodule\.([a-z0-9_]+)/g)) out.add(`module.${m[1]}`);
      return out;
    };
    for (const [address, block] of resources(stack)) graph.set(address, refsIn(block));
    for (const [name, value] of Object.entries(stack.locals)) graph.set(`local.${name}`, refsIn(value));
    for (const [name, [mod]] of Object.entries(stack.module)) graph.set(`module.${name}`, refsIn(mod));
    const reachesHost = (start: string): boolean => {
      const seen = new Set<string>();
      const queue = [...(graph.get(start) ?? [])];
      while (queue.length > 0) {
        const next = queue.shift()!;
        if (next === HOST_APIS) return true;
        if (seen.has(next)) continue;
        seen.add(next);
        queue.push(...(graph.get(next) ?? []));
      }
      return false;
    };
    const unordered = resources(stack)
      .map(([address]) => address)
      .filter((address) => address !== HOST_APIS && !reachesHost(address));
    expect(unordered).toEqual([]);
  });

  it('every var., local. and resource reference resolves (terraform validate cannot run here)', () => {
    const code = stack.text.replace(/#.*$/gm, '');
    const declared = {
      var: new Set(Object.keys(stack.variable)),
      local: new Set(Object.keys(stack.locals)),
      module: new Set(Object.keys(stack.module)),
    };
    const unknown: string[] = [];
    for (const m of code.matchAll(/\b(var|local|module)\.([a-z0-9_]+)/g)) if (!declared[m[1] as keyof typeof declared].has(m[2]!)) unknown.push(m[0]);
    for (const m of code.matchAll(/(?<![\w"./-])((?:google|time)_[a-z0-9_]+)\.([a-z0-9_]+)\b/g)) {
      if (!stack.resource[m[1]!]?.[m[2]!]) unknown.push(m[0]);
    }
    expect([...new Set(unknown)]).toEqual([]);
    // The module's outputs the root module reads exist.
    const moduleText = readFileSync(join(PERMISSIONS_MODULE, 'main.tf'), 'utf8');
    for (const m of code.matchAll(/module\.cluster_permissions\.([a-z0-9_]+)/g)) expect(moduleText).toContain(`output "${m[1]}"`);
  });

  it("the logs command filters on the function's short service name (as Cloud Run log entries carry it)", () => {
    const value = stack.output.logs_command![0]!.value as string;
    expect(value).toContain('resource.labels.service_name="${local.function_service_name}"');
    expect(value).not.toContain('service_config[0].service}');
    const expr = expression(stack.locals.function_service_name).replace('google_cloudfunctions2_function.responder.service_config[0].service', 'var.service');
    const { name } = evaluateHcl({ name: expr }, { service: 'projects/my-secops-project/locations/europe-west1/services/scc-responder-fn' });
    expect(name).toBe('scc-responder-fn');
    // The docs' copy of the filter names the same service.
    const readme = DOC_FILES.map((f) => readFileSync(f, 'utf8')).join('\n');
    const names = [...readme.matchAll(/resource\.labels\.service_name="([^"]+)"/g)].map((m) => m[1]);
    expect(names.length).toBeGreaterThan(0);
    expect(new Set(names)).toEqual(new Set([`${stack.variable.name_prefix![0]!.default}-fn`]));
    expect(stack.locals.function_name).toBe('${var.name_prefix}-fn');
  });

  it('every service account named in docs and comments is one the stack creates (or a Google service agent)', () => {
    const prefix = stack.variable.name_prefix![0]!.default as string;
    const created = Object.values(stack.resource.google_service_account ?? {}).map(([sa]) =>
      String(sa!.account_id).replace('${local.function_name}', String(stack.locals.function_name)),
    );
    expect(created.sort()).toEqual(['${var.name_prefix}-build', '${var.name_prefix}-fn', '${var.name_prefix}-slack', '${var.name_prefix}-trigger']);
    // How docs may spell the prefix: its default, the variable, or a placeholder.
    const allowed = new Set(created.flatMap((id) => ['scc-responder', '${name_prefix}', '$${name_prefix}', 'NAME_PREFIX'].map((p) => id.replace('${var.name_prefix}', () => p))));
    expect(prefix).toBe('scc-responder');
    const files = [
      ...DOC_FILES,
      join(ROOT, 'deploy.sh'),
      join(TF_DIR, 'terraform.tfvars.example'),
      ...readdirSync(TF_DIR).filter((f) => f.endsWith('.tf')).map((f) => join(TF_DIR, f)),
      join(PERMISSIONS_MODULE, 'main.tf'),
    ];
    const strays: string[] = [];
    let seen = 0;
    for (const file of files) {
      for (const m of readFileSync(file, 'utf8').matchAll(/([A-Za-z0-9_.${}-]+)@([A-Za-z0-9_.${}-]+)\.iam\.gserviceaccount\.com/g)) {
        seen += 1;
        const local = m[1]!;
        if (/^service-/.test(local) && m[2]!.startsWith('gcp-sa-')) continue; // Google service agents
        if (!allowed.has(local)) strays.push(`${file.slice(ROOT.length + 1)}: ${m[0]}`);
      }
    }
    expect(strays).toEqual([]);
    expect(seen).toBeGreaterThan(0);
  });

  it('the provider lock file: committed once generated (not ignored), and the deploy guide says how to generate it', () => {
    // Providers cannot be downloaded on this machine, so .terraform.lock.hcl cannot be
    // generated here: this checks that nothing stops it being committed and that the
    // step is documented, and, once it exists, that it pins every required provider.
    const gitignore = readFileSync(join(ROOT, '.gitignore'), 'utf8').split('\n').map((l) => l.trim());
    expect(gitignore.filter((l) => !l.startsWith('#') && /lock\.hcl|^terraform\/\*$|^\*\.hcl$/.test(l))).toEqual([]);
    const readme = readFileSync(join(ROOT, 'docs', 'deploy.md'), 'utf8');
    const deploy = readme.slice(readme.indexOf('<!-- section:deploy -->'), readme.indexOf('<!-- /section:deploy -->'));
    expect(deploy).toContain('terraform -chdir=terraform providers lock');
    expect(deploy).toContain('.terraform.lock.hcl');
    for (const platform of ['linux_amd64', 'darwin_arm64']) expect(deploy).toContain(`-platform=${platform}`);
    const required = [...stack.text.matchAll(/source\s*=\s*"(hashicorp\/[a-z-]+)"/g)].map((m) => m[1]!);
    expect(required.sort()).toEqual(['hashicorp/google', 'hashicorp/google-beta', 'hashicorp/time']);
    const lock = join(TF_DIR, '.terraform.lock.hcl');
    if (existsSync(lock)) {
      const text = readFileSync(lock, 'utf8');
      for (const source of required) expect(text).toContain(`provider "registry.terraform.io/${source}"`);
    }
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
    for (const name of [
      'findings_topic',
      'ops_topic',
      'dead_letter_topic',
      'function_url',
      'function_service_account',
      'trigger_service_account',
      'build_service_account',
      'test_finding_command',
      'logs_command',
      'cluster_role_manifest',
      'exec_role_manifest',
      'exec_role_name',
      'release_role_manifest',
      'evidence_bucket',
    ]) {
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

  it('the evidence bucket, when created, has uniform access and a retention policy (unlocked, no versioning)', () => {
    const bucket = only(stack, 'google_storage_bucket', 'evidence');
    expect(bucket.uniform_bucket_level_access).toBe(true);
    expect(bucket.public_access_prevention).toBe('enforced');
    expect(bucket.retention_policy[0].retention_period).toBe('${var.evidence_retention_days * 86400}');
    // A locked policy could never be shortened; locking is the operator's decision.
    expect(bucket.retention_policy[0].is_locked).toBeUndefined();
    expect(bucket.versioning).toBeUndefined();
  });
});
