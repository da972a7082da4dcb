import { describe, expect, it } from '@jest/globals';
import { decodeInput, DecodeError, MAX_JSON_DEPTH, TOO_DEEP } from '../src/core/finding/envelope.ts';
import { cloudEvent, notificationV1, notificationV2, pubsubMessage, pushBody } from './support/fixtures.ts';

const FINDING_NAME = 'organizations/123456789012/sources/11223344556677889900/findings/6a7d4f1e2b3c4d5e8f9a0b1c2d3e4f50';

describe('decodeInput tells the input shapes apart', () => {
  it('a CloudEvent messagePublished', () => {
    const decoded = decodeInput(cloudEvent(notificationV1()));
    expect(decoded.shape).toBe('cloudevent');
    expect(decoded.notification.finding.name).toBe(FINDING_NAME);
    expect(decoded.pubsub).toEqual({
      messageId: '17368394120495518',
      publishTime: '2026-11-20T14:03:31.204Z',
      attributes: {},
      subscription: 'projects/example-sec-ops/subscriptions/scc-findings-push',
    });
  });

  it('a raw Pub/Sub push body', () => {
    const decoded = decodeInput(pushBody(notificationV1()));
    expect(decoded.shape).toBe('pubsub-push');
    expect(decoded.notification.notificationConfigName).toContain('notificationConfigs/');
  });

  it('a bare Pub/Sub message, including snake_case fields from some clients', () => {
    const message = pubsubMessage(notificationV1());
    expect(decodeInput(message).shape).toBe('pubsub-message');
    const snake = { data: message.data, message_id: '42', publish_time: '2026-11-20T14:03:31Z' };
    expect(decodeInput(snake).pubsub).toEqual({ messageId: '42', publishTime: '2026-11-20T14:03:31Z' });
  });

  it('a v1 and a v2 NotificationMessage', () => {
    expect(decodeInput(notificationV1()).shape).toBe('notification');
    const v2 = decodeInput(notificationV2());
    expect(v2.shape).toBe('notification');
    expect(v2.notification.finding.name).toContain('/locations/global/findings/');
  });

  it("the console's {finding, resource} export and an old payload without resource", () => {
    const { notificationConfigName: _, ...console } = notificationV1();
    expect(decodeInput(console).shape).toBe('console');
    const old = notificationV1();
    delete old.resource;
    expect(decodeInput(old).notification.resource).toBeUndefined();
  });

  it('a bare finding', () => {
    const decoded = decodeInput(notificationV1().finding);
    expect(decoded.shape).toBe('finding');
    expect(decoded.notification.finding.category).toBe('Unexpected Child Shell');
  });

  it('int64 fields as strings or numbers come out as strings', () => {
    const n = notificationV1();
    n.finding.processes[0].pid = 48213;
    n.finding.processes[0].binary.size = 125560;
    const p = decodeInput(n).notification.finding.processes?.[0];
    expect(p?.pid).toBe('48213');
    expect(p?.binary?.size).toBe('125560');
  });

  it('every field may be missing', () => {
    expect(decodeInput({ finding: {} }).notification.finding).toEqual({});
    expect(decodeInput({ category: 'Unexpected Child Shell' }).shape).toBe('finding');
  });

  it('keeps unknown fields (newer SCC versions add them)', () => {
    const n = notificationV1();
    n.finding.someFutureField = { x: 1 };
    expect(decodeInput(n).notification.finding).toHaveProperty('someFutureField');
  });
});

describe('decodeInput bounds what every later step walks and sends', () => {
  const isWellFormed = (v: string) => !/[\uD800-\uDFFF]/u.test(v);
  const strings = (v: unknown): string[] =>
    typeof v === 'string' ? [v] : typeof v === 'object' && v !== null ? Object.entries(v).flatMap(([k, c]) => [k, ...strings(c)]) : [];

  it('makes lone UTF-16 surrogates well-formed, in values and keys, whatever the shape', () => {
    const n = structuredClone(notificationV1());
    n.finding.processes[0].args = ['sh', '-c', 'echo \uD800 and \uDFFF', 'pair \uD83D\uDE00 kept'];
    n.finding.sourceProperties['key\uDBFF'] = 'v';
    for (const input of [n, pushBody(n), cloudEvent(n)]) {
      const finding = decodeInput(input).notification.finding;
      expect(finding.processes?.[0]?.args).toEqual(['sh', '-c', 'echo \uFFFD and \uFFFD', 'pair \uD83D\uDE00 kept']);
      expect(strings(finding).every(isWellFormed)).toBe(true);
    }
  });

  it('replaces objects nested deeper than 64 levels with a marker, without recursion', () => {
    const n = structuredClone(notificationV1());
    let deep: Record<string, unknown> = {};
    const top = deep;
    for (let i = 0; i < 100_000; i++) deep = (deep.a = {}) as Record<string, unknown>;
    n.finding.sourceProperties.deep = top;
    const finding = decodeInput(n).notification.finding;
    let level: unknown = finding.sourceProperties?.deep;
    let depth = 0;
    while (typeof level === 'object' && level !== null) [level, depth] = [(level as { a: unknown }).a, depth + 1];
    expect(level).toBe(TOO_DEEP);
    expect(depth).toBeLessThanOrEqual(MAX_JSON_DEPTH);
    expect(() => JSON.stringify(finding)).not.toThrow();
    expect(finding.sourceProperties?.Pod_Namespace).toBe('payments');
  });

  it('the same for a Pub/Sub message whose JSON text nests 100k levels', () => {
    const text = JSON.stringify(notificationV1()).replace('"sourceProperties":{', `"sourceProperties":{"deep":${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)},`);
    const message = { message: { data: Buffer.from(text).toString('base64'), messageId: '1' } };
    expect(() => JSON.stringify(decodeInput(message).notification)).not.toThrow();
  });

  it('drops __proto__ keys, so no copy gets a foreign prototype', () => {
    const n = JSON.parse('{"finding": {"category": "Unexpected Child Shell", "sourceProperties": {"__proto__": {"Pod_Name": "evil"}}}, "__proto__": {"x": 1}}');
    const decoded = decodeInput(n).notification;
    expect(Object.getPrototypeOf(decoded.finding.sourceProperties)).toBe(Object.prototype);
    expect(decoded.finding.sourceProperties?.Pod_Name).toBeUndefined();
  });

  const tooLong: Array<[string, (n: Record<string, any>) => void, RegExp]> = [
    ['a 1 MB finding name', (n) => (n.finding.name = `organizations/1/sources/2/findings/${'f'.repeat(1 << 20)}`), /^finding\.name: a resource name is longer than 512 characters/],
    ['a long canonicalName', (n) => (n.finding.canonicalName = 'x'.repeat(513)), /^finding\.canonicalName: /],
    ['a long resourceName', (n) => (n.finding.resourceName = 'x'.repeat(513)), /^finding\.resourceName: /],
    ['a long notificationConfigName', (n) => (n.notificationConfigName = 'x'.repeat(513)), /^notificationConfigName: /],
    ['a long eventTime', (n) => (n.finding.eventTime = '2026'.repeat(20)), /^finding\.eventTime: a timestamp is longer than 64/],
    ['a long category', (n) => (n.finding.category = 'c'.repeat(129)), /^finding\.category: an enum value is longer than 128/],
  ];
  it.each(tooLong)('refuses %s, without quoting it', (_name, change, message) => {
    const n = structuredClone(notificationV1());
    change(n);
    let error: unknown;
    try {
      decodeInput(n);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DecodeError);
    expect((error as DecodeError).message).toMatch(message);
    expect((error as DecodeError).message.length).toBeLessThan(200);
  });

  it('accepts a finding name of exactly 512 characters', () => {
    const n = structuredClone(notificationV1());
    n.finding.name = `organizations/1/sources/2/findings/${'f'.repeat(512 - 35)}`;
    expect(decodeInput(n).notification.finding.name).toHaveLength(512);
  });
});

describe('decodeInput rejects what can never be processed, naming where', () => {
  const cases: Array<[string, unknown, RegExp]> = [
    ['a JSON array', [], /expected a JSON object/],
    ['null', null, /expected a JSON object/],
    ['an unrelated object', { hello: 'world' }, /not an SCC notification/],
    ['another CloudEvent type', { ...cloudEvent(notificationV1()), type: 'google.cloud.storage.object.v1.finalized' }, /unsupported CloudEvent type/],
    ['a CloudEvent without a message', { ...cloudEvent(notificationV1()), data: {} }, /data\.message: CloudEvent has no Pub\/Sub message/],
    ['a push with empty data', { message: { data: '', messageId: '1' } }, /message\.data: Pub\/Sub message has no data/],
    ['data that is not base64', { message: { data: '%%%not base64%%%' } }, /not base64/],
    ['data that is not JSON', { message: { data: Buffer.from('not json{').toString('base64') } }, /message\.data: Pub\/Sub message data is not JSON/],
    ['data that is JSON but not a finding', pushBody({ foo: 'bar' }), /message\.data: not an SCC notification/],
  ];
  it.each(cases)('%s', (_name, input, message) => {
    expect(() => decodeInput(input)).toThrow(DecodeError);
    expect(() => decodeInput(input)).toThrow(message);
  });

  it('a wrongly typed field names its path', () => {
    const n = notificationV1();
    n.finding.processes[1].pid = 'one';
    expect(() => decodeInput(pushBody(n))).toThrow(/message\.data\.finding\.processes\.1\.pid/);
    const arr = notificationV1();
    arr.finding.processes = 'not-a-list';
    expect(() => decodeInput(arr)).toThrow(/finding\.processes/);
  });
});
