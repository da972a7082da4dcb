// The layer rules (CONTRIBUTING.md, "Layers"), read from the import graph of src/:
// every static, dynamic, type-only and createRequire import counts, so a rule
// cannot be dodged by importing lazily or "only a type".
import { describe, expect, it } from '@jest/globals';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, posix } from 'node:path';
import { builtinModules } from 'node:module';

const SRC = 'src';

/** Where a file lives, as the rules name it. */
type Layer = 'core' | 'actions' | 'adapters' | 'pipeline' | 'wiring' | 'entry' | 'shared';

function layerOf(file: string): Layer {
  const [, top] = file.split('/');
  if (top === 'core' || top === 'actions' || top === 'adapters' || top === 'pipeline' || top === 'wiring') return top;
  // The composition roots: the package entry, the CLI and the other deployed functions.
  if (top === 'index.ts' || top === 'cli.ts' || top === 'functions') return 'entry';
  // config.ts, log.ts, default-policy.ts: small modules every root reads.
  return 'shared';
}

/** Which of our layers each layer may import from (itself included where listed). */
const MAY_IMPORT: Record<Layer, readonly Layer[]> = {
  core: ['core'],
  actions: ['core', 'actions'],
  // Adapters implement ports: the core's, and the Kubernetes port the actions declare (actions/kube-api.ts).
  adapters: ['core', 'actions', 'adapters'],
  pipeline: ['core', 'actions', 'pipeline'],
  wiring: ['core', 'actions', 'adapters', 'pipeline', 'wiring', 'shared'],
  entry: ['core', 'actions', 'adapters', 'pipeline', 'wiring', 'entry', 'shared'],
  shared: ['core', 'shared'],
};

/** Packages that talk to a Google API or the cluster: only adapters may load them. */
const SDK = /^(@google-cloud\/(?!functions-framework$)|@kubernetes\/|@grpc\/|google-auth-library$|google-gax$)/;
/** The runtime's host, which the deployed functions register with: only the entry points. */
const FRAMEWORK = '@google-cloud/functions-framework';
/** What the pure core may use besides itself: validation, YAML parsing and hashing, no I/O. */
const CORE_PACKAGES = new Set(['zod', 'yaml', 'node:crypto']);
/** Node built-ins the actions and the pipeline may use (no I/O: that is an adapter's job). */
const PURE_BUILTINS = new Set(['node:crypto']);

interface Edge {
  from: string;
  spec: string;
  /** Our file, for a relative import; null for a package. */
  to: string | null;
  typeOnly: boolean;
}

function sourceFiles(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(dir).sort()) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) sourceFiles(path, out);
    else if (entry.endsWith('.ts')) out.push(path.split('\\').join('/'));
  }
  return out;
}

// Comments are dropped first so that a path quoted in a comment is not an import.
function withoutComments(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, ' ').replace(/(^|[^:'"`\\])\/\/[^\n]*/g, '$1');
}

const IMPORT_FORMS = [
  // import x from '…' · import type { X } from '…' · export { x } from '…' · export * from '…'
  /(?<![\w$.'"-])(import|export)(\s+type)?\s+[^;'"`]*?\bfrom\s*(['"])([^'"]+)\3/g,
  // import '…' (side effects only)
  /(?<![\w$.'"-])import\s*(['"])([^'"]+)\1/g,
  // import('…') and typeof import('…')
  /(?<![\w$.'"-])import\s*\(\s*(['"])([^'"]+)\1\s*\)/g,
  // createRequire(import.meta.url)('…'), and requireCjs('…') once bound
  /\b(?:createRequire\(\s*import\.meta\.url\s*\)|require\w*)\s*\(\s*(['"])([^'"]+)\1\s*\)/g,
];

function importsOf(file: string, text: string): Edge[] {
  const code = withoutComments(text);
  const edges: Edge[] = [];
  const add = (spec: string, typeOnly: boolean) =>
    edges.push({ from: file, spec, typeOnly, to: spec.startsWith('.') ? posix.normalize(posix.join(posix.dirname(file), spec)) : null });
  for (const m of code.matchAll(IMPORT_FORMS[0]!)) {
    const clause = m[0];
    add(m[4]!, Boolean(m[2]) || /^import\s*\{\s*(?:type\s+[\w$]+(?:\s+as\s+[\w$]+)?\s*,?\s*)+\}/.test(clause));
  }
  for (const re of IMPORT_FORMS.slice(1)) for (const m of code.matchAll(re)) add(m[2]!, /typeof\s+$/.test(code.slice(Math.max(0, m.index! - 8), m.index)));
  return edges;
}

function packageName(spec: string): string {
  if (spec.startsWith('node:')) return spec.split('/')[0]!;
  if (builtinModules.includes(spec.split('/')[0]!)) return `node:${spec.split('/')[0]}`;
  return spec.split('/').slice(0, spec.startsWith('@') ? 2 : 1).join('/');
}

const files = sourceFiles(SRC);
const graph = files.flatMap((file) => importsOf(file, readFileSync(file, 'utf8')));

/** Every cycle among our files, each once, as the list of files around it. */
function cycles(edges: readonly Edge[]): string[][] {
  const next = new Map<string, string[]>();
  for (const e of edges) if (e.to !== null) next.set(e.from, [...(next.get(e.from) ?? []), e.to]);
  const found = new Map<string, string[]>();
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (file: string) => {
    state.set(file, 'open');
    stack.push(file);
    for (const to of next.get(file) ?? []) {
      if (state.get(to) === 'open') {
        const cycle = stack.slice(stack.indexOf(to));
        found.set([...cycle].sort().join(' '), cycle);
      } else if (!state.has(to)) visit(to);
    }
    stack.pop();
    state.set(file, 'done');
  };
  for (const file of [...next.keys()].sort()) if (!state.has(file)) visit(file);
  return [...found.values()];
}

describe('the import graph of src/', () => {
  it('is read from every file, with the forms the code uses', () => {
    // The graph itself must be right, or every rule below passes vacuously.
    expect(files.length).toBeGreaterThan(80);
    const sample = importsOf(
      'src/pipeline/x.ts',
      [
        "import { a } from '../core/a.ts';",
        "import type { B } from './b.ts';",
        "import { type C, type D as E } from '../core/c.ts';",
        "export { f } from '../actions/f.ts';",
        "const m = await import('../adapters/m.ts');",
        "type T = typeof import('@google-cloud/pubsub');",
        "const { X } = createRequire(import.meta.url)('@google-cloud/firestore');",
        "const y = requireCjs('@google-cloud/security-center/build/src/v2/x.js');",
        "// import { z } from '../adapters/commented.ts';",
        "const programs = { 'mariadb-import': 'mysql' };",
      ].join('\n'),
    );
    expect(sample.map((e) => [e.to ?? e.spec, e.typeOnly])).toEqual([
      ['src/core/a.ts', false],
      ['src/pipeline/b.ts', true],
      ['src/core/c.ts', true],
      ['src/actions/f.ts', false],
      ['src/adapters/m.ts', false],
      ['@google-cloud/pubsub', true],
      ['@google-cloud/firestore', false],
      ['@google-cloud/security-center/build/src/v2/x.js', false],
    ]);
    // The real tree: the adapters do load the SDKs, and the core does import zod.
    expect(graph.some((e) => e.from.startsWith('src/adapters/') && e.spec === '@kubernetes/client-node')).toBe(true);
    expect(graph.some((e) => e.from.startsWith('src/core/') && e.spec === 'zod')).toBe(true);
  });

  it('resolves every relative import to a file that exists', () => {
    const known = new Set(files);
    expect(graph.filter((e) => e.to !== null && !known.has(e.to)).map((e) => `${e.from} → ${e.spec}`)).toEqual([]);
  });

  it('follows the layer rules between our own folders', () => {
    const broken = graph
      .filter((e) => e.to !== null && !MAY_IMPORT[layerOf(e.from)].includes(layerOf(e.to)))
      .map((e) => `${e.from} (${layerOf(e.from)}) → ${e.to} (${layerOf(e.to!)})`);
    expect(broken).toEqual([]);
  });

  it('keeps the core pure: no SDK, no I/O module, nothing from outside it but zod, yaml and hashing', () => {
    const broken = graph.filter((e) => e.from.startsWith('src/core/') && e.to === null && !CORE_PACKAGES.has(packageName(e.spec)));
    expect(broken.map((e) => `${e.from} → ${e.spec}`)).toEqual([]);
  });

  it('lets only the adapters load a cloud or Kubernetes SDK, and only the entry points the functions framework', () => {
    const sdk = graph.filter((e) => e.to === null && SDK.test(e.spec) && layerOf(e.from) !== 'adapters');
    expect(sdk.map((e) => `${e.from} → ${e.spec}`)).toEqual([]);
    const framework = graph.filter((e) => e.spec === FRAMEWORK && layerOf(e.from) !== 'entry');
    expect(framework.map((e) => e.from)).toEqual([]);
  });

  it('keeps I/O out of the actions and the pipeline: they reach the world only through ports', () => {
    const broken = graph.filter((e) => (layerOf(e.from) === 'actions' || layerOf(e.from) === 'pipeline') && e.to === null && !PURE_BUILTINS.has(packageName(e.spec)) && packageName(e.spec).startsWith('node:'));
    expect(broken.map((e) => `${e.from} → ${e.spec}`)).toEqual([]);
    const packages = graph.filter((e) => (layerOf(e.from) === 'actions' || layerOf(e.from) === 'pipeline') && e.to === null && !packageName(e.spec).startsWith('node:'));
    expect(packages.map((e) => `${e.from} → ${e.spec}`)).toEqual([]);
  });

  it('has no import cycle, counting type-only imports', () => {
    expect(cycles(graph).map((cycle) => cycle.join(' → '))).toEqual([]);
  });

  it('finds a cycle and a broken rule when there is one (the checks can fail)', () => {
    const planted: Edge[] = [
      { from: 'src/core/a.ts', spec: './b.ts', to: 'src/core/b.ts', typeOnly: true },
      { from: 'src/core/b.ts', spec: './a.ts', to: 'src/core/a.ts', typeOnly: false },
    ];
    expect(cycles(planted)).toHaveLength(1);
    expect(MAY_IMPORT[layerOf('src/core/a.ts')]).not.toContain(layerOf('src/adapters/x.ts'));
    expect(MAY_IMPORT[layerOf('src/pipeline/a.ts')]).not.toContain(layerOf('src/adapters/x.ts'));
    expect(SDK.test('@google-cloud/firestore')).toBe(true);
    expect(SDK.test(FRAMEWORK)).toBe(false);
  });
});
