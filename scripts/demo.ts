// `npm run demo`: what scc-responder does, on this machine alone. It starts the
// Pub/Sub and Firestore emulators (gcloud SDK), a sandbox cluster (the strict
// Kubernetes API fake the tests use) seeded with the finding's pod, node and
// Deployment, a fake Cloud Logging and a loopback Slack webhook; serves the
// function with the functions framework; publishes an Unexpected Child Shell
// notification the way SCC does; and shows the decision, every action and its
// outcome, the evidence queries and the summary that reached the ops topic —
// first in dry-run, then enforced. Everything it starts is stopped on exit,
// on error and on Ctrl-C.
//
//   node scripts/demo.ts [--finding FILE] [--policy FILE] [--dry-run-only | --enforce-only] [--verbose]
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import YAML from 'yaml';
import { decodeInput, DecodeError, type DecodedInput } from '../src/core/finding/envelope.ts';
import { plan as makePlan, printablePlan } from '../src/core/plan/plan.ts';
import { parsePolicy, PolicyError, validatePolicy, type Policy } from '../src/core/policy/policy.ts';
import type { Summary } from '../src/core/summary/document.ts';
import { selectorMatches, startFakeKubeApi, type FakeKubeApi } from '../test/fakes/kube-api-server.ts';
import { startFakeLogging, type FakeLogging } from '../test/fakes/logging-grpc-server.ts';
import {
  EmulatorUnavailableError,
  freePort,
  isListening,
  startFirestoreEmulator,
  startPubsubEmulator,
  type RunningEmulator,
} from '../test/support/emulators.ts';
import { pubsubRest, type PulledMessage } from '../test/support/pubsub-rest.ts';
import { startWebhookRecorder, type WebhookRecorder } from '../test/support/webhook-recorder.ts';
import { startFakeEssentialContacts, type FakeEssentialContacts } from '../test/fakes/essential-contacts-server.ts';
import { startFakeScc, type FakeScc } from '../test/fakes/scc-grpc-server.ts';
import { createOut, inert, seconds, shorten, type Out } from './demo/output.ts';
import { demoPolicy, sandboxedPolicy, sandboxFor, sandboxLogs } from './demo/sandbox.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const DEFAULT_FINDING = join(ROOT, 'test/fixtures/notification-v1.json');
const HOST_PROJECT = 'scc-demo-host';
const FINDINGS_TOPIC = 'scc-findings';
const OPS_TOPIC = 'scc-ops';

const USAGE = `usage: npm run demo -- [options]
       node scripts/demo.ts [options]

Shows what scc-responder does with an Unexpected Child Shell finding, on this
machine only: Pub/Sub + Firestore emulators (gcloud SDK, needs Java), a sandbox
cluster on 127.0.0.1 seeded with the finding's pod and node, the function served
locally. Runs a dry-run pass, then an enforced pass. Stops everything it started.

options:
  --finding FILE    replay your own finding (any shape: SCC NotificationMessage, the
                    console's JSON, a bare finding, a Pub/Sub message or CloudEvent);
                    the sandbox is seeded with its namespace, pod and node
                    (default: test/fixtures/notification-v1.json)
  --policy FILE     your own policy YAML; its clusters: map is replaced by the sandbox
                    mapping, so no pass can reach a real cluster (default: one rule
                    that labels, isolates, cordons and deletes the finding's pod)
  --dry-run-only    only the dry-run pass
  --enforce-only    only the enforced pass
  --verbose         also print the function's own log lines (LOG_LEVEL=DEBUG)
  -h, --help        this text`;

class UsageError extends Error {}
class DemoError extends Error {}

interface Flags {
  finding: string;
  findingLabel: string;
  policy: string | undefined;
  passes: ('dry-run' | 'enforced')[];
  verbose: boolean;
}

function parseFlags(argv: string[]): Flags | 'help' {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        finding: { type: 'string' },
        policy: { type: 'string' },
        'dry-run-only': { type: 'boolean' },
        'enforce-only': { type: 'boolean' },
        verbose: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    throw new UsageError((error as Error).message.split('\n')[0]!);
  }
  if (values.help) return 'help';
  if (values['dry-run-only'] && values['enforce-only']) throw new UsageError('choose --dry-run-only or --enforce-only, not both');
  const finding = values.finding ?? DEFAULT_FINDING;
  return {
    finding,
    findingLabel: values.finding ?? relative(process.cwd(), DEFAULT_FINDING),
    policy: values.policy,
    passes: values['dry-run-only'] ? ['dry-run'] : values['enforce-only'] ? ['enforced'] : ['dry-run', 'enforced'],
    verbose: values.verbose === true,
  };
}

function readFileOrUsage(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read ${what} ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
}

/** The NotificationMessage JSON SCC would publish, whatever shape the file holds. */
function notificationFrom(json: unknown, decoded: DecodedInput): Record<string, any> {
  const unwrap = (message: any) => JSON.parse(Buffer.from(String(message.data).replace(/\s+/g, ''), 'base64').toString('utf8'));
  const j = json as Record<string, any>;
  switch (decoded.shape) {
    case 'cloudevent':
      return unwrap(j.data.message);
    case 'pubsub-push':
      return unwrap(j.message);
    case 'pubsub-message':
      return unwrap(j);
    case 'finding':
      return { finding: j };
    default:
      return j;
  }
}

/** A fresh occurrence: SCC re-raises a finding with a new eventTime when the behaviour recurs. */
function restamped(notification: Record<string, any>, eventTime: Date): Record<string, any> {
  const copy = structuredClone(notification);
  copy.finding.eventTime = eventTime.toISOString();
  if (copy.finding.createTime !== undefined) copy.finding.createTime = new Date(eventTime.getTime() + 2000).toISOString();
  return copy;
}

function onPath(command: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => {
    if (!dir) return false;
    return spawnSync('test', ['-x', join(dir, command)]).status === 0;
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await sleep(150);
  }
  throw new DemoError(`timed out after ${seconds(timeoutMs)} waiting for ${what}`);
}

// ---------------------------------------------------------------- clean-up

/** Everything the demo started, stopped in reverse order; also on Ctrl-C and on error. */
class Cleanup {
  readonly #steps: { what: string; run: () => Promise<void> | void }[] = [];
  readonly #sync: (() => void)[] = [];
  readonly ports: number[] = [];
  #done: Promise<void> | undefined;

  add(what: string, run: () => Promise<void> | void, lastResort?: () => void): void {
    this.#steps.push({ what, run });
    if (lastResort) this.#sync.push(lastResort);
  }

  /** Synchronous kill for process 'exit' (a second Ctrl-C): nothing may outlive the demo. */
  lastResort(): void {
    for (const kill of this.#sync.reverse()) {
      try {
        kill();
      } catch {
        // already gone
      }
    }
  }

  run(): Promise<void> {
    this.#done ??= (async () => {
      for (const step of this.#steps.reverse()) {
        try {
          await Promise.race([step.run(), sleep(10_000)]);
        } catch {
          // keep stopping the rest
        }
      }
      // Stopped in order: a late kill by pid could hit a reused pid.
      this.#sync.length = 0;
    })();
    return this.#done;
  }
}

// ---------------------------------------------------------------- the function server

interface FunctionServer {
  port: number;
  lines: Record<string, any>[];
  stop(): Promise<void>;
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // gone
  }
}

/** Which of the package's functions to serve: src/index.ts loads the one FUNCTION_TARGET names, as in Cloud Run. */
type Entry = { target: 'sccResponder' | 'sccResponderSlack' | 'sccResponderApproval'; signatureType: 'cloudevent' | 'http' };
const RESPONDER: Entry = { target: 'sccResponder', signatureType: 'cloudevent' };

async function startFunction(env: Record<string, string>, cleanup: Cleanup, onLine: (line: Record<string, any>) => void, entry: Entry = RESPONDER): Promise<FunctionServer> {
  const port = await freePort();
  cleanup.ports.push(port);
  // The framework's own bin, not an npx wrapper (killing a wrapper leaves the server running),
  // in its own process group so one kill stops it all. It has no host option: it listens on
  // every interface. It holds no credentials (HOME is a fresh directory, no metadata server)
  // and its policy reaches only the sandbox cluster.
  const child = spawn(
    process.execPath,
    [
      join(ROOT, 'node_modules/@google-cloud/functions-framework/build/src/main.js'),
      `--target=${entry.target}`,
      `--signature-type=${entry.signatureType}`,
      `--source=${join(ROOT, 'src/index.ts')}`,
      `--port=${port}`,
    ],
    { cwd: ROOT, detached: true, stdio: ['ignore', 'pipe', 'pipe'], env: { ...env, FUNCTION_TARGET: entry.target } },
  );
  const lines: Record<string, any>[] = [];
  let serving = false;
  let exited: string | null = null;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      killGroup(child, 'SIGTERM');
      const deadline = Date.now() + 3000;
      while (Date.now() < deadline && child.exitCode === null && child.signalCode === null) await sleep(50);
    }
    killGroup(child, 'SIGKILL');
  };
  cleanup.add('function server', stop, () => killGroup(child, 'SIGKILL'));
  const take = (text: string, stream: 'stdout' | 'stderr') => {
    for (const raw of text.split('\n')) {
      if (raw.trim() === '') continue;
      if (raw.startsWith('Serving function')) serving = true;
      let line: Record<string, any>;
      try {
        line = JSON.parse(raw);
        if (typeof line !== 'object' || line === null) line = { [stream]: raw };
      } catch {
        line = { [stream]: raw };
      }
      lines.push(line);
      onLine(line);
    }
  };
  let buffers = { stdout: '', stderr: '' };
  for (const stream of ['stdout', 'stderr'] as const) {
    child[stream]!.on('data', (chunk: Buffer) => {
      const text = buffers[stream] + chunk.toString('utf8');
      const cut = text.lastIndexOf('\n');
      buffers = { ...buffers, [stream]: cut >= 0 ? text.slice(cut + 1) : text };
      if (cut >= 0) take(text.slice(0, cut), stream);
    });
  }
  child.once('error', (error) => void (exited = error.message));
  child.once('exit', (code, signal) => void (exited ??= `exited (code ${code}, signal ${signal})`));
  await until(
    'the function to serve',
    () => {
      if (serving) return true;
      if (exited !== null) {
        const tail = lines.slice(-8).map((l) => inert(l.stderr ?? l.stdout ?? l.message ?? JSON.stringify(l), 300));
        throw new DemoError(`the function server ${exited}:\n    ${tail.join('\n    ')}`);
      }
      return undefined;
    },
    30_000,
  );
  return { port, lines, stop };
}

// ---------------------------------------------------------------- rendering

const STATUS_COLOR: Record<string, (o: Out, s: string) => string> = {
  done: (o, s) => o.green(s),
  already: (o, s) => o.green(s),
  would: (o, s) => o.cyan(s),
  skipped: (o, s) => o.yellow(s),
  failed: (o, s) => o.red(s),
  partial: (o, s) => o.yellow(s),
  ineffective: (o, s) => o.red(s),
  pending: (o, s) => o.yellow(s),
};

function renderSummary(o: Out, summary: Summary, message: PulledMessage, slack: WebhookRecorder, slackBefore: number): void {
  const d = summary.decision;
  const label = (s: string) => o.bold(s.padEnd(11));
  const matched = summary.exception ? `EXCEPTED by ${inert(summary.exception.name)}` : `rule ${inert(d.rule ?? '(none: report only)')}`;
  o.line(`  ${label('decision')}${inert(d.decision)} · ${matched} · ${d.dryRun ? o.cyan('dry-run') : o.yellow('enforced')}`);
  // The reason adds something only when it is not just "rule X matched" (protected namespace, dropped actions…).
  if (d.reason !== `rule ${d.rule} matched`) o.line(`  ${' '.repeat(11)}${o.dim(inert(d.reason))}`);
  if (summary.actions.length === 0) o.line(`  ${label('actions')}none planned`);
  summary.actions.forEach((a, i) => {
    const status = (STATUS_COLOR[a.status] ?? ((_o, s) => s))(o, a.status.padEnd(8));
    o.line(`  ${label(i === 0 ? 'actions' : '')}${status} ${a.type.padEnd(21)} ${inert(a.reason, 300)}`);
  });
  if (summary.budget.exceeded) o.line(`  ${label('')}${o.red(`BUDGET EXCEEDED: ${summary.budget.denied.map((x) => x.action).join(', ')}`)}`);
  const ev = summary.evidence;
  if (ev) {
    ev.queries.forEach((q, i) => {
      const count = `${q.count} ${q.count === 1 ? 'entry' : 'entries'}`.padEnd(11);
      o.line(`  ${label(i === 0 ? 'evidence' : '')}${q.kind.padEnd(21)} ${count} ${o.dim(shorten(inert(q.url ?? ''), 72))}`);
      const top = q.excerpts[q.excerpts.length - 1];
      if (top) o.line(`  ${' '.repeat(11)}${' '.repeat(21)} ${o.dim(`└ ${shorten(inert(top), 90)}`)}`);
      if (q.incomplete) o.line(`  ${' '.repeat(11)}${o.yellow(`incomplete: ${inert(q.incomplete)}`)}`);
    });
    for (const note of ev.notes) o.line(`  ${' '.repeat(11)}${o.yellow(inert(note))}`);
    const links = Object.keys(ev.links).filter((k) => !k.startsWith('logs:'));
    if (links.length) o.line(`  ${' '.repeat(11)}${o.dim(`links: ${links.join(', ')}`)}`);
  } else {
    o.line(`  ${label('evidence')}${o.dim('not gathered')}`);
  }
  o.line(`  ${label('summary')}${o.bold(inert(summary.headline))}`);
  const t = summary.timings;
  o.line(
    `  ${' '.repeat(11)}outcome ${inert(summary.outcome)} · id ${summary.id.slice(0, 12)}… · event → summary ${t.eventToSummaryMs === null ? '?' : seconds(t.eventToSummaryMs)}` +
      ` (containment ${t.containmentMs ?? '?'} ms, evidence ${t.evidenceMs ?? '?'} ms)`,
  );
  const attrs = Object.entries(message.attributes)
    .map(([k, v]) => `${k}=${inert(v, 60)}`)
    .join(' ');
  o.line(`  ${' '.repeat(11)}${o.dim(`ops topic message ${message.messageId}, attributes: ${attrs}`)}`);
  const posts = slack.posts('/slack/demo').slice(slackBefore);
  if (posts.length > 0) {
    const body = posts[posts.length - 1]!.json as { text?: string; blocks?: unknown[] } | null;
    o.line(`  ${label('slack')}${posts.length} message (${body?.blocks?.length ?? 0} blocks): ${o.dim(shorten(inert(body?.text ?? ''), 90))}`);
  }
}

/** The routes of a policy file the demo wrote (validated already), for their webhook variables. */
function readPolicyRoutes(policyFile: string): Policy['routes'] {
  return parsePolicy(readFileSync(policyFile, 'utf8'), policyFile).routes;
}

function routeWebhookEnv(routes: Policy['routes'], recorder: WebhookRecorder): Record<string, string> {
  const env: Record<string, string> = {};
  for (const r of routes) {
    if (r.slackWebhookEnv) env[r.slackWebhookEnv] = recorder.url(`/route/${r.name}/slack`);
    if (r.chatWebhookEnv) env[r.chatWebhookEnv] = recorder.url(`/route/${r.name}/chat`);
  }
  return env;
}

/** Owners, routes and the SCC write-back (docs/actions.md: Owners; docs/summary.md: Routes and mentions, SCC write-back). */
function renderCloseTheLoop(o: Out, summary: Summary, scc: FakeScc, recorder: WebhookRecorder, postsBefore: number): void {
  const label = (s: string) => o.bold(s.padEnd(11));
  const owners = summary.owners ?? [];
  o.line(`  ${label('owners')}${owners.length ? owners.map((w) => `${inert(w.who, 80)} ${o.dim(`(${w.source}${w.key ? ` ${inert(w.key)}` : ''})`)}`).join(', ') : o.dim('none found')}`);
  for (const note of summary.ownerNotes ?? []) o.line(`  ${' '.repeat(11)}${o.yellow(inert(note))}`);
  const routes = summary.routes ?? [];
  if (routes.length) {
    const posts = recorder.posts().slice(postsBefore).filter((p) => p.path.startsWith('/route/'));
    const mentions = [...new Set(posts.flatMap((p) => [...p.body.matchAll(/<(?:!subteam\^(S[A-Z0-9]+)|@([UW][A-Z0-9]+))>/g)].map((m) => (m[1] ? `user group ${m[1]}` : `user ${m[2]}`))))];
    o.line(`  ${label('routes')}${routes.map((r) => inert(r)).join(', ')}: ${posts.length} message(s) to the team channel${mentions.length ? `, mentioning ${mentions.join(', ')}` : ''}`);
  }
  const s = summary.scc;
  if (!s) {
    o.line(`  ${label('scc')}${o.dim('write-back not configured')}`);
    return;
  }
  const held = [...scc.marks.entries()].find(([, marks]) => Object.values(marks).includes(summary.id));
  o.line(`  ${label('scc')}marks ${s.marks.status}${held ? `: ${Object.entries(held[1]).map(([k, v]) => `${k}=${inert(v, 40)}`).join(' ')}` : ` ${o.dim(inert(s.marks.reason, 200))}`}`);
  o.line(`  ${' '.repeat(11)}state ${s.state.status}${s.state.reason ? ` ${o.dim(`(${inert(s.state.reason, 200)})`)}` : ''}`);
}

function describeWrite(w: { method: string; path: string }): string {
  const m = /^\/api\/v1\/namespaces\/([^/]+)\/pods\/([^/]+)$/.exec(w.path);
  if (m) return `${w.method} pod ${m[2]}`;
  if (/networkpolicies(\/[^/]+)?$/.test(w.path)) return `${w.method} NetworkPolicy`;
  const n = /^\/api\/v1\/nodes\/([^/]+)$/.exec(w.path);
  if (n) return `${w.method} node ${n[1]}`;
  return `${w.method} ${w.path}`;
}

// ---------------------------------------------------------------- main

async function main(argv: string[], o: Out, cleanup: Cleanup): Promise<number> {
  const parsed = parseFlags(argv);
  if (parsed === 'help') {
    o.line(USAGE);
    return 0;
  }
  const flags = parsed;
  const started = Date.now();

  // --- inputs, read and checked before anything starts
  const findingText = readFileOrUsage(flags.finding, 'finding');
  let findingJson: unknown;
  try {
    findingJson = JSON.parse(findingText);
  } catch (error) {
    throw new DemoError(`${flags.finding} is not JSON: ${(error as Error).message}`);
  }
  let baseNotification: Record<string, any>;
  try {
    baseNotification = notificationFrom(findingJson, decodeInput(findingJson));
  } catch (error) {
    throw new DemoError(`${flags.finding}: ${(error as Error).message}`);
  }

  const work = mkdtempSync(join(tmpdir(), 'scc-demo-'));
  const removeWork = () => rmSync(work, { recursive: true, force: true });
  cleanup.add('temp files', removeWork, removeWork);
  const kubeconfigPlaceholder = join(work, 'kubeconfig');

  let userPolicy: Record<string, any> | undefined;
  if (flags.policy !== undefined) {
    const text = readFileOrUsage(flags.policy, 'policy');
    parsePolicy(text, flags.policy); // a bad policy stops here, naming the field
    userPolicy = (YAML.parse(text) ?? {}) as Record<string, any>;
  }

  const firstEvent = new Date(Date.now() - 3000);
  const probePolicy = validatePolicy(demoPolicy(null, kubeconfigPlaceholder));
  const probe = makePlan(decodeInput(restamped(baseNotification, firstEvent)), probePolicy, new Date());
  const policyFor = (dryRun: boolean, kubeconfig: string): { policy: Policy; note: string } => {
    if (userPolicy) {
      const { policy, replacedClusters } = sandboxedPolicy(userPolicy, probe.target, kubeconfig);
      policy.dryRun = dryRun;
      const replaced = replacedClusters.length ? `; its clusters: entries (${replacedClusters.length}) replaced by the sandbox` : '';
      return { policy: validatePolicy(policy, flags.policy), note: `Policy: ${flags.policy} with dryRun: ${dryRun}${replaced}` };
    }
    return {
      policy: validatePolicy({ ...demoPolicy(probe.target, kubeconfig), dryRun }),
      note: `Policy: rule sandbox-contain (label, isolate, cordon, delete the finding's pod), dryRun: ${dryRun}`,
    };
  };

  o.line(o.bold('scc-responder demo') + o.dim(' — an Unexpected Child Shell finding, handled end to end on this machine'));
  o.line(o.dim('Everything runs on 127.0.0.1: no Google Cloud project, cluster or credentials are used.'));
  o.line();

  // --- the finding
  const f = probe.finding;
  const t = probe.target;
  o.line(o.bold(`▶ The finding`) + o.dim(` (${inert(flags.findingLabel)})`));
  o.line(`  ${inert(f.category)} · ${inert(f.severity)} · ${o.dim(inert(f.name, 120))}`);
  if (probe.decision === 'ignore' || !t) {
    o.line();
    o.line(o.yellow(`  Out of scope: ${inert(probe.reason)}.`));
    o.line('  The function acks such a message and does nothing (LOG_LEVEL=DEBUG shows a "scope" line).');
    o.line('  The demo needs an Unexpected Child Shell finding on a GKE cluster.');
    return 1;
  }
  o.line(`  where  cluster ${inert(t.cluster)} (project ${inert(t.project)}, ${inert(t.location)})`);
  o.line(`         pod ${inert(t.namespace ?? '?')}/${inert(t.pod ?? '?')} · container ${inert(t.container ?? '?')} · node ${inert(t.node ?? '?')}`);
  // Args as a person may see them: credentials redacted, as in every summary.
  const shown = printablePlan(probe, policyFor(true, kubeconfigPlaceholder).policy.redaction);
  const child = shown.processes?.child;
  const parent = shown.processes?.parent;
  if (child) {
    o.line(`  what   ${parent ? `${inert(parent.name ?? '?')} (pid ${inert(parent.pid ?? '?')}) → ` : ''}${inert(child.args.join(' ') || child.binaryPath || '?', 160)}`);
    if (child.envVariableNames.length) {
      o.line(`  env    ${inert(child.envVariableNames.join(', '), 160)} ${o.dim('(names only: values never leave the finding)')}`);
    }
  }
  for (const problem of probe.targetProblems) o.line(o.yellow(`  ! ${inert(problem)}`));
  o.line();

  // --- set-up
  o.line(o.bold('▶ Setting up'));
  if (!onPath('gcloud') || !onPath('java')) {
    const missing = ['gcloud', 'java'].filter((c) => !onPath(c)).join(' and ');
    throw new DemoError(
      `${missing} not found on PATH. The demo runs the Pub/Sub and Firestore emulators from the Google Cloud SDK, which need Java 11+: ` +
        'install the gcloud CLI with its emulator components (gcloud components install beta pubsub-emulator cloud-firestore-emulator, ' +
        'or the Debian packages google-cloud-cli-pubsub-emulator google-cloud-cli-firestore-emulator) and a JRE, then re-run.',
    );
  }
  const [pubsubEmu, firestoreEmu] = await o.step(
    'starting the Pub/Sub and Firestore emulators (gcloud SDK)',
    async () => {
      const results = await Promise.allSettled([startPubsubEmulator({ project: HOST_PROJECT }), startFirestoreEmulator()]);
      const emus: RunningEmulator[] = [];
      for (const r of results) {
        if (r.status === 'fulfilled') {
          emus.push(r.value);
          cleanup.ports.push(r.value.port);
          cleanup.add(`${r.value.kind} emulator`, () => r.value.stop());
        }
      }
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) {
        const reason = failed.reason as Error;
        const detail = reason instanceof EmulatorUnavailableError ? reason.message.split('\n').slice(0, 6).join('\n    ') : String(reason);
        throw new DemoError(
          `an emulator did not start:\n    ${detail}\n  Check: gcloud components list (pubsub-emulator, cloud-firestore-emulator, beta) and java -version (11+).`,
        );
      }
      return [emus.find((e) => e.kind === 'pubsub')!, emus.find((e) => e.kind === 'firestore')!] as const;
    },
    ([p, fs]) => `Pub/Sub emulator ${p.hostPort} and Firestore emulator ${fs.hostPort} ready`,
  );

  const { seed, workload } = sandboxFor(probe);
  const kube: FakeKubeApi = await o.step(
    'starting the sandbox cluster',
    async () => {
      const fake = await startFakeKubeApi({ seed });
      cleanup.ports.push(Number(new URL(fake.url).port));
      cleanup.add('sandbox cluster', () => fake.close());
      return fake;
    },
    (fake) =>
      workload.pod
        ? `sandbox cluster ${inert(t.cluster)} at ${fake.url.replace('http://', '')}: Deployment ${inert(workload.namespace)}/${inert(workload.deployment)} ` +
          `(${workload.replicas} replicas), pod ${inert(workload.pod)} on node ${inert(workload.node ?? workload.otherNode)}`
        : `sandbox cluster ${inert(t.cluster)} at ${fake.url.replace('http://', '')} (the finding names no pod the sandbox can hold)`,
  );
  let currentPlan = probe;
  const logging: FakeLogging = await o.step(
    'starting Cloud Logging (fake)',
    async () => {
      const entriesFor = sandboxLogs(() => currentPlan);
      const fake = await startFakeLogging({ entries: (request) => entriesFor(request) });
      cleanup.ports.push(fake.port);
      cleanup.add('fake Cloud Logging', () => fake.close());
      return fake;
    },
    (fake) => `Cloud Logging (gRPC fake) at ${fake.endpoint}: pod, audit and node log entries around the event`,
  );
  const slack: WebhookRecorder = await o.step(
    'starting the Slack webhook recorder',
    async () => {
      const recorder = await startWebhookRecorder();
      cleanup.ports.push(Number(new URL(recorder.url('/')).port));
      cleanup.add('Slack webhook recorder', () => recorder.close());
      return recorder;
    },
    (r) => `Slack incoming webhook (recorder) at ${r.url('/slack/demo').replace('http://', '')}`,
  );
  const scc: FakeScc = await o.step(
    'starting Security Command Center (fake)',
    async () => {
      const fake = await startFakeScc();
      cleanup.ports.push(fake.port);
      cleanup.add('fake Security Command Center', () => fake.close());
      return fake;
    },
    (fake) => `Security Command Center v2 (gRPC fake) at ${fake.endpoint}: the finding's security marks and state are written back here`,
  );
  const contacts: FakeEssentialContacts = await o.step(
    'starting Essential Contacts (fake)',
    async () => {
      const fake = await startFakeEssentialContacts(t.project ? { [t.project]: [{ email: 'security@example.com', parent: 'organizations/123456789012' }] } : {});
      cleanup.ports.push(Number(new URL(fake.url).port));
      cleanup.add('fake Essential Contacts', () => fake.close());
      return fake;
    },
    (fake) => `Essential Contacts (REST fake) at ${fake.url.replace('http://', '')}: the project's SECURITY contacts`,
  );
  const rest = pubsubRest(pubsubEmu.hostPort, HOST_PROJECT);
  await o.step(
    'creating topics',
    async () => {
      await rest.createTopic(FINDINGS_TOPIC);
      await rest.createTopic(OPS_TOPIC);
      await rest.createPullSubscription('ops-demo', OPS_TOPIC);
    },
    () => `topics ${FINDINGS_TOPIC} (SCC publishes here) and ${OPS_TOPIC} (summaries; pulled by the demo)`,
  );
  o.line();

  const home = mkdtempSync(join(work, 'home-'));
  const baseEnv = (policyFile: string, forceDryRun: boolean): Record<string, string> => ({
    PATH: process.env.PATH ?? '',
    HOME: home, // no gcloud credentials, no ADC: the function can reach nothing but the sandbox
    METADATA_SERVER_DETECTION: 'none',
    GOOGLE_CLOUD_PROJECT: HOST_PROJECT,
    PUBSUB_EMULATOR_HOST: pubsubEmu.hostPort,
    FIRESTORE_EMULATOR_HOST: firestoreEmu.hostPort,
    FIRESTORE_DATABASE: '(default)',
    OPS_TOPIC: `projects/${HOST_PROJECT}/topics/${OPS_TOPIC}`,
    SLACK_WEBHOOK_URL: slack.url('/slack/demo'),
    LOGGING_API_ENDPOINT: logging.endpoint,
    SCC_WRITEBACK: 'true',
    SCC_API_ENDPOINT: scc.endpoint,
    ESSENTIAL_CONTACTS_API_ENDPOINT: contacts.url,
    // Every route's webhook variable: a path of the recorder (the demo's own policy has one, a user's any number).
    ...routeWebhookEnv(readPolicyRoutes(policyFile), slack),
    SCC_RESPONDER_POLICY_FILE: policyFile,
    SCC_RESPONDER_FORCE_DRY_RUN: String(forceDryRun),
    LOG_LEVEL: flags.verbose ? 'DEBUG' : 'INFO',
  });

  const onLine = (line: Record<string, any>) => {
    if (flags.verbose) o.line(o.dim(`    │ ${inert(line.stdout ?? line.stderr ?? JSON.stringify(line), 600)}`));
  };

  let previousEvent = firstEvent;
  let enforcedRun: { notificationFile: string; policyFile: string } | null = null;
  for (const [index, pass] of flags.passes.entries()) {
    const enforced = pass === 'enforced';
    o.line(o.bold(`▶ Pass ${index + 1} of ${flags.passes.length}: ${enforced ? 'enforced' : 'dry-run'}`));
    const { policy, note } = policyFor(!enforced, kube.kubeconfigPath);
    const policyFile = join(work, `policy-${pass}.yaml`);
    writeFileSync(policyFile, `# written by scripts/demo.ts for the ${pass} pass\n${YAML.stringify(policy)}`);
    const eventTime = new Date(Math.max(Date.now() - 2000, previousEvent.getTime() + 1000));
    previousEvent = eventTime;
    const notification = restamped(baseNotification, eventTime);
    currentPlan = makePlan(decodeInput(notification), policy, new Date());
    if (enforced) {
      enforcedRun = { notificationFile: join(work, 'finding-enforced.json'), policyFile };
      writeFileSync(enforcedRun.notificationFile, JSON.stringify(notification));
    }
    if (enforced) {
      o.line(o.dim(`  ${note}; kill switch off.`));
      o.line(
        o.dim(
          `  The finding comes again with a new eventTime (${eventTime.toISOString()}), as SCC re-raises a finding when the\n` +
            '  shell recurs. The ledger keys on finding name + eventTime, so this is a new occurrence' +
            `${index > 0 ? ', not a redelivery of pass 1' : ''}.\n` +
            '  Cordon, evict and delete draw on the blast-radius budget (Firestore emulator).',
        ),
      );
    } else {
      o.line(o.dim(`  ${note};`));
      o.line(o.dim('  and the kill switch SCC_RESPONDER_FORCE_DRY_RUN=true: every read and check runs, nothing is written.'));
    }
    const writesBefore = kube.writes().length;
    const readsBefore = kube.requests.length - writesBefore;
    const slackBefore = slack.posts('/slack/demo').length;
    const postsBefore = slack.posts().length;
    const fn = await o.step(
      'starting the function (functions framework, src/index.ts)',
      () => startFunction(baseEnv(policyFile, !enforced), cleanup, onLine),
      (s) => `function sccResponder serving on port ${s.port} (${enforced ? 'enforced' : 'dry-run'})`,
    );
    const subscription = `findings-push-${pass}`;
    await rest.createPushSubscription(subscription, FINDINGS_TOPIC, `http://127.0.0.1:${fn.port}/projects/${HOST_PROJECT}/topics/${FINDINGS_TOPIC}`);
    const messageId = await o.step(
      'publishing the finding',
      () => rest.publish(FINDINGS_TOPIC, notification),
      (id) => `SCC notification published to ${FINDINGS_TOPIC} (message ${id}); Pub/Sub pushes it to the function`,
    );
    void messageId;
    const waitForSummary = () =>
      until(
        'the summary on the ops topic',
        async () => {
          const got = await rest.pullAll('ops-demo');
          return got.length > 0 ? got : undefined;
        },
        60_000,
      );
    let pulled: PulledMessage[];
    try {
      pulled = await o.step('waiting for the summary on the ops topic', waitForSummary, () => `summary received on ${OPS_TOPIC}`);
    } catch (error) {
      const tail = fn.lines
        .filter((l) => ['WARNING', 'ERROR'].includes(l.severity) || l.stderr)
        .slice(-6)
        .map((l) => `    ${inert(l.step ?? 'stderr')}: ${inert(l.message ?? l.stderr, 300)}`);
      throw new DemoError(`${(error as Error).message}${tail.length ? `; the function said:\n${tail.join('\n')}` : ''}`);
    }
    const message = pulled[pulled.length - 1]!;
    const summary = JSON.parse(message.data) as Summary;
    // The Slack sink posts after Pub/Sub; give it a moment so the line below is complete.
    await until('the Slack post', () => (slack.posts('/slack/demo').length > slackBefore ? true : undefined), 5000).catch(() => undefined);
    o.line();
    renderSummary(o, summary, message, slack, slackBefore);
    renderCloseTheLoop(o, summary, scc, slack, postsBefore);
    const writes = kube.writes().slice(writesBefore);
    const reads = kube.requests.length - kube.writes().length - readsBefore;
    o.line(
      `  ${o.bold('sandbox'.padEnd(11))}${reads} reads, ${writes.length} writes${writes.length ? `: ${writes.map(describeWrite).map((w) => inert(w)).join(', ')}` : ' (dry-run touches nothing)'}`,
    );

    if (enforced) {
      // Pub/Sub delivers at least once: show that a redelivery is a no-op.
      const writesNow = kube.writes().length;
      const duplicateLines = () => fn.lines.filter((l) => l.step === 'ledger' && /already handled/.test(String(l.message))).length;
      const before = duplicateLines();
      await rest.publish(FINDINGS_TOPIC, notification);
      try {
        await until('the duplicate ack', () => (duplicateLines() > before ? true : undefined), 20_000);
        await sleep(800); // a wrongly sent second summary would arrive by now
        const extra = await rest.pullAll('ops-demo');
        const newWrites = kube.writes().length - writesNow;
        o.line(
          `  ${o.bold('redelivery'.padEnd(11))}the same message again → acked as a duplicate by the ledger: ` +
            `${extra.length === 0 ? 'no second summary' : o.red(`${extra.length} extra summary!`)}, ` +
            `${newWrites === 0 ? 'no new writes' : o.red(`${newWrites} new writes!`)}`,
        );
      } catch {
        o.line(`  ${o.bold('redelivery'.padEnd(11))}${o.yellow('no duplicate ack seen in time')}`);
      }
    }
    await rest.deleteSubscription(subscription);
    await fn.stop();
    o.line();
  }

  if (enforcedRun !== null && workload.pod && workload.namespace) {
    renderSandbox(o, kube, workload);
    await releasePass(o, enforcedRun, baseEnv(enforcedRun.policyFile, false), rest, kube);
    renderSandbox(o, kube, workload, 'after the release');
  }
  if (!userPolicy && workload.pod && workload.namespace && flags.passes.length === 2) {
    await approvalPass(o, {
      kube,
      rest,
      slack,
      cleanup,
      onLine,
      work,
      workload: { namespace: workload.namespace, pod: workload.pod },
      notificationAt: (at) => restamped(baseNotification, at),
      after: previousEvent,
      policy: (() => {
        const base = policyFor(true, kube.kubeconfigPath).policy;
        return validatePolicy({
          ...base,
          rules: base.rules.map((r) => ({ ...r, approval: 'required', approvers: { users: [DEMO_APPROVER], groups: [] } })),
        });
      })(),
      env: (policyFile) => ({ ...baseEnv(policyFile, false), SCC_RESPONDER_TEST_LOOPBACK: 'true' }),
    });
  }

  o.line(o.bold('▶ Cleaning up'));
  const ports = [...cleanup.ports];
  await o.step(
    'stopping everything the demo started',
    async () => {
      await cleanup.run();
      const open: number[] = [];
      for (const port of ports) if (await isListening(port)) open.push(port);
      if (open.length) throw new DemoError(`still listening after clean-up: ports ${open.join(', ')}`);
    },
    () => `stopped the function, both emulators and the fakes; temp files removed; ports ${ports.join(', ')} closed`,
  );
  o.line(o.dim(`Done in ${seconds(Date.now() - started)}. Next: docs/deploy.md to deploy, or npm run demo -- --help to replay your own finding and policy.`));
  return 0;
}

const DEMO_APPROVER = 'U0DEMOONCALL';
const DEMO_SIGNING_SECRET = 'demo-signing-secret-not-a-real-one-0001';

interface ApprovalPassInput {
  kube: FakeKubeApi;
  rest: ReturnType<typeof pubsubRest>;
  slack: WebhookRecorder;
  cleanup: Cleanup;
  onLine: (line: Record<string, any>) => void;
  work: string;
  workload: { namespace: string; pod: string };
  notificationAt: (at: Date) => Record<string, any>;
  after: Date;
  policy: Policy;
  env: (policyFile: string) => Record<string, string>;
}

/**
 * One click to contain (docs/approval.md): the rule asks for approval, the dry-run
 * summary in Slack carries Contain / Dismiss, the demo presses Contain as Slack would (a signed
 * form post to the interactivity endpoint), the consumer runs the approved plan and replaces the
 * message through its response_url. A second click runs nothing.
 */
async function approvalPass(o: Out, p: ApprovalPassInput): Promise<void> {
  o.line(o.bold('▶ Approval: Contain from the Slack message'));
  o.line(o.dim(`  The same rule with approval: required (approver ${DEMO_APPROVER}). The sandbox pod is put back as it was before`));
  o.line(o.dim('  the incident, and the finding comes once more: a dry run whose Slack message offers Contain / Dismiss.'));
  const key = `${p.workload.namespace}/${p.workload.pod}`;
  const original = p.kube.state.pods.get(key);
  if (original) {
    const { deletionTimestamp: _d, deletionGracePeriodSeconds: _g, ...metadata } = original.metadata;
    const labels = Object.fromEntries(Object.entries(metadata.labels ?? {}).filter(([k]) => !k.startsWith('scc-responder.dev/')));
    const annotations = Object.fromEntries(Object.entries(metadata.annotations ?? {}).filter(([k]) => !k.startsWith('scc-responder.dev/')));
    p.kube.state.pods.set(key, { ...original, metadata: { ...metadata, labels, annotations, resourceVersion: String(Date.now()) } });
  }
  const policyFile = join(p.work, 'policy-approval.yaml');
  writeFileSync(policyFile, `# written by scripts/demo.ts for the approval pass\n${YAML.stringify(p.policy)}`);
  const env = p.env(policyFile);
  await p.rest.createTopic('scc-approvals');
  const [fn, endpoint, consumer] = await o.step(
    'starting the responder, the Slack endpoint and the approval consumer (one package, three functions)',
    () =>
      Promise.all([
        startFunction(env, p.cleanup, p.onLine),
        startFunction(
          { PATH: env.PATH!, HOME: env.HOME!, GOOGLE_CLOUD_PROJECT: HOST_PROJECT, PUBSUB_EMULATOR_HOST: env.PUBSUB_EMULATOR_HOST!, SLACK_SIGNING_SECRET: DEMO_SIGNING_SECRET, APPROVAL_TOPIC: `projects/${HOST_PROJECT}/topics/scc-approvals`, SCC_RESPONDER_TEST_LOOPBACK: 'true' },
          p.cleanup,
          p.onLine,
          { target: 'sccResponderSlack', signatureType: 'http' },
        ),
        startFunction(env, p.cleanup, p.onLine, { target: 'sccResponderApproval', signatureType: 'cloudevent' }),
      ]),
    ([r, s, c]) => `sccResponder on ${r.port}, sccResponderSlack on ${s.port} (the only part Slack reaches), sccResponderApproval on ${c.port}`,
  );
  await p.rest.createPushSubscription('approvals-push', 'scc-approvals', `http://127.0.0.1:${consumer.port}/projects/${HOST_PROJECT}/topics/scc-approvals`);
  await p.rest.createPushSubscription('findings-push-approval', FINDINGS_TOPIC, `http://127.0.0.1:${fn.port}/projects/${HOST_PROJECT}/topics/${FINDINGS_TOPIC}`);
  const at = new Date(Math.max(Date.now() - 2000, p.after.getTime() + 1000));
  const slackBefore = p.slack.posts('/slack/demo').length;
  await p.rest.publish(FINDINGS_TOPIC, p.notificationAt(at));
  const dry = await o.step(
    'waiting for the dry-run summary',
    () => until('the dry-run summary', async () => (await p.rest.pullAll('ops-demo'))[0], 60_000),
    () => 'dry-run summary received: approval awaiting',
  );
  const awaiting = JSON.parse(dry.data) as Summary;
  const message = await until('the Slack message', () => p.slack.posts('/slack/demo')[slackBefore], 10_000);
  const buttons = JSON.stringify(message.json).match(/"action_id":"(scc-responder-[a-z-]+)"/g)?.map((m) => m.slice(13, -1)) ?? [];
  o.line(`  ${o.bold('slack'.padEnd(11))}the message offers ${buttons.filter((b) => /contain|dismiss/.test(b)).join(', ') || o.red('no buttons!')}; approval ${inert(awaiting.approval?.status ?? 'none')} until ${inert(awaiting.approval?.expiresAt ?? '?')}`);

  const writesBefore = p.kube.writes().length;
  const click = async (n: number) => {
    const body = `payload=${encodeURIComponent(
      JSON.stringify({
        type: 'block_actions',
        user: { id: DEMO_APPROVER, username: 'oncall', name: 'oncall', team_id: 'T0DEMO0001' },
        team: { id: 'T0DEMO0001', domain: 'demo' },
        container: { type: 'message', message_ts: '1764630000.000100', channel_id: 'C0DEMO0001' },
        channel: { id: 'C0DEMO0001', name: 'sec-ops' },
        response_url: p.slack.url(`/slack/response/${n}`),
        actions: [{ action_id: 'scc-responder-contain', block_id: 'scc-responder-approval', type: 'button', value: awaiting.id, action_ts: `1764630000.00000${n}` }],
      }),
    )}`;
    const ts = Math.floor(Date.now() / 1000);
    const signature = `v0=${createHmac('sha256', DEMO_SIGNING_SECRET).update(`v0:${ts}:${body}`).digest('hex')}`;
    const res = await fetch(`http://127.0.0.1:${endpoint.port}/`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': String(ts), 'x-slack-signature': signature },
      body,
    });
    return res.status;
  };
  const status = await o.step('pressing Contain (a form post signed with the app\'s signing secret, as Slack sends it)', () => click(1), (s) => `the endpoint answered ${s} at once; the consumer does the work`);
  void status;
  const approved = await o.step(
    'waiting for the approved run',
    () => until('the approved summary', async () => (await p.rest.pullAll('ops-demo'))[0], 60_000),
    () => 'approved run summarised on the ops topic',
  );
  const done = JSON.parse(approved.data) as Summary;
  for (const a of done.actions) o.line(`  ${o.bold((a === done.actions[0] ? 'actions' : '').padEnd(11))}${(STATUS_COLOR[a.status] ?? ((_o, s) => s))(o, a.status.padEnd(8))} ${a.type.padEnd(21)} ${inert(a.reason, 160)}`);
  o.line(`  ${o.bold('summary'.padEnd(11))}${o.bold(inert(done.headline))} · approved by ${inert(done.approval?.by?.user ?? '?')}`);
  if (done.budget.exceeded) o.line(o.dim(`  ${' '.repeat(11)}An approval is not a blank cheque: the enforced pass spent the cluster's cordon budget, and the approved run is held to it.`));
  const replaced = await until('the message update', () => p.slack.posts('/slack/response/1')[0], 20_000).catch(() => undefined);
  o.line(`  ${o.bold('slack'.padEnd(11))}${replaced ? 'the original message was replaced through its response_url (no buttons left)' : o.yellow('no message update seen')}`);
  const writes = p.kube.writes().slice(writesBefore);
  o.line(`  ${o.bold('sandbox'.padEnd(11))}${writes.length} writes: ${writes.map(describeWrite).map((w) => inert(w)).join(', ')}`);
  const beforeSecond = p.kube.writes().length;
  await click(2);
  await until('the second click to be answered', () => p.slack.posts('/slack/response/2')[0], 20_000).catch(() => undefined);
  await sleep(500);
  o.line(`  ${o.bold('again'.padEnd(11))}a second click on Contain → ${p.kube.writes().length === beforeSecond ? 'nothing runs twice (the decision is claimed once per incident)' : o.red('it ran again!')}`);
  await p.rest.deleteSubscription('findings-push-approval');
  await p.rest.deleteSubscription('approvals-push');
  await Promise.all([fn.stop(), endpoint.stop(), consumer.stop()]);
  o.line();
}

/** `scc-responder release --finding …` for the enforced pass, as a person would run it: the CLI itself, on the same ledger and sinks. */
async function releasePass(o: Out, run: { notificationFile: string; policyFile: string }, env: Record<string, string>, rest: ReturnType<typeof pubsubRest>, kube: FakeKubeApi): Promise<void> {
  o.line(o.bold('▶ Release: scc-responder release --finding <the enforced finding>'));
  o.line(o.dim('  Undoes what the responder did for this incident only: its NetworkPolicy, its labels, the cordon. The deleted pod'));
  o.line(o.dim('  is never touched (the Deployment already replaced it). Recorded in the ledger, summarised to the same sinks.'));
  const writesBefore = kube.writes().length;
  const { runCli } = await import('../src/cli.ts');
  let out = '';
  let err = '';
  const code = await o.step(
    'running scc-responder release',
    () => runCli({ argv: ['release', '--finding', run.notificationFile, '--policy', run.policyFile], env: { ...env, USER: 'demo' }, readStdin: () => '', stdout: (t) => void (out += t), stderr: (t) => void (err += t) }),
    (c) => `scc-responder release exited ${c}`,
  );
  if (code !== 0 && out === '') throw new DemoError(`release failed: ${inert(err, 400)}`);
  const summary = JSON.parse(out) as Summary;
  for (const a of summary.actions) o.line(`  ${o.bold(a.type.padEnd(14))}${a.status === 'failed' ? o.red(a.status) : a.status.padEnd(9)} ${inert(a.reason, 160)}`);
  const writes = kube.writes().slice(writesBefore);
  o.line(`  ${o.bold('sandbox'.padEnd(14))}${writes.length} writes: ${writes.map(describeWrite).map((w) => inert(w)).join(', ')}`);
  const pulled = await until('the release summary', async () => {
    const got = await rest.pullAll('ops-demo');
    return got.length > 0 ? got : undefined;
  }, 20_000).catch(() => []);
  o.line(`  ${o.bold('ops topic'.padEnd(14))}${pulled.length ? inert((JSON.parse(pulled[pulled.length - 1]!.data) as Summary).headline, 160) : o.yellow('no release summary seen')}`);
  o.line();
}

function renderSandbox(o: Out, kube: FakeKubeApi, w: { namespace: string | null; pod: string | null; node: string | null; replicaSet: string }, when = 'now'): void {
  o.line(o.bold(`▶ The sandbox cluster ${when}`));
  const ns = w.namespace!;
  const pod = kube.state.pods.get(`${ns}/${w.pod}`);
  const label = (s: string) => `  ${o.bold(s.padEnd(14))}`;
  if (pod) {
    const ours = Object.entries(pod.metadata.labels ?? {}).filter(([k]) => k.startsWith('scc-responder.dev/'));
    o.line(`${label('pod')}${inert(ns)}/${inert(w.pod)}`);
    o.line(`${label('')}labels ${ours.length ? ours.map(([k, v]) => `${k}=${inert(v)}`).join(', ') : o.yellow('none of ours')}`);
    if (pod.metadata.deletionTimestamp) {
      o.line(
        `${label('')}${o.green('deleted')}: terminating (deletionTimestamp ${inert(pod.metadata.deletionTimestamp)}, grace ${inert(pod.metadata.deletionGracePeriodSeconds)} s); ` +
          'the Deployment starts a clean replacement',
      );
    } else {
      o.line(`${label('')}running (the policy did not remove it)`);
    }
  } else {
    o.line(`${label('pod')}${inert(ns)}/${inert(w.pod)} ${o.green('deleted')} (gone)`);
  }
  const policies = [...kube.state.networkPolicies.values()].filter((p) => p.metadata?.namespace === ns);
  const podLabels = (w.pod ? kube.state.pods.get(`${ns}/${w.pod}`)?.metadata.labels : undefined) ?? {};
  for (const np of policies) {
    const selector = Object.entries(np.spec?.podSelector?.matchLabels ?? {}).map(([k, v]) => `${k}=${inert(v)}`).join(',') || '{} (every pod)';
    const allows = (np.spec?.ingress?.length ?? 0) > 0 || (np.spec?.egress?.length ?? 0) > 0;
    const selectsPod = w.pod !== null && selectorMatches(np.spec?.podSelector, podLabels);
    const effect = allows
      ? `allows traffic; ${selectsPod ? o.red('still selects the pod') : o.green('no longer selects the pod')}`
      : `no rules = all traffic denied${selectsPod ? ' to the pod' : ''}`;
    o.line(`${label('NetworkPolicy')}${inert(ns)}/${inert(np.metadata.name)}: selects ${selector}; policyTypes ${inert((np.spec?.policyTypes ?? []).join('+'))}, ${effect}`);
  }
  if (policies.length === 0) o.line(`${label('NetworkPolicy')}${o.yellow('none')}`);
  if (w.node) {
    const node = kube.state.nodes.get(w.node);
    const taints = (node?.spec?.taints ?? []).map((x: any) => `${x.key}=${x.value ?? ''}:${x.effect}`).join(', ');
    o.line(
      `${label('node')}${inert(w.node)}: ${node?.spec?.unschedulable ? o.green('cordoned (spec.unschedulable: true)') : o.yellow('schedulable')}; taints kept: ${inert(taints || 'none')}`,
    );
  }
  const others = [...kube.state.pods.values()].filter((p) => p.metadata.namespace === ns && p.metadata.name !== w.pod);
  const touched = others.filter((p) => Object.keys(p.metadata.labels ?? {}).some((k) => k.startsWith('scc-responder.dev/')) || p.metadata.deletionTimestamp);
  o.line(`${label('other pods')}${others.length} in ${inert(ns)}, ${touched.length === 0 ? 'untouched' : o.red(`${touched.length} touched!`)}`);
  o.line();
}

// ---------------------------------------------------------------- entry

const out = createOut({ streaming: process.argv.includes('--verbose') });
const cleanup = new Cleanup();
let stopping = false;
process.on('exit', () => cleanup.lastResort());
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.on(signal, () => {
    if (stopping) {
      out.err('demo: stopping now');
      process.exit(signal === 'SIGINT' ? 130 : 143); // the exit hooks kill what is left
    }
    stopping = true;
    out.err(`\ndemo: ${signal === 'SIGINT' ? 'interrupted' : signal}; stopping everything it started…`);
    void cleanup.run().then(() => {
      out.err('demo: cleaned up');
      process.exit(signal === 'SIGINT' ? 130 : 143);
    });
  });
}

let code: number;
try {
  code = await main(process.argv.slice(2), out, cleanup);
  await cleanup.run(); // already done on the full path; an early return (out of scope) still has temp files
} catch (error) {
  if (stopping) await new Promise(() => {}); // the signal handler exits
  if (error instanceof UsageError) {
    out.err(`demo: ${error.message} (npm run demo -- --help)`);
    code = 2;
  } else if (error instanceof DemoError || error instanceof PolicyError || error instanceof DecodeError) {
    out.err(`demo: ${error.message}`);
    code = 1;
  } else {
    out.err(`demo: unexpected failure: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    code = 1;
  }
  await cleanup.run();
}
process.exit(code);
