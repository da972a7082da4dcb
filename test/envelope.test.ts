import { describe, expect, it } from '@jest/globals';
import { decodeInput, DecodeError } from '../src/core/envelope.ts';
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
