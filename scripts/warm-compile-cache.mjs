// The function package's `gcp-build` step (scripts/bundle.ts copies this file to
// the package root and names it in the package's package.json). Cloud Run
// functions build the source with the runtime's own Node and run this script in
// the build: it fills a V8 compile cache for the code the first response loads,
// so a cold instance reads compiled code instead of parsing and compiling ~6 MB
// of JavaScript. The cache only helps when the runtime reads it with the same
// Node, the same V8 flags and the same file paths: the build runs with the
// runtime's NODE_OPTIONS (the package.json script sets them), in the directory
// the runtime runs from, and the function's NODE_COMPILE_CACHE names this
// directory (terraform/function.tf). A cache that does not match is ignored by
// Node, never an error: the function then starts as it would without it.
//
// Plain JavaScript: it runs where no TypeScript tooling is installed.
import { spawnSync } from 'node:child_process';
import { enableCompileCache, flushCompileCache, constants } from 'node:module';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = dirname(fileURLToPath(import.meta.url));
const CACHE_DIR = join(root, '.compile-cache');
// scripts/bundle.ts writes RUNTIME_NODE_OPTIONS here (the flags terraform/function.tf sets):
// V8 rejects a code cache made under other flags.
const RUNTIME_NODE_OPTIONS = '__RUNTIME_NODE_OPTIONS__';

if (process.env.NODE_OPTIONS !== RUNTIME_NODE_OPTIONS) {
  const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url)], { stdio: 'inherit', env: { ...process.env, NODE_OPTIONS: RUNTIME_NODE_OPTIONS } });
  if (child.status !== 0) process.stderr.write(`compile cache not built (exit ${child.status ?? child.signal})\n`);
  process.exit(0);
}

const enabled = enableCompileCache(CACHE_DIR);
if (enabled.status === constants.compileCacheStatus.FAILED) {
  process.stderr.write(`compile cache not built: ${enabled.message}\n`);
  process.exit(0); // the function works without it; a build must not fail over a speed-up
}

// Loading a module compiles it; nothing here calls the handler (no cluster, no credentials in a build).
const loaded = [];
const failed = [];
async function load(specifier) {
  try {
    await import(specifier);
    loaded.push(specifier);
  } catch (error) {
    failed.push(`${specifier}: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`);
  }
}

// The entry registers the handler and reads the policy: the bundled default when the build sets no env.
await load(pathToFileURL(join(root, 'dist', 'index.js')).href);
for (const dir of [join(root, 'dist'), join(root, 'dist', 'vendor')]) {
  for (const file of readdirSync(dir).sort()) if (file.endsWith('.js')) await load(pathToFileURL(join(dir, file)).href);
}
// The clients the lazy chunks load on the way to the first write and after it.
for (const name of [
  '@google-cloud/container',
  '@google-cloud/firestore',
  '@google-cloud/pubsub',
  '@google-cloud/logging-api',
  '@google-cloud/storage',
  '@google-cloud/security-center',
  'google-auth-library',
]) {
  await load(name);
}
flushCompileCache();
process.stderr.write(`compile cache in ${CACHE_DIR}: ${loaded.length} modules loaded${failed.length ? `; not loaded: ${failed.join('; ')}` : ''}\n`);
// gRPC channels and timers of the loaded clients would keep the build step alive.
process.exit(0);
