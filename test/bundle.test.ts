// The shipped package (npm run bundle): our code with linked source maps, the
// bundled third-party packages in dist/vendor/ with maps written but not linked,
// and every name our chunks import from a vendor file actually exported by it.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleFunction, VENDORED, vendorImports } from '../scripts/bundle.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

describe('vendorImports reads the import statements esbuild writes', () => {
  it('named, renamed, default and namespace imports, per vendor file', () => {
    const used = vendorImports([
      'import{KubeConfig,CoreV1Api as Core}from"./vendor/kubernetes-client-node.js";import YAML from"./vendor/yaml.js";',
      'import*as yaml from"./vendor/yaml.js";import{KubeConfig}from"./vendor/kubernetes-client-node.js";',
    ]);
    expect([...used.get('kubernetes-client-node')!.names].sort()).toEqual(['CoreV1Api', 'KubeConfig']);
    expect(used.get('yaml')).toEqual({ names: new Set(['default']), star: true });
  });

  it('fails on a shape it does not read, and on an unknown vendor file', () => {
    expect(() => vendorImports(['const m=await import("./vendor/yaml.js");'])).toThrow(/1 import\(s\) of dist\/vendor\/ in a shape/);
    expect(() => vendorImports(['import{x}from"./vendor/left-pad.js";'])).toThrow(/unknown vendor file left-pad\.js/);
  });
});

describe('the built package', () => {
  const dir = join(ROOT, '.build', `test-bundle-${randomUUID().slice(0, 8)}`);
  const dist = join(dir, 'dist');
  beforeAll(async () => {
    await bundleFunction(dir);
  }, 60_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('links source maps for our code only; vendor maps are written beside their files', () => {
    const ours = readdirSync(dist).filter((f) => f.endsWith('.js'));
    expect(ours).toContain('index.js');
    for (const file of ours) expect(readFileSync(join(dist, file), 'utf8')).toMatch(new RegExp(`//# sourceMappingURL=${file.replace('.', '\\.')}\\.map\\s*$`));
    const indexMap = JSON.parse(readFileSync(join(dist, 'index.js.map'), 'utf8')) as { sources: string[] };
    expect(indexMap.sources).toContain('../src/index.ts');
    // The vendored packages are in dist/vendor/ only (zod is in our build on purpose: scripts/bundle.ts).
    const ourSources = ours.flatMap((file) => (JSON.parse(readFileSync(join(dist, `${file}.map`), 'utf8')) as { sources: string[] }).sources);
    const vendoredSource = new RegExp(`node_modules/(${Object.keys(VENDORED).join('|')})/`);
    expect(ourSources.filter((s) => vendoredSource.test(s))).toEqual([]);

    for (const file of Object.values(VENDORED)) {
      const code = readFileSync(join(dist, 'vendor', `${file}.js`), 'utf8');
      expect(code).not.toContain('sourceMappingURL');
      expect(existsSync(join(dist, 'vendor', `${file}.js.map`))).toBe(true);
    }
    const k8sMap = JSON.parse(readFileSync(join(dist, 'vendor', 'kubernetes-client-node.js.map'), 'utf8')) as { sources: string[] };
    expect(k8sMap.sources.some((s) => s.startsWith('../../node_modules/@kubernetes/client-node/'))).toBe(true);
  });

  it('each vendor file exports every name our chunks import from it', () => {
    const chunks = readdirSync(dist)
      .filter((f) => f.endsWith('.js'))
      .map((f) => readFileSync(join(dist, f), 'utf8'));
    const used = vendorImports(chunks);
    // The client-node names the Kubernetes adapter uses: the list is real, not empty.
    expect(used.get('kubernetes-client-node')!.names).toContain('KubeConfig');
    const child = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const out = {}; for (const f of ${JSON.stringify(Object.values(VENDORED))}) out[f] = Object.keys(await import(${JSON.stringify(`${dist}/vendor/`)} + f + '.js')); console.log(JSON.stringify(out));`,
      ],
      { cwd: ROOT, encoding: 'utf8' },
    );
    expect(child.stderr).toBe('');
    const exported = JSON.parse(child.stdout) as Record<string, string[]>;
    for (const [file, { names }] of used) expect(exported[file]?.sort()).toEqual([...names].sort());
  });
});
