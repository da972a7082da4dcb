// The package's one entry (package.json "main", src/index.ts) as Cloud Run loads
// it for each of the three functions it deploys: FUNCTION_TARGET names the
// function and only that one is loaded. The Slack endpoint must come up without
// composing the responder (it holds no cluster, ledger or Logging client): with a
// responder configuration that would stop the responder at start, it still serves.
import { afterAll, describe, expect, it } from '@jest/globals';
import { startFrameworkServer } from './support/framework-server.ts';
import type { FunctionServer } from './support/function-server.ts';
import { formBody, blockActionsPayload, post, signedHeaders, TEST_SIGNING_SECRET } from './support/slack-click.ts';

const servers: FunctionServer[] = [];
afterAll(() => {
  for (const s of servers) s.stop();
});

describe('src/index.ts serves the function FUNCTION_TARGET names', () => {
  it('sccResponderSlack: the endpoint only (a broken responder configuration does not matter to it)', async () => {
    const server = await startFrameworkServer(
      { target: 'sccResponderSlack', signatureType: 'http', source: 'src/index.ts' },
      {
        FUNCTION_TARGET: 'sccResponderSlack',
        SLACK_SIGNING_SECRET: TEST_SIGNING_SECRET,
        APPROVAL_TOPIC: 'projects/test-project/topics/approvals',
        // Would stop the responder at start: the endpoint never reads it.
        SCC_RESPONDER_POLICY_FILE: '/nonexistent/policy.yaml',
      },
    );
    servers.push(server);
    const body = formBody(blockActionsPayload({ incident: 'a'.repeat(64) }));
    const forged = await post(`http://127.0.0.1:${server.port}/`, body, signedHeaders(body, Math.floor(Date.now() / 1000), 'not-the-signing-secret-0000000000'));
    expect(forged.status).toBe(401);
  });

  it('sccResponder (no FUNCTION_TARGET): the responder, which does read its configuration at start', async () => {
    await expect(
      startFrameworkServer({ target: 'sccResponder', signatureType: 'cloudevent', source: 'src/index.ts' }, { SCC_RESPONDER_POLICY_FILE: '/nonexistent/policy.yaml' }),
    ).rejects.toThrow(/cannot read policy \/nonexistent\/policy\.yaml/);
  });
});
