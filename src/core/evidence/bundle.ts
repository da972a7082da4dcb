// The kept evidence bundle: what goes under incidents/<finding id>/ and the
// manifest that lists each object's sha256 and size. Pure: bytes in, bytes out.
import { createHash } from 'node:crypto';
import type { LogEntryView } from './excerpts.ts';
import type { EvidenceQuery } from './logging-filter.ts';
import type { Plan } from '../plan/plan.ts';
import type { ClusterSnapshots } from '../ports.ts';
import { redactArgs, type RedactionRules } from '../summary/redact.ts';

export const MANIFEST_NAME = 'manifest.json';
export const REDACTED = '[redacted]';

export interface BundleObject {
  /** Relative to the bundle prefix. */
  name: string;
  contentType: string;
  bytes: Uint8Array;
}

export interface ManifestEntry {
  name: string;
  sha256: string;
  size: number;
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * incidents/<finding id>/ — the id is the last segment of the finding name. A
 * segment that is not a plain id (the name is attacker-influenced) is replaced
 * by a hash of the whole name, so it can never climb out of incidents/.
 */
export function bundlePrefix(plan: Pick<Plan, 'finding'>): string {
  const id = plan.finding.id;
  if (id !== null && /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/.test(id)) return `incidents/${id}/`;
  const name = plan.finding.name ?? plan.finding.canonicalName ?? '';
  return `incidents/name-sha256-${sha256Hex(new TextEncoder().encode(name)).slice(0, 32)}/`;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Deeper than any finding, pod or plan: what lies below is replaced, so no walk recurses without bound. */
export const MAX_BUNDLE_DEPTH = 64;
export const DEPTH_LIMIT = '[depth limit]';

const isStringList = (v: unknown): v is string[] => Array.isArray(v) && v.every((x) => typeof x === 'string');

/**
 * A deep copy with environment variable values replaced, except for names the
 * policy reveals (summary.revealEnvValues). Covers the finding's
 * `envVariables[{name, val}]` and a pod spec's `env[{name, value}]`: both can
 * hold secrets, and the original finding stays in SCC for whoever may read it.
 * With `args` rules, an object's `command` + `args` string lists (a process's
 * argv, a container's command line) are redacted as one argv.
 */
export function redactEnvValues(
  value: unknown,
  reveal: readonly string[] = [],
  /** args: rules for `command` / `args` string lists; null or absent keeps them raw. */
  options: { args?: RedactionRules | null } = {},
): unknown {
  const argRules = options.args ?? null;
  const walk = (v: unknown, key: string | null, depth: number): unknown => {
    if (depth > MAX_BUNDLE_DEPTH) return DEPTH_LIMIT;
    if (Array.isArray(v)) {
      const isEnv = key === 'env' || key === 'envVariables';
      return v.map((item) => {
        if (isEnv && isRecord(item)) {
          const copy = walk(item, null, depth + 1) as Record<string, unknown>;
          const name = typeof item.name === 'string' ? item.name : '';
          if (!reveal.includes(name)) {
            for (const field of ['val', 'value']) if (typeof copy[field] === 'string') copy[field] = REDACTED;
          }
          return copy;
        }
        return walk(item, null, depth + 1);
      });
    }
    if (isRecord(v)) {
      const out: Record<string, unknown> = {};
      for (const [k, child] of Object.entries(v)) {
        // defineProperty: a "__proto__" key from the input stays an own property of the copy.
        Object.defineProperty(out, k, { value: walk(child, k, depth + 1), enumerable: true, writable: true, configurable: true });
      }
      if (argRules !== null) redactArgv(out, argRules);
      return out;
    }
    return v;
  };
  return walk(value, null, 0);
}

function redactArgv(record: Record<string, unknown>, rules: RedactionRules): void {
  const command = Object.hasOwn(record, 'command') && isStringList(record.command) ? record.command : [];
  const args = Object.hasOwn(record, 'args') && isStringList(record.args) ? record.args : [];
  if (command.length + args.length === 0) return;
  // The finding's process has binary.path, the plan's binaryPath.
  const binary = isRecord(record.binary) ? record.binary.path : record.binaryPath;
  const program = typeof binary === 'string' ? binary : null;
  const redacted = redactArgs([...command, ...args], rules, program);
  if (command.length) record.command = redacted.slice(0, command.length);
  if (args.length) record.args = redacted.slice(command.length);
}

const json = (value: unknown): Uint8Array => new TextEncoder().encode(`${JSON.stringify(value, null, 2)}\n`);
const jsonLines = (values: readonly unknown[]): Uint8Array =>
  new TextEncoder().encode(values.map((v) => JSON.stringify(v)).join('\n') + (values.length > 0 ? '\n' : ''));

export interface BundleInput {
  plan: Plan;
  /** The notification as received (env values already redacted by the caller or here). */
  notification: unknown;
  snapshots: ClusterSnapshots;
  logs: ReadonlyArray<{ query: EvidenceQuery; entries: readonly LogEntryView[]; incomplete: string | null; truncated: boolean }>;
  revealEnvValues: readonly string[];
  /**
   * policy.redaction. Process and container args (finding, plan, pod) are
   * redacted unless it sets keepRawArgsInBundle; without it, with the built-in rules.
   */
  redaction?: RedactionRules & { keepRawArgsInBundle?: boolean };
}

/** The objects of a bundle (without the manifest), in a fixed order. */
export function bundleObjects(input: BundleInput): BundleObject[] {
  const { plan, snapshots } = input;
  const reveal = input.revealEnvValues;
  const args = input.redaction?.keepRawArgsInBundle === true ? null : (input.redaction ?? {});
  const redacted = (value: unknown) => redactEnvValues(value, reveal, { args });
  const objects: BundleObject[] = [
    { name: 'finding.json', contentType: 'application/json', bytes: json(redacted(input.notification)) },
    { name: 'plan.json', contentType: 'application/json', bytes: json(args === null ? plan : redacted(plan)) },
  ];
  if (snapshots.pod !== undefined) objects.push({ name: 'snapshots/pod.json', contentType: 'application/json', bytes: json(redacted(snapshots.pod)) });
  if (snapshots.node !== undefined) objects.push({ name: 'snapshots/node.json', contentType: 'application/json', bytes: json(snapshots.node) });
  if (snapshots.events !== undefined) objects.push({ name: 'snapshots/events.json', contentType: 'application/json', bytes: json(snapshots.events) });
  for (const [container, text] of Object.entries(snapshots.containerLogs ?? {})) {
    // Container names are DNS-1123 labels when they come from the API; anything else is hashed.
    const safe = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(container) ? container : `sha256-${sha256Hex(new TextEncoder().encode(container)).slice(0, 16)}`;
    objects.push({ name: `snapshots/container-logs/${safe}.log`, contentType: 'text/plain; charset=utf-8', bytes: new TextEncoder().encode(text) });
  }
  for (const log of input.logs) {
    objects.push({
      name: `logs/${log.query.kind}.jsonl`,
      contentType: 'application/x-ndjson',
      bytes: jsonLines([
        { query: log.query, count: log.entries.length, truncated: log.truncated, incomplete: log.incomplete },
        ...log.entries,
      ]),
    });
  }
  return objects;
}

export interface Manifest {
  version: 1;
  finding: string | null;
  prefix: string;
  createdAt: string;
  objects: ManifestEntry[];
}

export function buildManifest(prefix: string, finding: string | null, createdAt: string, entries: readonly ManifestEntry[]): BundleObject {
  const manifest: Manifest = {
    version: 1,
    finding,
    prefix,
    createdAt,
    objects: [...entries].sort((a, b) => a.name.localeCompare(b.name)),
  };
  return { name: MANIFEST_NAME, contentType: 'application/json', bytes: json(manifest) };
}
