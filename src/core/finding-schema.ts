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

export const findingSchema = z.looseObject({
  name: str.optional(),
  canonicalName: str.optional(),
  parent: str.optional(),
  resourceName: str.optional(),
  state: str.optional(),
  category: str.optional(),
  severity: str.optional(),
  mute: str.optional(),
  findingClass: str.optional(),
  eventTime: str.optional(),
  createTime: str.optional(),
  description: str.optional(),
  externalUri: str.optional(),
  sourceProperties: z.record(z.string(), z.unknown()).optional(),
  processes: z.array(processSchema).optional(),
  containers: z.array(containerSchema).optional(),
  kubernetes: kubernetesSchema.optional(),
  mitreAttack: z
    .looseObject({
      primaryTactic: str.optional(),
      primaryTechniques: z.array(str).optional(),
      additionalTactics: z.array(str).optional(),
      additionalTechniques: z.array(str).optional(),
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
  notificationConfigName: str.optional(),
  finding: findingSchema,
  resource: resourceSchema.optional(),
});

export type Finding = z.infer<typeof findingSchema>;
export type FindingProcess = z.infer<typeof processSchema>;
export type FindingResource = z.infer<typeof resourceSchema>;
export type Notification = z.infer<typeof notificationSchema>;
