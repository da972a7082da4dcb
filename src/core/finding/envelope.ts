// Tells apart the shapes a finding arrives in and unwraps them to one
// NotificationMessage. This is the edge: everything after it works on parsed data.
import * as z from 'zod';
import { findingSchema, notificationSchema, type Notification } from './schema.ts';

export const PUBSUB_MESSAGE_PUBLISHED = 'google.cloud.pubsub.topic.v1.messagePublished';

export type InputShape =
  | 'cloudevent'
  | 'pubsub-push'
  | 'pubsub-message'
  | 'notification'
  | 'console'
  | 'finding';

export interface PubsubMeta {
  messageId?: string;
  publishTime?: string;
  attributes?: Record<string, string>;
  subscription?: string;
}

export interface DecodedInput {
  shape: InputShape;
  notification: Notification;
  pubsub?: PubsubMeta;
}

/** A message that can never be processed; acked after one log line, never retried. */
export class DecodeError extends Error {
  override readonly name = 'DecodeError';
  /** Where in the input the problem is, e.g. "message.data" or "finding.processes.0.pid". */
  readonly path: string;
  constructor(message: string, path = '', options?: { cause?: unknown }) {
    super(path ? `${path}: ${message}` : message, options);
    this.path = path;
  }
}

const pubsubMessageSchema = z.looseObject({
  data: z.string().optional(),
  attributes: z.record(z.string(), z.string()).optional(),
  messageId: z.string().optional(),
  message_id: z.string().optional(),
  publishTime: z.string().optional(),
  publish_time: z.string().optional(),
});

const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Deeper than any SCC finding (its own fields nest about eight levels) and well inside the stack. */
export const MAX_JSON_DEPTH = 64;
export const TOO_DEEP = `[nested deeper than ${MAX_JSON_DEPTH} levels: dropped]`;

const LONE_SURROGATE = /[\uD800-\uDFFF]/gu;

/** Lone UTF-16 surrogates become U+FFFD: they cannot be encoded as UTF-8 (Pub/Sub, gRPC, Firestore refuse them). */
function wellFormed(value: string): string {
  return value.replace(LONE_SURROGATE, '\uFFFD');
}

/**
 * A copy of parsed JSON that every later step can walk and send: strings (keys
 * included) well-formed, and objects or arrays nested deeper than
 * MAX_JSON_DEPTH replaced by the TOO_DEEP marker, so that no recursive walk
 * (JSON.stringify in a sink, the bundle's redaction) can overflow the stack.
 * Iterative, so the input's own depth cannot. `__proto__` keys are dropped,
 * as the schema would drop them, so that no copy ever has a foreign prototype.
 */
export function boundJson(root: unknown): unknown {
  type Frame = { source: object; copy: unknown[] | Record<string, unknown>; depth: number };
  const stack: Frame[] = [];
  const visit = (value: unknown, depth: number): unknown => {
    if (typeof value === 'string') return wellFormed(value);
    if (typeof value !== 'object' || value === null) return value;
    if (depth > MAX_JSON_DEPTH) return TOO_DEEP;
    const copy = Array.isArray(value) ? [] : {};
    stack.push({ source: value, copy, depth });
    return copy;
  };
  const result = visit(root, 0);
  while (stack.length > 0) {
    const { source, copy, depth } = stack.pop()!;
    if (Array.isArray(copy)) {
      for (const item of source as unknown[]) copy.push(visit(item, depth + 1));
    } else {
      for (const [key, item] of Object.entries(source)) {
        if (key !== '__proto__') copy[wellFormed(key)] = visit(item, depth + 1);
      }
    }
  }
  return result;
}

function decodePubsubMessage(message: unknown, path: string): { notification: Notification; meta: PubsubMeta } {
  const parsed = pubsubMessageSchema.safeParse(message);
  if (!parsed.success) throw zodToDecodeError(parsed.error, path);
  const m = parsed.data;
  if (m.data === undefined || m.data === '') throw new DecodeError('Pub/Sub message has no data', `${path}.data`);
  const compact = m.data.replace(/\s+/g, '');
  if (!BASE64.test(compact)) throw new DecodeError('Pub/Sub message data is not base64', `${path}.data`);
  const text = Buffer.from(compact, 'base64').toString('utf8');
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new DecodeError('Pub/Sub message data is not JSON', `${path}.data`, { cause });
  }
  const inner = decodePayload(boundJson(json), `${path}.data`);
  const meta: PubsubMeta = {};
  const messageId = m.messageId ?? m.message_id;
  const publishTime = m.publishTime ?? m.publish_time;
  if (messageId !== undefined) meta.messageId = messageId;
  if (publishTime !== undefined) meta.publishTime = publishTime;
  if (m.attributes !== undefined) meta.attributes = m.attributes;
  return { notification: inner.notification, meta };
}

/** Decodes the JSON payload of a message: a NotificationMessage, a console export, or a bare finding. */
function decodePayload(json: unknown, path: string): { shape: InputShape; notification: Notification } {
  if (!isRecord(json)) throw new DecodeError('expected a JSON object', path);
  if (isRecord(json.finding)) {
    const parsed = notificationSchema.safeParse(json);
    if (!parsed.success) throw zodToDecodeError(parsed.error, path);
    const shape: InputShape = typeof json.notificationConfigName === 'string' ? 'notification' : 'console';
    return { shape, notification: parsed.data };
  }
  if (looksLikeFinding(json)) {
    const parsed = findingSchema.safeParse(json);
    if (!parsed.success) throw zodToDecodeError(parsed.error, path);
    return { shape: 'finding', notification: { finding: parsed.data } };
  }
  throw new DecodeError('not an SCC notification, console export or finding (no "finding", "category" or "resourceName")', path);
}

function looksLikeFinding(json: Record<string, unknown>): boolean {
  return typeof json.category === 'string' || typeof json.resourceName === 'string' || typeof json.canonicalName === 'string';
}

/**
 * Decodes any supported input: a CloudEvent (structured JSON, or the `data`
 * the functions framework hands over), a Pub/Sub push body, a Pub/Sub
 * message, a NotificationMessage, the console's {finding, resource}, or a bare finding.
 */
export function decodeInput(raw: unknown): DecodedInput {
  const input = boundJson(raw);
  if (!isRecord(input)) throw new DecodeError('expected a JSON object');

  // A CloudEvent (structured mode) carries the Pub/Sub push body in `data`.
  if (typeof input.specversion === 'string' || typeof input.type === 'string') {
    if (input.type !== PUBSUB_MESSAGE_PUBLISHED) {
      throw new DecodeError(`unsupported CloudEvent type ${JSON.stringify(String(input.type)).slice(0, 120)}`, 'type');
    }
    if (!isRecord(input.data) || !isRecord(input.data.message)) {
      throw new DecodeError('CloudEvent has no Pub/Sub message', 'data.message');
    }
    const { notification, meta } = decodePubsubMessage(input.data.message, 'data.message');
    if (typeof input.data.subscription === 'string') meta.subscription = input.data.subscription;
    return { shape: 'cloudevent', notification, pubsub: meta };
  }
  if (isRecord(input.message) && ('data' in input.message || 'messageId' in input.message)) {
    const { notification, meta } = decodePubsubMessage(input.message, 'message');
    if (typeof input.subscription === 'string') meta.subscription = input.subscription;
    return { shape: 'pubsub-push', notification, pubsub: meta };
  }
  if (typeof input.data === 'string' && !('finding' in input)) {
    const { notification, meta } = decodePubsubMessage(input, '');
    return { shape: 'pubsub-message', notification, pubsub: meta };
  }
  return decodePayload(input, '');
}

function zodToDecodeError(error: z.ZodError, base: string): DecodeError {
  const issue = error.issues[0];
  const path = [base, ...(issue?.path ?? []).map(String)].filter(Boolean).join('.');
  return new DecodeError(issue?.message ?? 'invalid input', path, { cause: error });
}
