#!/usr/bin/env node
// scc-responder CLI: the same pipeline as the function, for a laptop.
//   plan --finding FILE|- [--policy FILE] [--now RFC3339] [--explain]   what would happen, and why
//   validate-policy FILE [--now RFC3339]                                check a policy file
//   test-policy POLICY DIR [--now RFC3339]                              policy unit tests
//   respond / release / incidents                                       act, undo, list (ledger: Firestore or local)
// Errors are one line on stderr and a non-zero exit; never a stack trace.
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { decodeInput, DecodeError } from './core/finding/envelope.ts';
import { exceptionWarnings } from './core/policy/exceptions.ts';
import { explainPlan, renderExplanation } from './core/policy/explain.ts';
import { plan, printablePlan } from './core/plan/plan.ts';
import {
  ExpectationError,
  parseExpectation,
  renderPolicyTestTable,
  runPolicyTest,
  type PolicyTestCase,
} from './core/policy/policy-tests.ts';
import { PolicyError, type Policy } from './core/policy/policy.ts';
import { loadPolicy } from './wiring/compose.ts';
import { parseEnv } from './config.ts';
import type { IncidentStore } from './core/ports.ts';
import type { PipelineDeps } from './pipeline/respond.ts';

const USAGE = `usage:
  scc-responder plan --finding FILE|- [--policy FILE] [--now RFC3339] [--explain]
             prints the plan JSON; --explain prints instead which exception or rule
             applies and why, or, when none does, the nearest one and what failed
  scc-responder validate-policy FILE [--now RFC3339]
             exit 0 when valid (warnings, e.g. exceptions expired or expiring soon, on stderr)
  scc-responder test-policy POLICY DIR [--now RFC3339]
             plans every DIR/NAME.json and compares with DIR/NAME.expect.yaml;
             prints a table, exit 1 on any difference
  scc-responder respond --finding FILE|- [--policy FILE] [--now RFC3339] [--no-evidence]
             runs the whole pipeline once against the finding's cluster (the policy's
             dryRun decides whether anything is written) and prints the result JSON
  scc-responder release --finding FILE|- | --incident ID [--cluster NAME] [--policy FILE] [--dry-run]
             undoes what the responder did for that one incident (labels, isolation,
             cordon) and nothing else; prints the release summary JSON
  scc-responder incidents [--since RFC3339|7d|24h] [--json]
             lists the incidents the ledger remembers, newest first

  Without FIRESTORE_DATABASE, respond, release and incidents use the local ledger
  (one machine: $SCC_RESPONDER_LOCAL_LEDGER, else ~/.local/state/scc-responder/ledger.sqlite),
  so an enforced respond from a terminal has the same blast-radius budget.

  --finding  a Pub/Sub message, CloudEvent, SCC NotificationMessage, the console's
             {finding, resource} JSON, or a bare finding; "-" reads stdin
  --policy   policy YAML (default: $SCC_RESPONDER_POLICY_FILE, else the bundled dry-run policy)
  --now      the time to plan at (default: now)`;

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export interface CliIo {
  argv: string[];
  env: Record<string, string | undefined>;
  readStdin: () => string;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

function readInputFile(path: string, io: CliIo): string {
  try {
    return path === '-' ? io.readStdin() : readFileSync(path, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
}

export function readFindingFile(path: string, io: CliIo): unknown {
  const text = readInputFile(path, io);
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new DecodeError(`not valid JSON (${(error as Error).message})`, path === '-' ? 'stdin' : path);
  }
}

export function policyFromFlags(flag: string | undefined, io: CliIo): Policy {
  const env = parseEnv(io.env);
  return loadPolicy(flag ?? env.SCC_RESPONDER_POLICY_FILE);
}

export function parseNow(value: string | undefined): Date {
  if (value === undefined) return new Date();
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(value) || Number.isNaN(Date.parse(value))) {
    throw new UsageError(`--now must be an RFC 3339 time such as 2026-11-20T14:05:00Z, not ${JSON.stringify(value)}`);
  }
  return new Date(value);
}

type Command = (args: string[], io: CliIo) => Promise<number> | number;

const FINDING_FLAGS = {
  finding: { type: 'string' },
  policy: { type: 'string' },
  now: { type: 'string' },
} as const;

const planCommand: Command = (args, io) => {
  const { values } = parseArgs({ args, options: { ...FINDING_FLAGS, explain: { type: 'boolean' } }, strict: true, allowPositionals: false });
  if (values.finding === undefined) throw new UsageError('--finding FILE is required');
  const env = parseEnv(io.env);
  const policy = loadPolicy(values.policy ?? env.SCC_RESPONDER_POLICY_FILE);
  const now = parseNow(values.now);
  const decoded = decodeInput(readFindingFile(values.finding, io));
  const forceDryRun = env.SCC_RESPONDER_FORCE_DRY_RUN;
  const planned = plan(decoded, policy, now, { forceDryRun, acceptOwnEcho: true });
  if (values.explain) {
    io.stdout(renderExplanation(explainPlan(planned, policy, now), policy));
    return 0;
  }
  io.stdout(JSON.stringify({ ...printablePlan(planned, policy.redaction), inputShape: decoded.shape }, null, 2) + '\n');
  return 0;
};

const NOW_FLAG = { now: { type: 'string' } } as const;

const validatePolicyCommand: Command = (args, io) => {
  const { positionals, values } = parseArgs({ args, options: NOW_FLAG, strict: true, allowPositionals: true });
  const [file, ...rest] = positionals;
  if (file === undefined || rest.length > 0) throw new UsageError('validate-policy takes exactly one FILE');
  const now = parseNow(values.now);
  const policy = loadPolicy(file);
  const exceptions = policy.exceptions.length ? `, ${policy.exceptions.length} exception(s)` : '';
  io.stdout(`${file}: valid (${policy.rules.length} rule(s)${exceptions}, dryRun: ${policy.dryRun})\n`);
  // Warnings never fail validation: an expired exception is already inert.
  for (const warning of exceptionWarnings(policy, now)) io.stderr(`warning: ${warning}\n`);
  return 0;
};

const EXPECT_SUFFIX = '.expect.yaml';

/** The cases in DIR: each NAME.json with NAME.expect.yaml beside it; either one alone is a failing case. */
export function readPolicyTestCases(dir: string): PolicyTestCase[] {
  let entries: string[];
  try {
    entries = readdirSync(dir).sort();
  } catch (error) {
    throw new UsageError(`cannot read ${dir}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  const findings = entries.filter((e) => e.endsWith('.json'));
  const expects = new Set(entries.filter((e) => e.endsWith(EXPECT_SUFFIX)));
  const cases: PolicyTestCase[] = findings.map((file) => {
    const name = basename(file, '.json');
    const expectFile = `${name}${EXPECT_SUFFIX}`;
    expects.delete(expectFile);
    let finding: unknown;
    try {
      finding = JSON.parse(readFileSync(join(dir, file), 'utf8'));
    } catch (error) {
      return { name, finding: undefined, expect: null, error: `${file}: not readable JSON (${(error as Error).message.slice(0, 200)})` };
    }
    let text: string;
    try {
      text = readFileSync(join(dir, expectFile), 'utf8');
    } catch {
      return { name, finding, expect: null, error: `no ${expectFile} beside ${file}` };
    }
    try {
      return { name, finding, expect: parseExpectation(text, expectFile) };
    } catch (error) {
      if (error instanceof ExpectationError) return { name, finding, expect: null, error: error.message };
      throw error;
    }
  });
  for (const orphan of expects) {
    cases.push({ name: basename(orphan, EXPECT_SUFFIX), finding: undefined, expect: null, error: `${orphan} has no finding ${basename(orphan, EXPECT_SUFFIX)}.json beside it` });
  }
  return cases;
}

const testPolicyCommand: Command = (args, io) => {
  const { positionals, values } = parseArgs({ args, options: NOW_FLAG, strict: true, allowPositionals: true });
  const [policyFile, dir, ...rest] = positionals;
  if (policyFile === undefined || dir === undefined || rest.length > 0) throw new UsageError('test-policy takes POLICY and DIR');
  const now = parseNow(values.now);
  const policy = loadPolicy(policyFile);
  const cases = readPolicyTestCases(dir);
  if (cases.length === 0) {
    // A run that tests nothing must not pass.
    io.stderr(`scc-responder test-policy: no NAME.json findings in ${dir}\n`);
    return 1;
  }
  // The kill switch is left out on purpose: the tests are about the policy, not this shell's environment.
  const results = cases.map((c) => runPolicyTest(c, policy, now));
  io.stdout(renderPolicyTestTable(results));
  return results.every((r) => r.passed) ? 0 : 1;
};

const respondCommand: Command = async (args, io) => {
  const { values } = parseArgs({
    args,
    options: { ...FINDING_FLAGS, 'no-evidence': { type: 'boolean' } },
    strict: true,
    allowPositionals: false,
  });
  if (values.finding === undefined) throw new UsageError('--finding FILE is required');
  const policy = policyFromFlags(values.policy, io);
  // A fixed --now replays a finding at a given time; without it the real clock also times each step.
  const fixed = values.now === undefined ? undefined : parseNow(values.now);
  const now = fixed ? () => fixed : () => new Date();
  const input = readFindingFile(values.finding, io);
  // Same composition as the function (cluster access from the policy, budget/ledger/sinks from the env);
  // step logs go to stderr so stdout is one JSON document.
  const [{ compose }, { handleInput }, { jsonLineLogger }] = await Promise.all([
    import('./wiring/compose.ts'),
    import('./pipeline/respond.ts'),
    import('./log.ts'),
  ]);
  const log = jsonLineLogger((line) => io.stderr(line + '\n'), 'INFO');
  const { deps } = compose({ env: io.env, policy, log, now });
  if (values['no-evidence']) delete deps.evidenceGatherer;
  // A finding exported from the console after a response carries our SCC marks: a person passing
  // it in means it, so it is not ignored as the echo of our own write-back.
  deps.acceptOwnEcho = true;
  // An enforced run gets the same claim and blast-radius budget as the function: Firestore, or on
  // one machine the local ledger. A dry run writes nothing and needs neither; it also must not mark
  // the finding handled, or the enforced run that follows would be acked as its duplicate.
  const { plan: makePlan } = await import('./core/plan/plan.ts');
  const dryRun = (() => {
    try {
      return makePlan(decodeInput(input), policy, now(), { forceDryRun: parseEnv(io.env).SCC_RESPONDER_FORCE_DRY_RUN, acceptOwnEcho: true }).dryRun;
    } catch {
      return true; // malformed: handleInput reports it
    }
  })();
  const ledger = dryRun ? null : await cliLedger(io);
  if (ledger) {
    log.log('INFO', 'ledger', `respond uses the ${ledger.where}`);
    Object.assign(deps, { ledger: ledger.deps.ledger, budget: ledger.deps.budget });
  }
  let result;
  try {
    result = await handleInput(input, deps);
  } finally {
    await ledger?.close();
  }
  const output = result.summary ?? {
    status: result.status,
    ...(result.error ? { error: result.error } : {}),
    plan: result.plan ? printablePlan(result.plan, policy.redaction) : undefined,
    outcomes: result.containment?.outcomes ?? [],
    warnings: result.containment?.warnings ?? [],
  };
  io.stdout(JSON.stringify(output, null, 2) + '\n');
  const failed = result.containment?.outcomes.some((o) => o.status === 'failed') ?? false;
  return result.status === 'malformed' ? 1 : failed ? 3 : 0;
};

/**
 * The ledger the CLI uses: Firestore when FIRESTORE_DATABASE is set (as the function), else the
 * local one-machine store. Only the CLI ever builds the local store: the function requires
 * Firestore, shared by its instances, and never falls back to a file.
 */
async function cliLedger(io: CliIo): Promise<{ deps: Pick<PipelineDeps, 'ledger' | 'budget'> & { incidents: () => Promise<IncidentStore> }; close: () => Promise<void>; where: string }> {
  const config = parseEnv(io.env);
  if (config.FIRESTORE_DATABASE) {
    const { reportWiring } = await import('./wiring/report-sinks.ts');
    const wiring = reportWiring(config, io.env);
    return {
      deps: { ledger: wiring.ledger!, budget: wiring.budget!, incidents: wiring.incidents! },
      close: async () => {
        const store = (await wiring.ledger!()) as unknown as { close?: () => Promise<void> };
        await store.close?.();
      },
      where: `Firestore database ${config.FIRESTORE_DATABASE}`,
    };
  }
  const [{ localLedgerFromEnv, localLedgerPath }, { LEDGER_TTL_DAYS }] = await Promise.all([import('./adapters/local-ledger.ts'), import('./wiring/report-sinks.ts')]);
  const store = localLedgerFromEnv(io.env, { leaseSeconds: config.LEDGER_LEASE_SECONDS, ttlDays: LEDGER_TTL_DAYS });
  const get = async () => store;
  return { deps: { ledger: get, budget: get, incidents: get }, close: () => store.close(), where: `local ledger ${localLedgerPath(io.env)}` };
}

const releaseCommand: Command = async (args, io) => {
  const { values } = parseArgs({
    args,
    options: { ...FINDING_FLAGS, incident: { type: 'string' }, cluster: { type: 'string' }, 'dry-run': { type: 'boolean' } },
    strict: true,
    allowPositionals: false,
  });
  if ((values.finding === undefined) === (values.incident === undefined)) throw new UsageError('release takes --finding FILE or --incident ID (one of them)');
  if (values.cluster !== undefined && !/^projects\/[^/]+\/locations\/[^/]+\/clusters\/[^/]+$/.test(values.cluster)) {
    throw new UsageError('--cluster must be projects/PROJECT/locations/LOCATION/clusters/CLUSTER');
  }
  const policy = policyFromFlags(values.policy, io);
  const fixed = values.now === undefined ? undefined : parseNow(values.now);
  const now = fixed ? () => fixed : () => new Date();
  const subject = values.finding !== undefined ? { finding: readFindingFile(values.finding, io) } : { incidentId: values.incident! };
  const [{ compose }, { releaseIncident }, { jsonLineLogger }] = await Promise.all([import('./wiring/compose.ts'), import('./pipeline/release.ts'), import('./log.ts')]);
  const log = jsonLineLogger((line) => io.stderr(line + '\n'), 'INFO');
  const { deps } = compose({ env: io.env, policy, log, now });
  const ledger = await cliLedger(io);
  log.log('INFO', 'ledger', `release uses the ${ledger.where}`);
  try {
    const result = await releaseIncident(
      subject,
      { dryRun: values['dry-run'] === true, ...(values.cluster ? { cluster: values.cluster } : {}), by: io.env.USER ?? null },
      {
        policy,
        now,
        log,
        connector: async () => (await import('./adapters/gke-cluster-access.ts')).createClusterAccess({ policy }),
        incidents: ledger.deps.incidents,
        ...(deps.summarySinks ? { summarySinks: deps.summarySinks } : {}),
      },
    );
    io.stdout(JSON.stringify(result.summary, null, 2) + '\n');
    return result.outcomes.some((o) => o.status === 'failed') ? 3 : 0;
  } finally {
    await ledger.close();
  }
};

/** "7d", "24h", "90m" or an RFC 3339 time → the time it names. */
function parseSince(value: string | undefined, now: Date): Date {
  const m = /^(\d{1,4})([dhm])$/.exec(value ?? '7d');
  if (m) return new Date(now.getTime() - Number(m[1]) * { d: 86_400_000, h: 3_600_000, m: 60_000 }[m[2] as 'd' | 'h' | 'm']);
  return parseNow(value);
}

const incidentsCommand: Command = async (args, io) => {
  const { values } = parseArgs({ args, options: { since: { type: 'string' }, json: { type: 'boolean' }, now: { type: 'string' } }, strict: true, allowPositionals: false });
  const now = parseNow(values.now);
  const since = parseSince(values.since, now);
  const ledger = await cliLedger(io);
  try {
    const records = await (await ledger.deps.incidents()).listIncidents(since);
    if (values.json) {
      io.stdout(JSON.stringify(records, null, 2) + '\n');
      return 0;
    }
    const { renderIncidents } = await import('./core/ledger/incidents-table.ts');
    io.stdout(renderIncidents(records, ledger.where, since));
    return 0;
  } finally {
    await ledger.close();
  }
};

export const COMMANDS: Record<string, Command> = {
  plan: planCommand,
  'validate-policy': validatePolicyCommand,
  'test-policy': testPolicyCommand,
  respond: respondCommand,
  release: releaseCommand,
  incidents: incidentsCommand,
};

/** Runs the CLI; returns the exit code. Exported for tests. */
export async function runCli(io: CliIo): Promise<number> {
  const [name, ...args] = io.argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    io.stdout(USAGE + '\n');
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  if (!command) {
    io.stderr(`scc-responder: unknown command ${JSON.stringify(name)}\n${USAGE}\n`);
    return 2;
  }
  try {
    return await command(args, io);
  } catch (error) {
    io.stderr(`scc-responder ${name}: ${describeError(error)}\n`);
    if (error instanceof PolicyError) {
      for (const problem of error.problems) io.stderr(`  - ${problem}\n`);
    }
    return error instanceof UsageError || isParseArgsError(error) ? 2 : 1;
  }
}

function isParseArgsError(error: unknown): boolean {
  return typeof (error as { code?: unknown })?.code === 'string' && String((error as { code: string }).code).startsWith('ERR_PARSE_ARGS');
}

function describeError(error: unknown): string {
  if (error instanceof PolicyError) return error.message.split(':')[0] + ':';
  if (error instanceof Error) return error.message;
  return String(error);
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (invokedDirectly || process.argv[1]?.endsWith('/scc-responder')) {
  const io: CliIo = {
    argv: process.argv.slice(2),
    env: process.env,
    readStdin: () => readFileSync(0, 'utf8'),
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
  };
  runCli(io).then((code) => {
    process.exitCode = code;
  });
}
