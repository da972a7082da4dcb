// `npm run bundle`: the function as it ships. esbuild bundles src/index.ts with
// our code, @kubernetes/client-node, zod and yaml into
// .build/function/dist/ (ESM, one file per lazy import()). Why: client-node's
// KubeConfig pulls in every generated API group (~20 MB of JavaScript); a bundle
// keeps what is reachable, which about halves the cold start and takes ~40 MiB off
// peak memory (docs/performance.md).
//
// Two builds. Our code (and zod, see VENDORED): src/ → dist/, with linked source
// maps, so a stack trace names src/ files and lines. The other bundled packages:
// → dist/vendor/, with their source maps written but not linked. Under --enable-source-maps Node
// reads and parses the map of every module it loads, at load time: client-node's
// map alone is 2 MB, and reading it cost ~80 ms of the cold start and kept ~2.5 MiB
// of mappings on the heap for the instance's life. A vendor frame still reads
// `dist/vendor/<package>.js:LINE:COLUMN` with its function name (identifiers are not
// minified), and the unlinked .map beside it resolves the position offline.
//
// Stays external and ships in node_modules/ (installed from package-lock.json):
// - the functions framework: the runtime loads it and our module registers the
//   handler in *its* registry, so there must be exactly one copy;
// - the Google clients, gax, gRPC and auth: they read their .proto/.json files
//   relative to their own modules at run time.
//
// Layout (a package root, as deploy.sh stages it):
//   .build/function/dist/index.js   the entry ("main"), plus chunk-*.js and *.map
//   .build/function/dist/vendor/    the bundled packages, one file each (+ shared chunks)
//   .build/function/policy/default.yaml   the default policy (src/default-policy.ts: ../policy/default.yaml)
//   .build/function/warm-compile-cache.mjs the gcp-build step that fills the V8 compile cache
import { build, type BuildOptions, type Metafile, type Plugin } from 'esbuild';
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
 * drops by about 25 MiB with no measurable cost in time to contain (docs/performance.md).
 * --v8-pool-size=1: one V8 background thread instead of four. An instance has one vCPU or a
 * share of one, so more threads add no parallelism; they did add concurrent compile jobs whose
 * memory stacked on the main thread's, the source of the worst peaks (docs/performance.md).
 */
export const RUNTIME_NODE_OPTIONS = '--enable-source-maps --max-semi-space-size=1 --v8-pool-size=1';

/**
 * The package's `gcp-build` step (deploy.sh names it in the package.json it stages): Cloud
 * Build runs it with the runtime's own Node, and it fills the V8 compile cache that
 * NODE_COMPILE_CACHE (terraform/function.tf) points the runtime at (docs/performance.md).
 */
export const WARM_COMPILE_CACHE_SCRIPT = 'warm-compile-cache.mjs';
export const GCP_BUILD_SCRIPT = `node ${WARM_COMPILE_CACHE_SCRIPT}`;
/** Where the runtime finds the package (Cloud Run functions: /workspace), and the cache in it. */
export const COMPILE_CACHE_DIR = '/workspace/.compile-cache';

export const EXTERNAL = [
  '@google-cloud/*',
  'google-gax',
  'google-auth-library',
  '@grpc/*',
  // ws's optional native speed-ups: absent, and ws falls back when require() fails.
  'bufferutil',
  'utf-8-validate',
];

/**
 * The third-party packages bundled in rather than shipped in node_modules, and their file in
 * dist/vendor/. An import of one in src/ resolves to that file; the vendor build then exports
 * exactly the names our chunks import from it, which keeps esbuild's tree shaking (client-node
 * re-exported whole is twice the size).
 *
 * zod stays in our build: src/ imports it as a namespace (`import * as z`), and esbuild keeps
 * only the members used, 0.15 MB of its 0.58 MB. Across two builds that import would need all of it.
 */
export const VENDORED: Record<string, string> = {
  '@kubernetes/client-node': 'kubernetes-client-node',
  yaml: 'yaml',
};

export interface BundleResult {
  /** Absolute path of the entry file (dist/index.js under the package root). */
  entry: string;
  /** Both builds' metafiles merged: every output file and the inputs it holds. */
  metafile: Metafile;
}

const COMMON: BuildOptions = {
  absWorkingDir: ROOT,
  bundle: true,
  // Each import() stays a separate chunk, loaded on first use: the ignore path loads no SDK.
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node22',
  external: EXTERNAL,
  chunkNames: '[name]-[hash]',
  // Bundled CommonJS (yaml, parts of client-node's dependencies) calls require() for Node
  // built-ins; an ESM bundle has no require unless we give it one.
  banner: { js: "import { createRequire as __sccCreateRequire } from 'node:module'; const require = __sccCreateRequire(import.meta.url);" },
  // Whitespace and syntax only: identifiers keep their names, so a stack trace is legible
  // even without the map. V8 holds every script's source in the heap, so bytes are memory.
  minifyWhitespace: true,
  minifySyntax: true,
  minifyIdentifiers: false,
  // The maps name files; the sources themselves are in the repository and node_modules.
  sourcesContent: false,
  legalComments: 'linked',
  metafile: true,
  logLevel: 'warning',
};

/** The vendor build's entries: virtual modules re-exporting what our chunks import. */
function vendorEntries(sources: Map<string, string>): Plugin {
  return {
    name: 'vendor-entries',
    setup(b) {
      b.onResolve({ filter: /^vendor-entry:/ }, (args) => ({ path: args.path.slice('vendor-entry:'.length), namespace: 'vendor-entry' }));
      b.onLoad({ filter: /.*/, namespace: 'vendor-entry' }, (args) => ({ contents: sources.get(args.path)!, resolveDir: ROOT, loader: 'js' }));
    },
  };
}

/** Our build: a bare import of a vendored package becomes the vendor file, beside every chunk. */
const vendoredImports: Plugin = {
  name: 'vendored-imports',
  setup(b) {
    const names = Object.keys(VENDORED).map((n) => n.replace(/[/.]/g, '\\$&'));
    b.onResolve({ filter: new RegExp(`^(${names.join('|')})$`) }, (args) => ({ path: `./vendor/${VENDORED[args.path]}.js`, external: true }));
  },
};

/**
 * What our chunks import from each vendor file, read off esbuild's own output, whose import
 * statements have a fixed shape (`import{a,b as c}from"./vendor/x.js"`, `import d from…`,
 * `import*as n from…`). Any other shape fails the build rather than ship a missing export.
 */
export function vendorImports(chunks: string[]): Map<string, { names: Set<string>; star: boolean }> {
  const used = new Map(Object.values(VENDORED).map((file) => [file, { names: new Set<string>(), star: false }]));
  const statement = /import\s*(?:(\*\s*as\s+[\w$]+)|([\w$]+)?\s*,?\s*(?:\{([^}]*)\})?)\s*from\s*"\.\/vendor\/([\w.-]+)\.js"/g;
  for (const code of chunks) {
    let matched = 0;
    for (const m of code.matchAll(statement)) {
      const entry = used.get(m[4]!);
      if (!entry) throw new Error(`bundle: import of unknown vendor file ${m[4]}.js`);
      matched++;
      if (m[1]) entry.star = true;
      if (m[2]) entry.names.add('default');
      for (const spec of (m[3] ?? '').split(',')) {
        const name = spec.trim().split(/\s+as\s+/)[0]!;
        if (name) entry.names.add(name);
      }
    }
    const mentions = code.split('"./vendor/').length - 1;
    if (mentions !== matched) throw new Error(`bundle: ${mentions - matched} import(s) of dist/vendor/ in a shape this script does not read`);
  }
  return used;
}

export async function bundleFunction(packageDir: string = DEFAULT_BUNDLE_DIR): Promise<BundleResult> {
  const outdir = join(packageDir, 'dist');
  const vendorDir = join(outdir, 'vendor');
  rmSync(packageDir, { recursive: true, force: true });
  const ours = await build({
    ...COMMON,
    entryPoints: { index: 'src/index.ts' },
    outdir,
    // Stack traces name src/ files and lines under --enable-source-maps (terraform/function.tf).
    sourcemap: 'linked',
    plugins: [vendoredImports],
  });
  const chunks = Object.keys(ours.metafile!.outputs).filter((o) => o.endsWith('.js'));
  const sources = new Map<string, string>();
  const used = vendorImports(chunks.map((o) => readFileSync(join(ROOT, o), 'utf8')));
  for (const [pkg, file] of Object.entries(VENDORED)) {
    const { names, star } = used.get(file)!;
    const lines = [star ? `export * from '${pkg}';` : '', names.size ? `export { ${[...names].join(', ')} } from '${pkg}';` : ''];
    sources.set(file, lines.join('\n'));
  }
  const vendor = await build({
    ...COMMON,
    entryPoints: Object.fromEntries([...sources.keys()].map((file) => [file, `vendor-entry:${file}`])),
    outdir: vendorDir,
    // Written for offline use, not linked: see the top of this file.
    sourcemap: 'external',
    plugins: [vendorEntries(sources)],
  });
  relativiseSourceMaps(outdir, packageDir, ours.metafile!);
  relativiseSourceMaps(vendorDir, packageDir, vendor.metafile!);
  mkdirSync(join(packageDir, 'policy'), { recursive: true });
  copyFileSync(join(ROOT, 'policy', 'default.yaml'), join(packageDir, 'policy', 'default.yaml'));
  const warm = readFileSync(join(ROOT, 'scripts', 'warm-compile-cache.mjs'), 'utf8');
  writeFileSync(join(packageDir, WARM_COMPILE_CACHE_SCRIPT), warm.replace('__RUNTIME_NODE_OPTIONS__', RUNTIME_NODE_OPTIONS));
  const metafile: Metafile = {
    inputs: { ...vendor.metafile!.inputs, ...ours.metafile!.inputs },
    outputs: { ...vendor.metafile!.outputs, ...ours.metafile!.outputs },
  };
  return { entry: join(outdir, 'index.js'), metafile };
}

/**
 * esbuild writes map sources relative to the map's own place in this checkout
 * (../../../src/x.ts). The package puts dist/ at its root, so make them relative to that:
 * a deployed stack trace then reads /workspace/src/x.ts:LINE, the repository's own path.
 */
function relativiseSourceMaps(outdir: string, packageDir: string, metafile: Metafile): void {
  const prefix = `${relative(outdir, ROOT)}/`;
  const up = relative(outdir, packageDir);
  for (const output of Object.keys(metafile.outputs).filter((o) => o.endsWith('.map'))) {
    const file = join(ROOT, output);
    const map = JSON.parse(readFileSync(file, 'utf8')) as { sources: string[] };
    map.sources = map.sources.map((source) => (source.startsWith(prefix) ? `${up}/${source.slice(prefix.length)}` : source));
    writeFileSync(file, JSON.stringify(map));
  }
}

if (import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const dir = process.argv[2] ? join(process.cwd(), process.argv[2]) : DEFAULT_BUNDLE_DIR;
  const { entry, metafile } = await bundleFunction(dir);
  const bytes = Object.values(metafile.outputs).reduce((n, o) => n + o.bytes, 0);
  process.stderr.write(`bundle: ${entry} (${Object.keys(metafile.outputs).length} files, ${(bytes / 1e6).toFixed(1)} MB with maps)\n`);
}
