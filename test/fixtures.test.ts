// A fixture that does not decode through the official SCC proto3 JSON mapping
// is not a realistic fixture: walk each one against the shipped protos and fail
// on any unknown field or wrongly typed value.
import { describe, expect, it } from '@jest/globals';
import { createRequire } from 'node:module';
import protobuf from 'protobufjs';
import { loadFixture } from './support/fixtures.ts';

const require = createRequire(import.meta.url);
const root = protobuf.Root.fromJSON(require('@google-cloud/security-center/build/protos/protos.json'));

const INT64 = new Set(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);
const WELL_KNOWN_STRING = new Set(['google.protobuf.Timestamp', 'google.protobuf.Duration', 'google.protobuf.FieldMask']);

/** Returns the problems found walking `json` as message `type` under proto3 JSON rules. */
function checkMessage(type: protobuf.Type, json: unknown, path: string, problems: string[]): void {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    problems.push(`${path}: expected an object for ${type.fullName}`);
    return;
  }
  for (const [key, value] of Object.entries(json)) {
    const field = type.fields[key] ?? Object.values(type.fields).find((f) => f.name === key);
    if (!field) {
      problems.push(`${path}.${key}: no such field in ${type.fullName}`);
      continue;
    }
    field.resolve();
    if (field.map) continue;
    const items = field.repeated ? (Array.isArray(value) ? value : (problems.push(`${path}.${key}: expected array`), [])) : [value];
    items.forEach((item, i) => checkValue(field, item, field.repeated ? `${path}.${key}[${i}]` : `${path}.${key}`, problems));
  }
}

function checkValue(field: protobuf.Field, value: unknown, path: string, problems: string[]): void {
  const resolved = field.resolvedType;
  if (resolved instanceof protobuf.Enum) {
    if (typeof value !== 'string' || !(value in resolved.values)) problems.push(`${path}: ${JSON.stringify(value)} is not a ${resolved.name}`);
  } else if (resolved instanceof protobuf.Type) {
    const name = resolved.fullName.replace(/^\./, '');
    if (WELL_KNOWN_STRING.has(name)) {
      if (typeof value !== 'string') problems.push(`${path}: expected a string for ${name}`);
    } else if (name === 'google.protobuf.Struct' || name === 'google.protobuf.Value') {
      // any JSON
    } else checkMessage(resolved, value, path, problems);
  } else if (INT64.has(field.type)) {
    if (typeof value !== 'string' || !/^-?\d+$/.test(value)) problems.push(`${path}: int64 must be a decimal string, got ${JSON.stringify(value)}`);
  } else if (field.type === 'string') {
    if (typeof value !== 'string') problems.push(`${path}: expected string`);
  } else if (field.type === 'bool') {
    if (typeof value !== 'boolean') problems.push(`${path}: expected boolean`);
  } else if (['int32', 'uint32', 'double', 'float'].includes(field.type)) {
    if (typeof value !== 'number') problems.push(`${path}: expected number`);
  }
}

function problemsFor(version: 'v1' | 'v2', json: unknown): string[] {
  const type = root.lookupType(`google.cloud.securitycenter.${version}.NotificationMessage`);
  const problems: string[] = [];
  checkMessage(type, json, '', problems);
  return problems;
}

describe('fixtures decode through the official SCC protos', () => {
  it.each([
    ['notification-v1.json', 'v1'],
    ['notification-v2.json', 'v2'],
  ] as const)('%s is a valid %s NotificationMessage', (file, version) => {
    expect(problemsFor(version, loadFixture(file))).toEqual([]);
  });

  it('the checker catches a misspelt field and an int64 sent as a bare number', () => {
    const broken = loadFixture('notification-v1.json');
    broken.finding.processes[0].parent_pid_typo = '1';
    broken.finding.processes[0].pid = 48213;
    const problems = problemsFor('v1', broken);
    expect(problems).toEqual(
      expect.arrayContaining([expect.stringContaining('parent_pid_typo: no such field'), expect.stringContaining('pid: int64 must be a decimal string')]),
    );
  });

  it('v2 names carry /locations/global/', () => {
    const v2 = loadFixture('notification-v2.json');
    expect(v2.finding.name).toMatch(/^organizations\/\d+\/sources\/\d+\/locations\/global\/findings\/[a-f0-9]+$/);
  });
});
