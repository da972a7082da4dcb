// One CLI-like process on the local ledger, for the cross-process tests in
// test/ledger-contract.test.ts. Run with `node test/support/ledger-child.ts PATH`
// (Node's type stripping loads the .ts). It opens the store, prints "ready",
// then runs one JSON command per stdin line, printing {n, phase: "started"}
// right before the store call and {n, result} or {n, error} after it. It closes
// the store and exits when stdin ends.
import { createInterface } from 'node:readline';
import { LocalLedger } from '../../src/adapters/local-ledger.ts';
import type { BudgetLimits } from '../../src/core/ports.ts';

export type ChildCommand =
  | { n: number; op: 'claim'; id: string; now: string }
  | { n: number; op: 'reserve'; key: string; cluster: string; namespace: string; limits: BudgetLimits; now: string };

/** claim: the claim's kind. reserve: whether delete-pod was granted. */
export type ChildReply = { n: number; phase: 'started' } | { n: number; result: string | boolean } | { n: number; error: string };

const path = process.argv[2];
if (!path) throw new Error('usage: ledger-child.ts PATH');
// A generous busy timeout: the test holds the write lock on purpose while both children queue for it.
const store = new LocalLedger({ path, leaseSeconds: 600, ttlDays: 30, busyTimeoutMs: 20_000 });
const reply = (message: ChildReply) => process.stdout.write(`${JSON.stringify(message)}\n`);
process.stdout.write('ready\n');

for await (const line of createInterface({ input: process.stdin })) {
  const command = JSON.parse(line) as ChildCommand;
  const now = new Date(command.now);
  reply({ n: command.n, phase: 'started' });
  try {
    if (command.op === 'claim') {
      const claim = await store.claim({ id: command.id, findingName: `race ${command.n}`, eventTime: command.now }, now);
      reply({ n: command.n, result: claim.kind });
    } else {
      const { key, cluster, namespace, limits } = command;
      const decision = await store.reserve({ key, cluster, namespace, actions: ['delete-pod'], limits, now });
      reply({ n: command.n, result: decision.granted.includes('delete-pod') });
    }
  } catch (error) {
    reply({ n: command.n, error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) });
  }
}
await store.close();
