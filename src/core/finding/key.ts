// The ledger key of a finding occurrence: every delivery of the same occurrence
// gets the same key, a new occurrence (a new eventTime) a new one.
import { createHash } from 'node:crypto';
import type { Finding } from './schema.ts';

/** Identifies one finding occurrence: finding name + eventTime, hashed into a document id. */
export interface FindingKey {
  id: string;
  findingName: string | null;
  eventTime: string | null;
}

/**
 * The ledger key of a finding occurrence: finding name + eventTime, hashed so
 * that an attacker-chosen name is never a document path. Without a name the
 * canonical name is used; without either, the key still exists (so dedupe
 * works) but is derived from the whole finding.
 *
 * The whole finding is hashed as the bytes JSON.stringify would give (so keys
 * are what they always were) but walked with an explicit stack: its unknown
 * fields may nest deeper than the call stack, and this key must exist for any
 * finding, decoded or not.
 */
export function findingKey(finding: Finding): FindingKey {
  const name = finding.name ?? finding.canonicalName ?? null;
  const eventTime = finding.eventTime ?? null;
  const hash = createHash('sha256');
  if (name !== null) {
    hash.update(`${name}\n${eventTime ?? ''}`);
    return { id: hash.digest('hex'), findingName: name, eventTime };
  }
  hash.update('finding\n');
  const skipped = (v: unknown) => v === undefined || typeof v === 'function' || typeof v === 'symbol';
  // Each entry is a value still to write, or ({text}) punctuation already decided.
  const pending: Array<{ text: string } | { value: unknown }> = [{ value: finding }];
  while (pending.length > 0) {
    const next = pending.pop()!;
    if ('text' in next) {
      hash.update(next.text);
      continue;
    }
    const { value } = next;
    if (typeof value !== 'object' || value === null) {
      hash.update(skipped(value) ? 'null' : JSON.stringify(value));
      continue;
    }
    const parts: Array<{ text: string } | { value: unknown }> = [];
    if (Array.isArray(value)) {
      parts.push({ text: '[' });
      value.forEach((item, i) => parts.push({ text: i > 0 ? ',' : '' }, { value: item }));
      parts.push({ text: ']' });
    } else {
      parts.push({ text: '{' });
      Object.entries(value)
        .filter(([, v]) => !skipped(v))
        .forEach(([k, v], i) => parts.push({ text: `${i > 0 ? ',' : ''}${JSON.stringify(k)}:` }, { value: v }));
      parts.push({ text: '}' });
    }
    for (let i = parts.length - 1; i >= 0; i--) pending.push(parts[i]!);
  }
  return { id: hash.digest('hex'), findingName: name, eventTime };
}
