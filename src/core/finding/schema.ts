// zod schemas for the parts of an SCC finding (proto3 JSON mapping of
// google.cloud.securitycenter.v1/v2 Finding) that the responder reads.
// proto3 makes every field optional, and int64 fields arrive as JSON strings:
// every field here is optional, and unknown fields pass through untouched.
import * as z from 'zod';

/** int64 in proto3 JSON is a decimal string; accept numbers too and keep a string. */
export const int64 = z
  .union([z.string().regex(/^-?\d{1,20}$/, 'expected an integer'), z.number().int()])
  .transform((v) => String(v));

const str = z.string();

/**
 * Identifying strings are bounded here, at the edge, because they travel whole:
 * the finding name into the ledger document (Firestore refuses a field over
 * 1 MiB), pod and node annotations (256 KiB in all per object), log lines and
 * labels. Real names are about 120 characters
 * (`organizations/O/sources/S/locations/L/findings/F`, a 32-character id), so a
 * longer one is not an SCC finding: the message is refused (DecodeError: logged
 * once, acked), never cut, since a cut name could be another finding's.
 */
export const MAX_FINDING_NAME = 512;
const MAX_ENUM = 128;
const MAX_TIMESTAMP = 64;

const bounded = (max: number, what: string) =>
  z.string().max(max, `${what} is longer than ${max} characters: not from Security Command Center`);
const resourceName = bounded(MAX_FINDING_NAME, 'a resource name');
const enumName = bounded(MAX_ENUM, 'an enum value');
const timestamp = bounded(MAX_TIMESTAMP, 'a timestamp');

/**
 * MITRE tactic and technique names are proto enum names (EXECUTION, UNIX_SHELL)
 * that the summary and the evidence links look up in name → id tables. Anything
 * else is dropped here: `constructor` or `toString` would find a function on
 * a plain table's prototype, which crashed the summary.
 */
const MITRE_NAME = /^[A-Z][A-Z0-9_]{0,127}$/;
const mitreName = str.optional().transform((v) => (v !== undefined && MITRE_NAME.test(v) ? v : undefined));
const mitreNames = z
  .array(str)
  .optional()
  .transform((list) => list?.filter((v) => MITRE_NAME.test(v)));

export const fileSchema = z.looseObject({
  path: str.optional(),
  sha256: str.optional(),
  size: int64.optional(),
  hashedSize: int64.optional(),
  partiallyHashed: z.boolean().optional(),
});

export const envVariableSchema = z.looseObject({
  name: str.optional(),
  val: str.optional(),
});

export const processSchema = z.looseObject({
  name: str.optional(),
  binary: fileSchema.optional(),
  script: fileSchema.optional(),
  libraries: z.array(fileSchema).optional(),
  args: z.array(str).optional(),
  argumentsTruncated: z.boolean().optional(),
  envVariables: z.array(envVariableSchema).optional(),
  envVariablesTruncated: z.boolean().optional(),
  pid: int64.optional(),
  parentPid: int64.optional(),
});

export const labelSchema = z.looseObject({ name: str.optional(), value: str.optional() });

export const containerSchema = z.looseObject({
  name: str.optional(),
  uri: str.optional(),
  imageId: str.optional(),
  labels: z.array(labelSchema).optional(),
  createTime: str.optional(),
});

export const kubernetesSchema = z.looseObject({
  pods: z
    .array(
      z.looseObject({
        ns: str.optional(),
        name: str.optional(),
        labels: z.array(labelSchema).optional(),
        containers: z.array(containerSchema).optional(),
      }),
    )
    .optional(),
  nodes: z.array(z.looseObject({ name: str.optional() })).optional(),
  nodePools: z.array(z.looseObject({ name: str.optional() })).optional(),
});

/**
 * The finding's security marks (proto3 JSON `map<string, string>`). Read only to
 * recognise the responder's own write-back (core/scc/write-back.ts, isOwnEcho): an
 * entry that is not a string is dropped rather than refusing the finding, and the
 * record has no prototype, so a key named `constructor` is only a key.
 */
export const securityMarksSchema = z.looseObject({
  name: str.optional(),
  marks: z
    .record(z.string(), z.unknown())
    .optional()
    .transform((marks) => {
      if (marks === undefined) return undefined;
      const kept: Record<string, string> = Object.create(null);
      for (const [key, value] of Object.entries(marks)) if (typeof value === 'string') kept[key] = value;
      return kept;
    }),
  canonicalName: str.optional(),
});

export const findingSchema = z.looseObject({
  name: resourceName.optional(),
  canonicalName: resourceName.optional(),
  parent: resourceName.optional(),
  resourceName: resourceName.optional(),
  state: enumName.optional(),
  category: enumName.optional(),
  severity: enumName.optional(),
  mute: enumName.optional(),
  findingClass: enumName.optional(),
  eventTime: timestamp.optional(),
  createTime: timestamp.optional(),
  description: str.optional(),
  externalUri: str.optional(),
  sourceProperties: z.record(z.string(), z.unknown()).optional(),
  processes: z.array(processSchema).optional(),
  containers: z.array(containerSchema).optional(),
  kubernetes: kubernetesSchema.optional(),
  securityMarks: securityMarksSchema.optional(),
  mitreAttack: z
    .looseObject({
      primaryTactic: mitreName,
      primaryTechniques: mitreNames,
      additionalTactics: mitreNames,
      additionalTechniques: mitreNames,
    })
    .optional(),
});

export const resourceSchema = z.looseObject({
  name: str.optional(),
  displayName: str.optional(),
  type: str.optional(),
  project: str.optional(),
  projectDisplayName: str.optional(),
  parent: str.optional(),
  parentDisplayName: str.optional(),
  location: str.optional(),
});

export const notificationSchema = z.looseObject({
  notificationConfigName: resourceName.optional(),
  finding: findingSchema,
  resource: resourceSchema.optional(),
});

export type Finding = z.infer<typeof findingSchema>;
export type FindingProcess = z.infer<typeof processSchema>;
export type FindingResource = z.infer<typeof resourceSchema>;
export type Notification = z.infer<typeof notificationSchema>;
