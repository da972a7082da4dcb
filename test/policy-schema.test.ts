// The shipped JSON Schema is what the zod schema generates (npm run policy-schema),
// and the example and default policies point editors at it.
import { describe, expect, it } from '@jest/globals';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { policyJsonSchemaText } from '../src/core/policy.ts';

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
