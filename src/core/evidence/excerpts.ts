// Turns log entries into the few lines a person reads in the summary. Log
// content is attacker-controlled (the attacker's shell writes to stdout): every
// line is made single-line, stripped of bidi/format tricks and bounded.
import type { AuditSummary } from './audit-log-wire.ts';
import type { Processes } from '../finding/target.ts';

/** What the adapter keeps of a LogEntry: plain data, no SDK types. */
export interface LogEntryView {
  timestamp: string | null;
  severity: string | null;
  logName: string | null;
  insertId: string | null;
  resourceType: string | null;
  textPayload: string | null;
  jsonPayload: Record<string, unknown> | null;
  /** protoPayload as decoded (audit logs), or null. */
  audit: AuditSummary | null;
  /** The Any type URL when protoPayload was not an AuditLog. */
  protoType: string | null;
}

export const MAX_EXCERPT_CHARS = 300;

const SEVERITY_RANK: Record<string, number> = {
  DEFAULT: 0,
  DEBUG: 0,
  INFO: 1,
  NOTICE: 2,
  WARNING: 3,
  ERROR: 4,
  CRITICAL: 5,
  ALERT: 6,
  EMERGENCY: 7,
};

/**
 * One printable line: control characters and line/paragraph separators become
 * visible escapes, bidi overrides and other invisible format characters are
 * dropped (they can make a line read differently from what it is), then cut.
 */
export function sanitizeLine(value: string, max = MAX_EXCERPT_CHARS): string {
  let out = '';
  for (const ch of value) {
    const code = ch.codePointAt(0) ?? 0;
    if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (code < 0x20 || code === 0x7f || (code >= 0x80 && code < 0xa0) || code === 0x2028 || code === 0x2029) {
      out += `\\u${code.toString(16).padStart(4, '0')}`;
    } else if (/[\p{Cf}\p{Cs}]/u.test(ch)) {
      continue;
    } else out += ch;
    if (out.length > max) break;
  }
  if (out.length > max) out = `${out.slice(0, max - 1)}…`;
  return out;
}

function jsonMessage(json: Record<string, unknown>): string {
  for (const key of ['message', 'msg', 'log', 'MESSAGE']) {
    const v = json[key];
    if (typeof v === 'string') return v;
  }
  try {
    return JSON.stringify(json) ?? '';
  } catch {
    return '[unprintable jsonPayload]';
  }
}

/** The payload of an entry as one unsanitised string. */
export function entryMessage(entry: LogEntryView): string {
  if (entry.audit) {
    const a = entry.audit;
    const who = a.principalEmail ? ` by ${a.principalEmail}` : '';
    const from = a.callerIp ? ` from ${a.callerIp}` : '';
    return `${a.methodName ?? '?'} ${a.resourceName ?? '?'}${who}${from}`;
  }
  if (entry.textPayload !== null) return entry.textPayload;
  if (entry.jsonPayload !== null) return jsonMessage(entry.jsonPayload);
  if (entry.protoType !== null) return `[${entry.protoType}]`;
  return '';
}

export function formatEntryLine(entry: LogEntryView, max = MAX_EXCERPT_CHARS): string {
  const parts = [entry.timestamp ?? '-', entry.severity ?? 'DEFAULT', entryMessage(entry)];
  return sanitizeLine(parts.join(' '), max);
}

/** Words from the finding that make a log line worth showing: the shell, its script, its arguments. */
export function relevanceTerms(processes: Processes | null): string[] {
  const terms = new Set<string>();
  const add = (v: string | null | undefined) => {
    if (!v) return;
    const base = v.slice(v.lastIndexOf('/') + 1);
    if (base.length >= 2 && base.length <= 64) terms.add(base.toLowerCase());
  };
  const child = processes?.child;
  add(child?.binaryPath);
  add(child?.scriptPath);
  for (const arg of (child?.args ?? []).slice(1, 16)) {
    for (const word of arg.split(/[\s|;&'"`$()<>]+/)) {
      if (word.length >= 4 && !word.startsWith('-')) add(word);
    }
  }
  return [...terms].slice(0, 32);
}

const AUDIT_INTEREST = /\.(exec|attach|portforward|ephemeralcontainers)\.|\.(create|delete|patch|update)$|exec|attach/;

function score(entry: LogEntryView, terms: readonly string[]): number {
  let s = SEVERITY_RANK[entry.severity ?? 'DEFAULT'] ?? 0;
  if (entry.audit?.methodName && AUDIT_INTEREST.test(entry.audit.methodName)) s += 10;
  const text = entryMessage(entry).toLowerCase();
  for (const t of terms) if (text.includes(t)) s += 5;
  return s;
}

/**
 * The `limit` most relevant entries (severity, exec/attach/delete audit calls,
 * mention of the child shell or its arguments), shown in time order. Ties keep
 * the earlier entry: the start of an incident is usually what matters.
 */
export function selectExcerpts(entries: readonly LogEntryView[], limit: number, terms: readonly string[] = []): string[] {
  if (limit <= 0 || entries.length === 0) return [];
  const ranked = entries
    .map((entry, index) => ({ entry, index, score: score(entry, terms) }))
    .sort((a, b) => b.score - a.score || a.index - b.index)
    .slice(0, limit)
    .sort((a, b) => a.index - b.index);
  return ranked.map((r) => formatEntryLine(r.entry));
}
