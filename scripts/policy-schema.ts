// Writes policy/policy.schema.json from the zod policy schema (src/core/policy/policy.ts).
// Run after changing the schema: `npm run policy-schema`; test/policy-schema.test.ts
// fails while the committed file differs from what this writes.
import { writeFileSync } from 'node:fs';
import { policyJsonSchemaText } from '../src/core/policy/policy.ts';

const target = new URL('../policy/policy.schema.json', import.meta.url);
writeFileSync(target, policyJsonSchemaText());
process.stdout.write(`wrote ${target.pathname}\n`);
