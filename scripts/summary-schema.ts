// Writes schemas/summary-v1.schema.json, the JSON Schema of the ops summary, from its
// zod schema (src/core/summary/schema.ts). Run after changing the summary document:
// `npm run summary-schema`; test/summary-schema.test.ts fails while the shipped file
// differs from what this writes.
import { writeFileSync } from 'node:fs';
import { summaryJsonSchemaText } from '../src/core/summary/schema.ts';

const target = new URL('../schemas/summary-v1.schema.json', import.meta.url);
writeFileSync(target, summaryJsonSchemaText());
process.stdout.write(`wrote ${target.pathname}\n`);
