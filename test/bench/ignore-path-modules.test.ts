// The ignore path loads no SDK: a fresh process loads the function entry,
// handles an out-of-scope finding through the registered handler, and lists
// every module it resolved (module.registerHooks sees ESM imports and CJS
// requires alike). Cold start is time-to-contain, and nearly every message is
// one to drop: it must not pay for Google or Kubernetes clients.
import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
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

function modulesLoadedFor(event: unknown, env: Record<string, string> = {}): string[] {
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', CHILD], {
    cwd: ROOT,
    encoding: 'utf8',
    env: {
      PATH: process.env.PATH ?? '',
      ENTRY: new URL('../../src/index.ts', import.meta.url).href,
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
  '@google-cloud/logging',
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
    expect(loaded.some((u) => u.endsWith('/src/core/envelope.ts'))).toBe(true);
    for (const sdk of SDKS) expect(loaded.filter((u) => u.includes(`/node_modules/${sdk}/`))).toEqual([]);
    expect(loaded.filter((u) => u.includes('/src/adapters/') || u.includes('/src/actions/') || u.includes('/src/evidence/gather'))).toEqual([]);
  });

  it('malformed input loads none either', () => {
    const loaded = modulesLoadedFor({ ...cloudEvent({}), data: { message: { data: Buffer.from('not json').toString('base64') } } });
    for (const sdk of SDKS) expect(loaded.filter((u) => u.includes(`/node_modules/${sdk}/`))).toEqual([]);
  });
});
