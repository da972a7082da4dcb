// Reads the few fields of a google.cloud.audit.AuditLog an analyst needs from
// the protobuf bytes of a LogEntry's protoPayload (a google.protobuf.Any). The
// Logging client hands protoPayload over undecoded and ships no AuditLog proto,
// so this walks the wire format for five string fields and skips the rest.
// Field numbers: googleapis google/cloud/audit/audit_log.proto.

export const AUDIT_LOG_TYPE_URL = 'type.googleapis.com/google.cloud.audit.AuditLog';

export interface AuditSummary {
  serviceName: string | null;
  methodName: string | null;
  resourceName: string | null;
  principalEmail: string | null;
  callerIp: string | null;
}

const AUDIT = { serviceName: 7, methodName: 8, resourceName: 11, authenticationInfo: 3, requestMetadata: 4 } as const;
const MAX_BYTES = 1 << 20;

class Reader {
  pos = 0;
  readonly buf: Uint8Array;
  readonly end: number;
  constructor(buf: Uint8Array, start = 0, end = buf.length) {
    this.buf = buf;
    this.pos = start;
    this.end = end;
  }
  varint(): number {
    let result = 0;
    let shift = 0;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new Error('truncated varint');
      const byte = this.buf[this.pos++] ?? 0;
      if (shift < 49) result += (byte & 0x7f) * 2 ** shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7;
    }
    throw new Error('varint too long');
  }
  /** Returns [field, wireType, start, end] of the next field's payload (for length-delimited) or skips it. */
  next(): { field: number; start: number; end: number } | null {
    const key = this.varint();
    const field = Math.floor(key / 8);
    const wire = key & 7;
    switch (wire) {
      case 0:
        this.varint();
        return null;
      case 1:
        this.skip(8);
        return null;
      case 5:
        this.skip(4);
        return null;
      case 2: {
        const len = this.varint();
        const start = this.pos;
        this.skip(len);
        return { field, start, end: start + len };
      }
      default:
        throw new Error(`unsupported wire type ${wire}`);
    }
  }
  skip(n: number): void {
    if (n < 0 || this.pos + n > this.end) throw new Error('truncated field');
    this.pos += n;
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: false });

function readStrings(buf: Uint8Array, start: number, end: number, wanted: Record<number, true>): Map<number, string> {
  const out = new Map<number, string>();
  const r = new Reader(buf, start, end);
  while (r.pos < r.end) {
    const f = r.next();
    if (f && wanted[f.field]) out.set(f.field, utf8.decode(buf.subarray(f.start, f.end)));
  }
  return out;
}

/** Decodes the summary fields, or null when the bytes are not a well-formed message. Never throws. */
export function decodeAuditSummary(bytes: Uint8Array): AuditSummary | null {
  if (bytes.length > MAX_BYTES) return null;
  try {
    const top = new Map<number, { start: number; end: number }>();
    const r = new Reader(bytes);
    while (r.pos < r.end) {
      const f = r.next();
      if (f) top.set(f.field, f);
    }
    const str = (field: number): string | null => {
      const f = top.get(field);
      return f ? utf8.decode(bytes.subarray(f.start, f.end)) : null;
    };
    const nested = (field: number): string | null => {
      const f = top.get(field);
      return f ? (readStrings(bytes, f.start, f.end, { 1: true }).get(1) ?? null) : null;
    };
    return {
      serviceName: str(AUDIT.serviceName),
      methodName: str(AUDIT.methodName),
      resourceName: str(AUDIT.resourceName),
      principalEmail: nested(AUDIT.authenticationInfo),
      callerIp: nested(AUDIT.requestMetadata),
    };
  } catch {
    return null;
  }
}
