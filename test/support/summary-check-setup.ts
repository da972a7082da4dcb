// Fails the test during which a summary that does not match the shipped schema
// was noted (test/support/summary-check.ts). afterAll catches the ones noted
// after a file's last test ended (a child process's late log line).
import { afterAll, afterEach } from '@jest/globals';
import { takeSummaryProblems } from './summary-check.ts';

function failOnProblems(): void {
  const problems = takeSummaryProblems();
  if (problems.length > 0) {
    throw new Error(`summaries that do not match schemas/summary-v1.schema.json:\n${problems.slice(0, 20).join('\n')}`);
  }
}

afterEach(failOnProblems);
afterAll(failOnProblems);
