// terraform/approval.tf, checked offline like the rest of the stack
// (test/terraform.test.ts): formatted, parsed with @cdktf/hcl2json and asserted
// on, its pure expressions evaluated with `terraform console`. What it must
// hold: nothing without slack_approval; the endpoint public but with a service
// account that can do nothing but read the signing secret and publish to the
// approvals topic; the consumer as the responder, fed like the responder.
import { beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from '@cdktf/hcl2json';

const ROOT = join(import.meta.dirname, '..');
const TF_DIR = join(ROOT, 'terraform');
const FILE = join(TF_DIR, 'approval.tf');

type Block = Record<string, any>;
let doc: Record<string, any>;
let text: string;
let otherText: string;

beforeAll(async () => {
  text = readFileSync(FILE, 'utf8');
  doc = await parse('approval.tf', text);
  otherText = readdirSync(TF_DIR)
    .filter((f) => f.endsWith('.tf') && f !== 'approval.tf')
    .map((f) => readFileSync(join(TF_DIR, f), 'utf8'))
    .join('\n');
});

const resource = (type: string, name: string): Block => {
  const blocks = doc.resource?.[type]?.[name];
  if (!blocks || blocks.length !== 1) throw new Error(`expected one ${type}.${name} in approval.tf`);
  return blocks[0];
};
const allResources = (): [string, Block][] =>
  Object.entries<Record<string, Block[]>>(doc.resource ?? {}).flatMap(([type, byName]) => Object.entries(byName).map(([name, [b]]) => [`${type}.${name}`, b!] as [string, Block]));

function evaluate(exprs: Record<string, string>, vars: Record<string, string>): Record<string, unknown> {
  const dir = mkdtempSync(join(tmpdir(), 'scc-tf-approval-'));
  try {
    const cli = join(dir, 'terraformrc');
    writeFileSync(cli, '');
    const decls = Object.keys(vars).map((name) => `variable "${name}" {}\n`).join('');
    writeFileSync(join(dir, 'main.tf'), `${decls}locals {\n${Object.entries(exprs).map(([k, v]) => `  ${k} = ${v}\n`).join('')}}\n`);
    const result = spawnSync('terraform', [`-chdir=${dir}`, 'console', ...Object.entries(vars).flatMap(([k, v]) => ['-var', `${k}=${v}`])], {
      env: { ...process.env, TF_DATA_DIR: join(dir, 'data'), TF_CLI_CONFIG_FILE: cli, TF_IN_AUTOMATION: '1', NO_COLOR: '1' },
      input: `jsonencode({${Object.keys(exprs).map((k) => `${k} = local.${k}`).join(', ')}})\n`,
      encoding: 'utf8',
    });
    if (result.status !== 0) throw new Error(`terraform console failed: ${result.stdout}${result.stderr}`);
    return JSON.parse(JSON.parse(result.stdout.trim())) as Record<string, unknown>;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const unwrap = (v: unknown) => String(v).replace(/^\$\{/, '').replace(/\}$/, '');

describe('terraform/approval.tf', () => {
  it('is formatted (terraform fmt -check)', () => {
    const result = spawnSync('terraform', ['fmt', '-check', '-diff', FILE], { cwd: ROOT, encoding: 'utf8' });
    expect(result.stdout).toBe('');
    expect(result.status).toBe(0);
  });

  it('creates nothing unless slack_approval is true (off by default)', () => {
    expect(doc.variable.slack_approval[0]).toMatchObject({ type: '${bool}', default: false });
    expect(doc.locals[0].approval_count).toBe('${var.slack_approval ? 1 : 0}');
    const ungated = allResources().filter(([, b]) => !/^\$\{(local\.approval_count|var\.slack_approval && .*\? 1 : 0)\}$/.test(String(b.count)));
    expect(ungated.map(([a]) => a)).toEqual([]);
    expect(evaluate({ on: 'var.slack_approval ? 1 : 0' }, { slack_approval: 'false' }).on).toBe(0);
    for (const [, [v]] of Object.entries<Block[]>(doc.variable)) expect(v).toMatchObject({ type: expect.any(String), description: expect.any(String) });
    // Its variables are declared here, not elsewhere in the stack.
    for (const name of Object.keys(doc.variable)) expect(otherText).not.toContain(`variable "${name}"`);
  });

  it('the endpoint: entry point sccResponderSlack, public ingress, its own small identity, the signing secret mounted, the env the code reads', () => {
    const fn = resource('google_cloudfunctions2_function', 'slack');
    expect(fn.build_config[0]).toMatchObject({ runtime: 'nodejs22', entry_point: 'sccResponderSlack' });
    const svc = fn.service_config[0];
    expect(svc).toMatchObject({ service_account_email: '${google_service_account.slack[0].email}', ingress_settings: 'ALLOW_ALL', timeout_seconds: 10 });
    expect(svc.secret_environment_variables).toEqual([{ key: 'SLACK_SIGNING_SECRET', project_id: '${var.project_id}', secret: '${var.slack_signing_secret}', version: '${var.webhook_secret_version}' }]);
    // Every name set is one src/functions/slack-endpoint.ts reads (its env schema), and the required ones are set.
    const source = readFileSync(join(ROOT, 'src/functions/slack-endpoint.ts'), 'utf8');
    const schema = source.slice(source.indexOf('interactivityEnvSchema = z.object({'), source.indexOf('export type InteractivityEnv'));
    const read = new Set([...schema.matchAll(/^\s{2}([A-Z][A-Z0-9_]+):/gm)].map((m) => m[1]!));
    const set = [...Object.keys(svc.environment_variables[0] ?? svc.environment_variables), 'SLACK_SIGNING_SECRET'];
    expect(set.filter((name) => !read.has(name))).toEqual([]);
    for (const required of ['SLACK_SIGNING_SECRET', 'APPROVAL_TOPIC', 'GOOGLE_CLOUD_PROJECT']) expect(set).toContain(required);
    expect(source).toContain("export const INTERACTIVITY_FUNCTION_NAME = 'sccResponderSlack';");
    // The precondition stops a plan that has no signing secret.
    expect(JSON.stringify(fn.lifecycle)).toContain('var.slack_signing_secret != \\"\\"');
  });

  it('lets anyone invoke the endpoint service, and only that service (the signature is the authentication)', () => {
    const invoker = resource('google_cloud_run_v2_service_iam_member', 'anyone_invokes_slack_endpoint');
    expect(invoker).toMatchObject({ role: 'roles/run.invoker', member: 'allUsers', name: '${google_cloudfunctions2_function.slack[0].service_config[0].service}' });
    expect((text + otherText).match(/"allUsers"|"allAuthenticatedUsers"/g)).toEqual(['"allUsers"']);
  });

  it("the endpoint's identity may read the signing secret and publish to the approvals topic, nothing else anywhere", () => {
    const grants = allResources().filter(([, b]) => String(b.member ?? '').includes('google_service_account.slack'));
    expect(Object.fromEntries(grants.map(([a, b]) => [a, b.role]))).toEqual({
      'google_secret_manager_secret_iam_member.slack_reads_signing_secret': 'roles/secretmanager.secretAccessor',
      'google_pubsub_topic_iam_member.slack_publishes_approvals': 'roles/pubsub.publisher',
    });
    expect(resource('google_secret_manager_secret_iam_member', 'slack_reads_signing_secret').secret_id).toBe('${var.slack_signing_secret}');
    expect(resource('google_pubsub_topic_iam_member', 'slack_publishes_approvals').topic).toBe('${google_pubsub_topic.approvals[0].name}');
    expect(otherText).not.toContain('google_service_account.slack');
    // Every grant says why, as in the rest of the stack.
    const roleLines = text.split('\n').filter((l) => /^\s*role\s*=/.test(l));
    expect(roleLines.length).toBe(allResources().filter(([a]) => /_iam_member\./.test(a)).length);
    expect(roleLines.filter((l) => !/#\s*\S/.test(l))).toEqual([]);
  });

  it("the consumer: entry point sccResponderApproval, the responder's identity, settings and secrets (plus the bot token), internal only", () => {
    const fn = resource('google_cloudfunctions2_function', 'approval');
    expect(fn.build_config[0]).toMatchObject({ runtime: 'nodejs22', entry_point: 'sccResponderApproval' });
    const svc = fn.service_config[0];
    expect(svc).toMatchObject({
      service_account_email: '${google_service_account.function.email}',
      ingress_settings: 'ALLOW_INTERNAL_ONLY',
      environment_variables: '${google_cloudfunctions2_function.responder.service_config[0].environment_variables}',
      timeout_seconds: '${var.function_timeout_seconds}',
    });
    expect(svc.dynamic.secret_environment_variables[0].for_each).toBe('${local.approval_consumer_secrets}');
    // The responder's secrets stand in literally (the untyped console variables are strings).
    const secrets = unwrap(doc.locals[0].approval_consumer_secrets).replace('local.webhook_secrets', '{ SLACK_WEBHOOK_URL = "slack-url" }').replace('var.slack_approval', 'true');
    expect(evaluate({ s: secrets }, { slack_bot_token_secret: 'slack-bot' }).s).toEqual({ SLACK_WEBHOOK_URL: 'slack-url', SLACK_BOT_TOKEN: 'slack-bot' });
    expect(evaluate({ s: secrets }, { slack_bot_token_secret: '' }).s).toEqual({ SLACK_WEBHOOK_URL: 'slack-url' });
    expect(resource('google_secret_manager_secret_iam_member', 'function_reads_bot_token')).toMatchObject({ secret_id: '${var.slack_bot_token_secret}', role: 'roles/secretmanager.secretAccessor' });
    expect(readFileSync(join(ROOT, 'src/functions/approval-consumer.ts'), 'utf8')).toContain("export const APPROVAL_FUNCTION_NAME = 'sccResponderApproval';");
  });

  it('feeds the consumer like the responder: OIDC push to a path naming the topic, backoff, then its own dead-letter topic', () => {
    const sub = resource('google_pubsub_subscription', 'approvals_push');
    expect(sub.topic).toBe('${google_pubsub_topic.approvals[0].id}');
    expect(sub.push_config[0].push_endpoint).toBe('${google_cloudfunctions2_function.approval[0].service_config[0].uri}/projects/${var.project_id}/topics/${google_pubsub_topic.approvals[0].name}');
    expect(sub.push_config[0].oidc_token[0]).toEqual({
      service_account_email: '${google_service_account.trigger.email}',
      audience: '${google_cloudfunctions2_function.approval[0].service_config[0].uri}',
    });
    expect(sub.retry_policy[0]).toEqual({ minimum_backoff: '${var.retry_minimum_backoff_seconds}s', maximum_backoff: '${var.retry_maximum_backoff_seconds}s' });
    expect(sub.dead_letter_policy[0]).toEqual({ dead_letter_topic: '${google_pubsub_topic.approvals_dead_letter[0].id}', max_delivery_attempts: '${var.max_delivery_attempts}' });
    expect(resource('google_cloud_run_v2_service_iam_member', 'trigger_invokes_approval')).toMatchObject({ role: 'roles/run.invoker', member: 'serviceAccount:${google_service_account.trigger.email}' });
    expect(resource('google_pubsub_topic_iam_member', 'pubsub_agent_dead_letters_approvals').topic).toBe('${google_pubsub_topic.approvals_dead_letter[0].name}');
    expect(resource('google_pubsub_subscription_iam_member', 'pubsub_agent_acks_dead_lettered_approvals').subscription).toBe('${google_pubsub_subscription.approvals_push[0].name}');
    expect(resource('google_pubsub_subscription', 'approvals_dead_letter_hold').topic).toBe('${google_pubsub_topic.approvals_dead_letter[0].id}');
  });

  it('outputs the interactivity URL to paste into the Slack app, null when off', () => {
    expect(doc.output.slack_interactivity_url[0].value).toBe('${var.slack_approval ? google_cloudfunctions2_function.slack[0].service_config[0].uri : null}');
    expect(doc.output.approvals_topic[0].value).toBe('${var.slack_approval ? google_pubsub_topic.approvals[0].id : null}');
  });

  it('every var., local. and resource it names exists in the stack', async () => {
    const declared = new Set<string>();
    const locals = new Set<string>();
    const resources = new Set<string>();
    for (const file of readdirSync(TF_DIR).filter((f) => f.endsWith('.tf'))) {
      const d = await parse(file, readFileSync(join(TF_DIR, file), 'utf8'));
      for (const name of Object.keys(d.variable ?? {})) declared.add(name);
      for (const l of d.locals ?? []) for (const name of Object.keys(l)) locals.add(name);
      for (const [type, byName] of Object.entries<Record<string, unknown>>(d.resource ?? {})) for (const name of Object.keys(byName)) resources.add(`${type}.${name}`);
    }
    const code = text.replace(/#.*$/gm, '');
    const missing: string[] = [];
    for (const m of code.matchAll(/\bvar\.([a-z0-9_]+)/g)) if (!declared.has(m[1]!)) missing.push(m[0]);
    for (const m of code.matchAll(/\blocal\.([a-z0-9_]+)/g)) if (!locals.has(m[1]!)) missing.push(m[0]);
    for (const m of code.matchAll(/(?<![\w"./-])((?:google|time)_[a-z0-9_]+)\.([a-z0-9_]+)\b/g)) if (!resources.has(`${m[1]}.${m[2]}`)) missing.push(m[0]);
    expect([...new Set(missing)]).toEqual([]);
  });
});
