// The shipped JSON Schema is what the zod schema generates (npm run policy-schema),
// and the example and default policies point editors at it.
import { describe, expect, it } from '@jest/globals';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { Ajv } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { policyJsonSchemaText, validatePolicy } from '../src/core/policy/policy.ts';

const SCHEMA_FILE = 'policy/policy.schema.json';

describe('policy/policy.schema.json', () => {
  it('is exactly what the zod schema generates (run `npm run policy-schema` after changing the schema)', () => {
    expect(readFileSync(SCHEMA_FILE, 'utf8')).toBe(policyJsonSchemaText());
  });

  it('describes exceptions, process conditions and refuses unknown fields', () => {
    const schema = JSON.parse(policyJsonSchemaText());
    expect(schema.$schema).toBe('http://json-schema.org/draft-07/schema#');
    expect(schema.additionalProperties).toBe(false);
    expect(schema.properties.exceptions.items.required).toEqual(['name', 'reason', 'expires', 'match']);
    expect(Object.keys(schema.definitions.ProcessMatch.properties)).toEqual(['names', 'binaryPaths', 'sha256', 'args', 'argsContain', 'scriptPaths']);
    expect(Object.keys(schema.definitions.Match.properties)).toEqual(expect.arrayContaining(['namespaces', 'parent', 'child']));
    // Editors read patterns without the `u` flag: none may rely on it.
    expect(policyJsonSchemaText()).not.toMatch(/\\\\p\{/);
  });

  it.each(['examples/policy.yaml', 'policy/default.yaml'])('%s names the schema for yaml-language-server, and uses only its top-level keys', (file) => {
    const text = readFileSync(file, 'utf8');
    const ref = /^# yaml-language-server: \$schema=(\S+)$/m.exec(text)?.[1];
    expect(ref).toBeDefined();
    expect(existsSync(join(dirname(file), ref!))).toBe(true);
    expect(join(dirname(file), ref!)).toBe(SCHEMA_FILE);
    const keys = Object.keys(JSON.parse(policyJsonSchemaText()).properties);
    for (const key of Object.keys(parseYaml(text))) expect(keys).toContain(key);
  });
});

// The policies this repository shows people validate against the schema editors and
// consumers get (the shipped file, read from disk), and are valid policies too.
describe('every policy the repository shows', () => {
  const ajv = new Ajv({ strict: true, allErrors: true, allowUnionTypes: true });
  addFormatsModule.default(ajv);
  const validate = ajv.compile(JSON.parse(readFileSync(SCHEMA_FILE, 'utf8')));
  const docs = ['README.md', 'CONTRIBUTING.md', ...readdirSync('docs').filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
  const blocks = docs.flatMap((file) =>
    [...readFileSync(file, 'utf8').matchAll(/```yaml\n([\s\S]*?)```/g)]
      .map((m, i) => ({ where: `${file} yaml block ${i + 1}`, value: parseYaml(m[1]!) as unknown }))
      // A block holding only the editor's schema comment is not a policy.
      .filter((b) => b.value !== null),
  );
  const policies = [
    ...['examples/policy.yaml', 'policy/default.yaml'].map((file) => ({ where: file, value: parseYaml(readFileSync(file, 'utf8')) as unknown })),
    ...blocks,
  ];

  it('finds the policies in the docs (the README\'s minimal one among them)', () => {
    expect(blocks.length).toBeGreaterThanOrEqual(8);
    expect(blocks.some((b) => b.where.startsWith('README.md'))).toBe(true);
  });

  it.each(policies.map((p) => [p.where, p.value] as const))('%s: the shipped JSON Schema and validate-policy both accept it', (_where, value) => {
    expect(validate(value) ? [] : validate.errors).toEqual([]);
    expect(() => validatePolicy(value)).not.toThrow();
  });

  it('refuses what validate-policy refuses: an unknown key, a wrong type, an unknown action', () => {
    for (const bad of [{ dryRun: true, dryrun: false }, { dryRun: 'yes' }, { rules: [{ name: 'r', actions: ['drop-table'] }] }]) {
      expect(validate(bad)).toBe(false);
      expect(() => validatePolicy(bad)).toThrow();
    }
  });
});
