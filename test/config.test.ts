import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { ConfigError, ENV_VARS, parseEnv } from '../src/config.ts';

describe('environment configuration', () => {
  it('defaults to a dry-run, report-only responder', () => {
    expect(parseEnv({})).toEqual({
      SCC_RESPONDER_FORCE_DRY_RUN: false,
      LOG_LEVEL: 'INFO',
      SCC_WRITEBACK: false,
      SCC_RESPONDER_EVIDENCE: 'auto',
      LEDGER_COLLECTION: 'scc-responder-ledger',
      LEDGER_LEASE_SECONDS: 600,
      LEDGER_TIMEOUT_SECONDS: 5,
      SCC_RESPONDER_TIMEOUT_SECONDS: 120,
    });
  });

  it('reads the ledger lease terraform derives from the function timeout', () => {
    expect(parseEnv({ LEDGER_LEASE_SECONDS: '180' }).LEDGER_LEASE_SECONDS).toBe(180);
  });

  it.each([
    ['SCC_RESPONDER_FORCE_DRY_RUN', 'maybe'],
    ['LOG_LEVEL', 'verbose'],
    ['OPS_TOPIC', 'projects/x/topics/t'],
    ['FIRESTORE_DATABASE', 'Bad_DB'],
    ['EVIDENCE_BUCKET', 'gs://bucket'],
    ['SCC_RESPONDER_EVIDENCE', 'yes'],
    ['LEDGER_LEASE_SECONDS', '30'],
    ['LEDGER_LEASE_SECONDS', '10 minutes'],
    ['LEDGER_TIMEOUT_SECONDS', '0'],
    ['SCC_RESPONDER_TIMEOUT_SECONDS', '5'],
  ])('rejects a bad %s, naming it', (name, value) => {
    expect(() => parseEnv({ [name]: value })).toThrow(ConfigError);
    expect(() => parseEnv({ [name]: value })).toThrow(new RegExp(`^invalid configuration: ${name}:`));
  });

  it('never echoes a webhook URL in an error', () => {
    const secret = 'http://hooks.example.com/services/T000/B000/very-secret-token';
    let message = '';
    try {
      parseEnv({ SLACK_WEBHOOK_URL: secret });
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toMatch(/SLACK_WEBHOOK_URL/);
    expect(message).not.toContain('very-secret-token');
  });

  it('the configuration reference (docs/configuration.md) lists every variable the code reads', () => {
    const readme = readFileSync('docs/configuration.md', 'utf8');
    const section = readme.slice(readme.indexOf('<!-- section:configuration -->'), readme.indexOf('<!-- /section:configuration -->'));
    const documented = [...section.matchAll(/^\| `([A-Z_]+)` \|/gm)].map((m) => m[1]);
    expect(documented.sort()).toEqual([...ENV_VARS].sort());
  });
});
