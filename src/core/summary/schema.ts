// The zod schema of the ops summary document (./document.ts), and from it the JSON
// Schema that consumers of the ops topic validate with (npm run summary-schema
// writes schemas/summary-v1.schema.json; a test compares). The zod schema is
// strict: it holds the responder's own output to exactly the document's fields.
// The JSON Schema is not: within v1 fields are only ever added, so a consumer
// validating today must still accept tomorrow's summaries.
import * as z from 'zod';
import { ACTION_ORDER, OVERALL_OUTCOMES, QUIETABLE_SINKS } from '../policy/policy.ts';
import { SUMMARY_SCHEMA, type Summary } from './document.ts';

/** The document's `$id`: a name, not a location (the file ships with the code). */
export const SUMMARY_SCHEMA_ID = 'urn:scc-responder:summary:v1';

const text = z.string();
const nullableText = z.string().nullable();
/** Times the responder writes itself (Date#toISOString); times copied from the finding stay plain strings. */
const isoTime = z.iso.datetime();
const count = z.int().min(0);
const ms = z.number().nullable();

const processSchema = z
  .strictObject({
    name: nullableText,
    pid: nullableText,
    parentPid: nullableText,
    binary: nullableText,
    sha256: nullableText,
    virusTotalUrl: nullableText,
    args: z.array(text),
    argsTruncated: z.boolean().describe('SCC truncated the args, or the summary shortened or dropped some'),
    env: z
      .array(z.strictObject({ name: text, value: nullableText }))
      .describe('names always; value is null (redacted) unless policy summary.revealEnvValues lists the name'),
    envTruncated: z.boolean(),
  })
  .meta({ id: 'Process' });

const actionSchema = z
  .strictObject({
    type: z.enum(ACTION_ORDER),
    status: z.enum(['done', 'already', 'would', 'skipped', 'failed', 'partial', 'ineffective', 'pending']),
    reason: text,
    details: z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()])).optional(),
  })
  .meta({ id: 'Action' });

const linkSchema = z.strictObject({ id: text, name: text, url: nullableText });

const exceptionSchema = z
  .strictObject({
    name: text,
    reason: text,
    expires: isoTime,
    owner: nullableText,
    sinks: z.array(z.enum(QUIETABLE_SINKS)),
    muteRule: z
      .strictObject({ filter: text, fields: z.array(text), broaderBy: z.array(text), gcloud: text, note: text })
      .nullable()
      .describe('the SCC mute rule that would mute such findings at the source: suggested, never applied'),
  })
  .meta({ id: 'Exception' });

const ownerSchema = z.strictObject({
  who: text,
  source: z.enum(['essential-contacts', 'cluster-label', 'namespace-label', 'namespace-annotation', 'workload-label']),
  key: nullableText.describe('the label or annotation key it came from; null for Essential Contacts'),
});

const sccSchema = z.strictObject({
  marks: z.strictObject({ status: z.enum(['written', 'skipped', 'failed']), values: z.record(z.string(), z.string()), reason: text }),
  state: z.strictObject({ status: z.enum(['set-inactive', 'unchanged', 'failed']), reason: text }),
});

const approvalSchema = z.strictObject({
  status: z.enum(['awaiting', 'approved', 'dismissed', 'expired', 'refused']),
  expiresAt: isoTime.nullable(),
  by: z.strictObject({ user: text, name: nullableText }).nullable(),
  reason: nullableText,
});

const evidenceSchema = z.strictObject({
  queries: z.array(z.strictObject({ kind: text, count, url: nullableText, excerpts: z.array(text), incomplete: nullableText })),
  links: z.record(z.string(), z.string()),
  bundle: nullableText,
  notes: z.array(text),
});

export const summarySchema = z.strictObject({
  schema: z.literal(SUMMARY_SCHEMA).describe('scc-responder.summary/v1; a breaking change gets a new version'),
  kind: z.literal('release').optional().describe('absent for a response; release for the summary of scc-responder release'),
  id: text.describe('ledger key: sha256 of finding name + eventTime (the same for every redelivery)'),
  headline: text.describe('one line for humans; starts with "UPDATE —" when it supersedes an earlier round\'s summary'),
  outcome: z.enum(OVERALL_OUTCOMES).describe('the overall outcome; contained only when every action is done or already'),
  round: z.int().min(1).describe('the delivery (ledger attempt) that built it: a later round supersedes an earlier one'),
  update: z.boolean().describe("an earlier round already sent a summary for this finding: this one is the update"),
  retrying: z.boolean().describe('actions are pending a retry: another summary follows'),
  finding: z
    .strictObject({
      name: nullableText,
      category: nullableText,
      severity: nullableText,
      state: nullableText,
      eventTime: nullableText,
      description: nullableText,
      consoleUrl: nullableText,
    })
    .describe('the SCC finding, as it named itself (bounded); consoleUrl links to the SCC console'),
  target: z
    .strictObject({
      project: nullableText,
      location: nullableText,
      cluster: nullableText,
      namespace: nullableText,
      pod: nullableText,
      container: nullableText,
      image: nullableText,
      imageId: nullableText,
      node: nullableText,
      problems: z.array(text).describe('why part of the target could not be acted on'),
    })
    .describe('the workload the finding is about'),
  processes: z
    .strictObject({ parent: processSchema.nullable(), child: processSchema.nullable(), count })
    .describe('the shell (child) and the process that spawned it (parent), matched by pid'),
  decision: z
    .strictObject({ decision: z.enum(['respond', 'ignore']), reason: text, rule: nullableText, dryRun: z.boolean() })
    .describe('what the policy decided, by which rule, and whether it was a dry run'),
  exception: exceptionSchema.nullable().optional().describe('set when a policy exception matched (outcome excepted)'),
  actions: z.array(actionSchema).describe('one per planned action, with its status and reason'),
  budget: z
    .strictObject({ exceeded: z.boolean(), denied: z.array(z.strictObject({ action: z.enum(ACTION_ORDER), reason: text })) })
    .describe('the blast-radius budget: whether it refused actions, and which'),
  warnings: z.array(text).describe('budget refusals, containment warnings, ledger problems'),
  owners: z.array(ownerSchema).optional().describe('who owns the workload, and where that was found'),
  ownerNotes: z.array(text).optional().describe('owner sources that failed or ran out of time'),
  scc: sccSchema.nullable().optional().describe('the write-back to the SCC finding (marks, state); null when not configured'),
  approval: approvalSchema.nullable().optional().describe('for approval: required rules: where the decision stands'),
  routes: z.array(text).optional().describe('the policy routes (by name) this summary also went to; [] for ops only'),
  evidence: evidenceSchema.nullable().describe('null when no gatherer ran; else the log queries, links, bundle and notes'),
  links: z.strictObject({ mitre: z.array(linkSchema), virusTotal: z.array(text) }).describe('MITRE ATT&CK and VirusTotal links'),
  timings: z
    .strictObject({
      eventTime: nullableText,
      publishTime: nullableText,
      receivedAt: isoTime,
      summarizedAt: isoTime,
      eventToSummaryMs: ms,
      containmentMs: ms,
      evidenceMs: ms,
    })
    .describe('when it happened, arrived and was summarized; durations in milliseconds'),
});

// Identical types, not merely assignable: mutual assignability would miss an optional field one side lacks.
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Assert<T extends true> = T;
type SummarySchemaMatchesDocument = Assert<Equal<z.output<typeof summarySchema>, Summary>>;

/**
 * The JSON Schema (draft-7) of the summary, for consumers of the ops topic.
 * Objects accept fields they do not list, since v1 only ever adds fields; the
 * responder's own output is held exactly by summarySchema instead.
 */
export function summaryJsonSchemaText(): string {
  const schema = z.toJSONSchema(summarySchema, {
    target: 'draft-7',
    io: 'output',
    override: (ctx) => {
      if (ctx.jsonSchema.additionalProperties === false) delete ctx.jsonSchema.additionalProperties;
    },
  });
  const { $schema, ...rest } = schema;
  return `${JSON.stringify(
    {
      $schema,
      $id: SUMMARY_SCHEMA_ID,
      title: SUMMARY_SCHEMA,
      description: 'The ops summary scc-responder sends for every finding (and release). Fields are only ever added within v1. See docs/summary.md.',
      ...rest,
    },
    null,
    2,
  )}\n`;
}
