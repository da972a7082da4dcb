// One cold start, measured by bench/run.ts: a fresh Node process loads the
// function entry exactly as Cloud Run does (BENCH_ENTRY: the esbuild bundle that
// ships, or for the baseline the unbundled tsc output), gets the handler registered as
// `sccResponder` and hands it one matching finding as a Pub/Sub CloudEvent.
// The parent times spawn → the first write its fake Kubernetes API receives.
//
// Plain JavaScript on purpose: a .ts child would make Node load its type
// stripper (~150 ms, ~15 MiB) into the very process being measured.
//
// argv[2] = "lazy" (the function as shipped) or "eager" (the baseline design:
// the five SDKs imported up front, before the entry, as static imports would).
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const mode = process.argv[2];
const entry = process.env.BENCH_ENTRY;
const eventFile = process.env.BENCH_EVENT_FILE;
if ((mode !== 'lazy' && mode !== 'eager') || !entry || !eventFile) {
  process.stderr.write('usage: BENCH_ENTRY=/abs/index.js BENCH_EVENT_FILE=… node cold-start-child.mjs lazy|eager\n');
  process.exit(2);
}

const EAGER_SDKS = [
  '@google-cloud/pubsub',
  '@google-cloud/logging-api',
  '@google-cloud/container',
  '@google-cloud/firestore',
  '@kubernetes/client-node',
];

if (mode === 'eager') {
  for (const name of EAGER_SDKS) await import(name);
}
const { getFunction } = await import('@google-cloud/functions-framework/testing');
await import(pathToFileURL(entry).href);
const handler = getFunction('sccResponder');
if (typeof handler !== 'function') throw new Error('sccResponder is not registered');

const event = JSON.parse(readFileSync(eventFile, 'utf8'));
let error = null;
try {
  await handler(event);
} catch (e) {
  error = e instanceof Error ? e.message : String(e);
}
// maxRSS is in KiB: the peak resident set of this process over its whole life.
const result = { mode, maxRssKiB: process.resourceUsage().maxRSS, error };
process.stderr.write(`BENCH_RESULT ${JSON.stringify(result)}\n`);
// gRPC channels and keep-alive agents would hold the process open.
process.exit(0);
