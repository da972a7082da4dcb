// One CLI-like process on the local ledger, for the cross-process tests in
// test/ledger-contract.test.ts. Run with `node test/support/ledger-child.ts JOB`
// (Node's type stripping loads the .ts). It opens the store, prints "ready",
// waits for "go" on stdin so that its siblings start at the same moment, runs
// the job and prints one JSON line with the results.
import { createInterface } from 'node:readline';
import { LocalLedger } from '../../src/adapters/local-ledger.ts';
import type { BudgetLimits } from '../../src/core/ports.ts';

export type ChildJob =
  | { op: 'claim'; path: string; now: string; keys: string[] }
  | { op: 'reserve'; path: string; now: string; keys: string[]; cluster: string; namespace: string; limits: BudgetLimits };

/** claim: the claim kind per key. reserve: whether delete-pod was granted, per key. */
export type ChildResult = { op: 'claim'; kinds: string[] } | { op: 'reserve'; granted: boolean[] };

async function main(job: ChildJob): Promise<ChildResult> {
  const store = new LocalLedger({ path: job.path, leaseSeconds: 600, ttlDays: 30 });
  process.stdout.write('ready\n');
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) if (line === 'go') break;
  lines.close();
  const now = new Date(job.now);
  try {
    if (job.op === 'claim') {
      const kinds: string[] = [];
      for (const id of job.keys) kinds.push((await store.claim({ id, findingName: `race ${id.slice(0, 8)}`, eventTime: job.now }, now)).kind);
      return { op: 'claim', kinds };
    }
    const granted: boolean[] = [];
    for (const key of job.keys) {
      const decision = await store.reserve({ key, cluster: job.cluster, namespace: job.namespace, actions: ['delete-pod'], limits: job.limits, now });
      granted.push(decision.granted.includes('delete-pod'));
    }
    return { op: 'reserve', granted };
  } finally {
    await store.close();
  }
}

const job = JSON.parse(process.argv[2] ?? '{}') as ChildJob;
main(job).then(
  (result) => process.stdout.write(`${JSON.stringify(result)}\n`),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}\n`);
    process.exitCode = 1;
  },
);
