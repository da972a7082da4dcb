// `npm run bundle`: the function as it ships. esbuild bundles src/index.ts with
// our code, @kubernetes/client-node, zod and yaml into .build/function/dist/
// (ESM, one file per lazy import(), external source maps pointing at src/ and
// node_modules/). Why: client-node's KubeConfig pulls in every generated API
// group (~20 MB of JavaScript); tree shaking keeps the few we call, which about
// halves the cold start and takes ~40 MiB off peak memory (README, "Performance").
//
// Stays external and ships in node_modules/ (installed from package-lock.json):
// - the functions framework: the runtime loads it and our module registers the
//   handler in *its* registry, so there must be exactly one copy;
// - the Google clients, gax, gRPC and auth: they read their .proto/.json files
//   relative to their own modules at run time.
//
// Layout (a package root, as deploy.sh stages it):
//   .build/function/dist/index.js   the entry ("main"), plus chunk-*.js and *.map
//   .build/function/policy/default.yaml   the default policy (src/composition.ts: ../policy/default.yaml)
import { build, type Metafile } from 'esbuild';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const DEFAULT_BUNDLE_DIR = join(ROOT, '.build', 'function');

/**
 * How the bundle runs: NODE_OPTIONS in terraform/function.tf (a test checks they match) and
 * for the benchmark's cold-start child. --enable-source-maps: stack traces name src/ files.
 * --max-semi-space-size=1 (MiB): a small young generation. Loading ~5 MB of code allocates in
 * bursts and V8 otherwise grows each semi-space to 16 MiB; capped, peak RSS for one finding
 * drops by about 25 MiB with no measurable cost in time to contain (README, "Performance").
 */
export const RUNTIME_NODE_OPTIONS = '--enable-source-maps --max-semi-space-size=1';

export const EXTERNAL = [
  '@google-cloud/*',
  'google-gax',
  'google-auth-library',
  '@grpc/*',
  // ws's optional native speed-ups: absent, and ws falls back when require() fails.
  'bufferutil',
  'utf-8-validate',
];

export interface BundleResult {
  /** Absolute path of the entry file (dist/index.js under the package root). */
  entry: string;
  metafile: Metafile;
}

export async function bundleFunction(packageDir: string = DEFAULT_BUNDLE_DIR): Promise<BundleResult> {
  const outdir = join(packageDir, 'dist');
  rmSync(packageDir, { recursive: true, force: true });
  const result = await build({
    absWorkingDir: ROOT,
    entryPoints: { index: 'src/index.ts' },
    outdir,
    bundle: true,
    // Each import() stays a separate chunk, loaded on first use: the ignore path loads no SDK.
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node22',
    external: EXTERNAL,
    // Stack traces name src/ files and lines under --enable-source-maps (terraform/function.tf).
    // The sources themselves are in the repository; leaving them out keeps the maps small.
    sourcemap: 'linked',
    sourcesContent: false,
    chunkNames: '[name]-[hash]',
    // Bundled CommonJS (yaml, parts of client-node's dependencies) calls require() for Node
    // built-ins; an ESM bundle has no require unless we give it one.
    banner: { js: "import { createRequire as __sccCreateRequire } from 'node:module'; const require = __sccCreateRequire(import.meta.url);" },
    // Whitespace and syntax only: identifiers keep their names, so a stack trace is legible
    // even without the map. V8 holds every script's source in the heap, so bytes are memory.
    minifyWhitespace: true,
    minifySyntax: true,
    minifyIdentifiers: false,
    legalComments: 'linked',
    metafile: true,
    logLevel: 'warning',
  });
  relativiseSourceMaps(outdir, result.metafile);
  mkdirSync(join(packageDir, 'policy'), { recursive: true });
  copyFileSync(join(ROOT, 'policy', 'default.yaml'), join(packageDir, 'policy', 'default.yaml'));
  return { entry: join(outdir, 'index.js'), metafile: result.metafile };
}

/**
 * esbuild writes map sources relative to the map's own place in this checkout
 * (../../../src/x.ts). The package puts dist/ at its root, so make them relative to that:
 * a deployed stack trace then reads /workspace/src/x.ts:LINE, the repository's own path.
 */
function relativiseSourceMaps(outdir: string, metafile: Metafile): void {
  const prefix = `${relative(outdir, ROOT)}/`;
  for (const output of Object.keys(metafile.outputs).filter((o) => o.endsWith('.map'))) {
    const file = join(ROOT, output);
    const map = JSON.parse(readFileSync(file, 'utf8')) as { sources: string[] };
    map.sources = map.sources.map((source) => (source.startsWith(prefix) ? `../${source.slice(prefix.length)}` : source));
    writeFileSync(file, JSON.stringify(map));
  }
}

if (import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const dir = process.argv[2] ? join(process.cwd(), process.argv[2]) : DEFAULT_BUNDLE_DIR;
  const { entry, metafile } = await bundleFunction(dir);
  const bytes = Object.values(metafile.outputs).reduce((n, o) => n + o.bytes, 0);
  process.stderr.write(`bundle: ${entry} (${Object.keys(metafile.outputs).length} files, ${(bytes / 1e6).toFixed(1)} MB with maps)\n`);
}
