// The ignore path loads no SDK: a fresh process loads the function entry,
// handles an out-of-scope finding through the registered handler, and lists
// every module it resolved (module.registerHooks sees ESM imports and CJS
// requires alike). Cold start is time-to-contain, and nearly every message is
// one to drop: it must not pay for Google or Kubernetes clients.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { bundleFunction, RUNTIME_NODE_OPTIONS } from '../../scripts/bundle.ts';
import { cloudEvent, notificationV1 } from '../support/fixtures.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const CHILD = `
import { registerHooks } from 'node:module';
const seen = new Set();
registerHooks({ resolve(specifier, context, next) { const r = next(specifier, context); seen.add(r.url); return r; } });
const { getFunction } = await import('@google-cloud/functions-framework/testing');
await import(process.env.ENTRY);
await getFunction('sccResponder')(JSON.parse(process.env.EVENT));
process.stdout.write('\\nMODULES ' + JSON.stringify([...seen]) + '\\n');
process.exit(0);
`;

function modulesLoadedFor(event: unknown, env: Record<string, string> = {}, entry = new URL('../../src/index.ts', import.meta.url).href): string[] {
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', CHILD], {
    cwd: ROOT,
    encoding: 'utf8',
    env: {
      PATH: process.env.PATH ?? '',
      ENTRY: entry,
      EVENT: JSON.stringify(event),
      LOG_LEVEL: 'DEBUG',
      // Every lazy path switched on: evidence (a Logging endpoint), the ledger, the ops topic.
      LOGGING_API_ENDPOINT: '127.0.0.1:9',
      FIRESTORE_DATABASE: '(default)',
      OPS_TOPIC: 'scc-ops',
      ...env,
    },
  });
  if (result.status !== 0) throw new Error(`child failed (${result.status}): ${result.stderr}`);
  // stdout also carries the function's JSON log lines.
  const line = /^MODULES (.*)$/m.exec(result.stdout)?.[1];
  if (!line) throw new Error(`no module list in child output: ${result.stdout.slice(-500)}`);
  return JSON.parse(line) as string[];
}

const SDKS = [
  '@google-cloud/pubsub',
  '@google-cloud/logging-api',
  '@google-cloud/container',
  '@google-cloud/firestore',
  '@google-cloud/storage',
  '@kubernetes/client-node',
  'google-auth-library',
  'google-gax',
  '@grpc/grpc-js',
];

describe('the ignore path', () => {
  it('loads no SDK and no adapter for an out-of-scope finding', () => {
    const n = notificationV1();
    n.finding.category = 'Added Binary Executed';
    const loaded = modulesLoadedFor(cloudEvent(n));
    // The hook saw the framework and the core: the list is real, not empty.
    expect(loaded.some((u) => u.includes('/node_modules/@google-cloud/functions-framework/'))).toBe(true);
    expect(loaded.some((u) => u.endsWith('/src/core/finding/envelope.ts'))).toBe(true);
    for (const sdk of SDKS) expect(loaded.filter((u) => u.includes(`/node_modules/${sdk}/`))).toEqual([]);
    expect(loaded.filter((u) => u.includes('/src/adapters/') || u.includes('/src/actions/') || u.includes('/src/pipeline/gather-evidence'))).toEqual([]);
  });

  it('malformed input loads none either', () => {
    const loaded = modulesLoadedFor({ ...cloudEvent({}), data: { message: { data: Buffer.from('not json').toString('base64') } } });
    for (const sdk of SDKS) expect(loaded.filter((u) => u.includes(`/node_modules/${sdk}/`))).toEqual([]);
  });
});

describe('the ignore path in the shipped bundle (npm run bundle)', () => {
  // Under the checkout, so the external Google clients and the framework resolve from node_modules/.
  const dir = join(ROOT, '.build', `test-bundle-${randomUUID().slice(0, 8)}`);
  let entry = '';
  let lazyChunks: string[] = [];
  // Output file name → the source files esbuild put into it.
  const inputsOf = new Map<string, string[]>();
  beforeAll(async () => {
    const { entry: built, metafile } = await bundleFunction(dir);
    entry = pathToFileURL(built).href;
    for (const [output, meta] of Object.entries(metafile.outputs)) inputsOf.set(output.split('/').pop()!, Object.keys(meta.inputs));
    // Every chunk that only an import() reaches: esbuild names them after their entry module.
    lazyChunks = Object.keys(metafile.outputs)
      .filter((o) => o.endsWith('.js'))
      .map((o) => o.split('/').pop()!)
      .filter((name) => /^(cluster-responder|gke-cluster-access|from-env|cloud-logging|gather-evidence|cloud-storage|firestore-ledger|pubsub-sink|webhook)-/.test(name));
  }, 60_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('keeps each adapter a lazy chunk: client-node is bundled, but not into what the entry loads', () => {
    expect(lazyChunks.some((c) => c.startsWith('gke-cluster-access-'))).toBe(true);
    expect(lazyChunks.some((c) => c.startsWith('cloud-logging-'))).toBe(true);
    const n = notificationV1();
    n.finding.category = 'Added Binary Executed';
    const loaded = modulesLoadedFor(cloudEvent(n), { NODE_OPTIONS: RUNTIME_NODE_OPTIONS }, entry);
    expect(loaded).toContain(entry);
    expect(loaded.some((u) => u.includes('/node_modules/@google-cloud/functions-framework/'))).toBe(true);
    for (const sdk of SDKS) expect(loaded.filter((u) => u.includes(`/node_modules/${sdk}/`))).toEqual([]);
    expect(loaded.filter((u) => lazyChunks.some((c) => u.endsWith(`/${c}`)))).toEqual([]);
    // What the loaded files hold: the core, zod, yaml; no adapter, no action, no client-node.
    const sources = loaded.filter((u) => u.startsWith(pathToFileURL(dir).href)).flatMap((u) => inputsOf.get(u.split('/').pop()!) ?? []);
    expect(sources).toContain('src/core/finding/envelope.ts');
    expect(sources.filter((f) => /node_modules\/@kubernetes\/|^src\/(adapters|actions)\/|^src\/evidence\/gather/.test(f))).toEqual([]);
  });
});
