// Shared helpers for putting attacker-influenced text into chat messages.
// Each format (Slack mrkdwn, Google Chat card HTML) still applies its own
// escaping on top; these only make the text one bounded, inert line.
import { isDns1123Label, isDns1123Subdomain } from '../finding/k8s-names.ts';
import { truncate } from './summary.ts';
import { type OwnerSource } from './document.ts';

// Control characters, bidi overrides/isolates (which can make text read
// differently than it is) and zero-width characters (which hide text).
const UNSAFE_CHARS = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;

/** One line, bounded, without control, bidi or zero-width characters. */
export function inertLine(value: string, max: number): string {
  return truncate(value.replace(UNSAFE_CHARS, ' '), max);
}

/**
 * Defangs URLs the way incident reports do (`http[:]//host`): chat clients
 * turn a bare URL into a link, and a finding must not be able to plant one.
 */
export function defangUrls(value: string): string {
  return value.replace(/\b([a-z][a-z0-9+.-]*):\/\//gi, '$1[:]//').replace(/\bwww\./gi, 'www[.]');
}

/** Only links the responder builds itself (or the console / Logs Explorer) are ever clickable. */
const LINK_HOSTS = new Set(['console.cloud.google.com', 'attack.mitre.org', 'www.virustotal.com']);

/** A link safe to render: https, an allow-listed host, no credentials; otherwise null. */
export function allowedLink(url: string | null | undefined): string | null {
  if (!url || url.length > 4000) return null;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return null;
  }
  if (parsed.protocol !== 'https:' || !LINK_HOSTS.has(parsed.hostname) || parsed.username || parsed.password || parsed.port) {
    return null;
  }
  // URL serialisation percent-encodes spaces, quotes and angle brackets; "|" would still end a Slack link.
  return parsed.href.replace(/\|/g, '%7C');
}

/** Owners listed in a chat message; the summary says how many more there are. */
export const MAX_OWNERS_SHOWN = 20;

const OWNER_SOURCE_WORDS: Record<OwnerSource, string> = {
  'essential-contacts': 'Essential Contacts (security)',
  'cluster-label': 'cluster label',
  'namespace-label': 'namespace label',
  'namespace-annotation': 'namespace annotation',
  'workload-label': 'workload label',
};

/** Where an owner was found, in words (a ledger record from another version may name a source this one does not know). */
export function ownerSourceWords(source: OwnerSource): string {
  return Object.hasOwn(OWNER_SOURCE_WORDS, source) ? OWNER_SOURCE_WORDS[source] : 'unknown source';
}

/** A Kubernetes name shown as is only when it is a valid one; anything else is marked. */
export function displayName(value: string | null, kind: 'label' | 'subdomain'): string {
  if (value === null) return 'unknown';
  const valid = kind === 'label' ? isDns1123Label(value) : isDns1123Subdomain(value);
  return valid ? value : 'invalid-name';
}

// ---------------------------------------------------------------------------
// Fitting lines into a platform's size limit. Lines are cut to fit, never
// dropped while each can keep a useful share, so a long value (a parent with
// many long args, a long Logs Explorer link) cannot crowd the others out.

/** A rendered line; when not all lines fit even cut, higher priority is kept first. */
export interface FitLine {
  text: string;
  priority?: number;
}

export interface FitOptions {
  max: number;
  separator: string;
  /** Size in the unit the platform limits: UTF-16 units for Slack, wire bytes for Google Chat. */
  measure(text: string): number;
  /** The line cut to at most `max` units with its markup still well formed ('' when nothing fits). */
  cut(text: string, max: number): string;
  /** The line that says how many lines were left out. */
  more(count: number): string;
}

/** Below this, a cut line says too little to be worth its place: lines are left out instead. */
const MIN_LINE = 48;

/**
 * Joins the lines within `max`. When they do not fit, each line gets an equal
 * share of the room (a line shorter than its share keeps all of it and leaves
 * the rest to the others) and long lines are cut to their share. Only when
 * there are too many lines for even MIN_LINE each are some left out, lowest
 * priority last-first, and a marker line says how many.
 */
export function fitLines(input: readonly (string | FitLine)[], fit: FitOptions): string {
  const lines = input.map((l) => (typeof l === 'string' ? { text: l, priority: 0 } : { text: l.text, priority: l.priority ?? 0 }));
  const sizes = lines.map((l) => fit.measure(l.text));
  const sep = fit.measure(fit.separator);
  const joined = (count: number) => sep * Math.max(0, count - 1);
  if (sizes.reduce((a, b) => a + b, 0) + joined(lines.length) <= fit.max) return lines.map((l) => l.text).join(fit.separator);

  const minimum = (i: number) => Math.min(sizes[i]!, MIN_LINE);
  let kept = lines.map((_, i) => i);
  let marker = '';
  if (kept.reduce((a, i) => a + minimum(i), 0) + joined(kept.length) > fit.max) {
    marker = fit.more(lines.length); // the longest marker this call can need, so the room reserved is enough
    const room = fit.max - fit.measure(marker) - sep;
    const order = [...kept].sort((a, b) => lines[b]!.priority - lines[a]!.priority || a - b);
    const chosen: number[] = [];
    let used = 0;
    for (const i of order) {
      const cost = minimum(i) + (chosen.length > 0 ? sep : 0);
      if (used + cost <= room) {
        chosen.push(i);
        used += cost;
      }
    }
    kept = chosen.sort((a, b) => a - b);
    marker = fit.more(lines.length - kept.length);
  }
  if (kept.length === 0) return fit.cut(marker, fit.max);

  let room = fit.max - joined(kept.length) - (marker ? fit.measure(marker) + sep : 0);
  const share = new Map<number, number>();
  const bySize = [...kept].sort((a, b) => sizes[a]! - sizes[b]!);
  bySize.forEach((i, n) => {
    const give = Math.min(sizes[i]!, Math.floor(room / (bySize.length - n)));
    share.set(i, give);
    room -= give;
  });
  const out = kept.map((i) => (share.get(i)! >= sizes[i]! ? lines[i]!.text : fit.cut(lines[i]!.text, share.get(i)!)));
  if (marker) out.push(marker);
  return out.join(fit.separator);
}

const isHighSurrogate = (c: number) => c >= 0xd800 && c <= 0xdbff;
const isLowSurrogate = (c: number) => c >= 0xdc00 && c <= 0xdfff;
const ENTITY = /&[A-Za-z0-9#]{1,8};/y;

/** Length of the entity at i, or 0. */
function entityAt(text: string, i: number): number {
  ENTITY.lastIndex = i;
  return ENTITY.exec(text)?.[0].length ?? 0;
}

/** 2 at the start of a surrogate pair, else 1: a pair is one character and is never split. */
function charLength(text: string, i: number): number {
  return isHighSurrogate(text.charCodeAt(i)) && isLowSurrogate(text.charCodeAt(i + 1)) ? 2 : 1;
}

const SLACK_EMOJI = /:[a-z0-9_+-]{1,40}:/y;

/**
 * A Slack mrkdwn line cut to `max` UTF-16 units. Attacker text only ever sits
 * in code spans (escaped, no backticks), so the line is our markup around
 * spans: the cut never splits an escape (`&amp;`), a surrogate pair, a link
 * (`<url|label>`: kept whole or left out) or an emoji code, and closes what it
 * cut open (the code span, bold, italic) after the "…".
 */
export function cutSlackLine(line: string, max: number): string {
  if (line.length <= max) return line;
  let code = false;
  let bold = false;
  let italic = false;
  let best = -1;
  let bestClosers = '';
  let i = 0;
  while (i <= line.length) {
    const closers = `${code ? '`' : ''}${italic ? '_' : ''}${bold ? '*' : ''}`;
    if (i + 1 + closers.length > max) {
      if (i + 1 > max) break;
    } else {
      best = i;
      bestClosers = closers;
    }
    if (i === line.length) break;
    const ch = line[i];
    let len = 1;
    if (ch === '`') code = !code;
    else if (ch === '&') len = entityAt(line, i) || 1;
    else if (code) len = charLength(line, i);
    else if (ch === '<') {
      const close = line.indexOf('>', i);
      len = close > i ? close - i + 1 : 1;
    } else if (ch === ':') {
      SLACK_EMOJI.lastIndex = i;
      len = SLACK_EMOJI.exec(line)?.[0].length ?? 1;
    } else if (ch === '*') bold = !bold;
    else if (ch === '_') italic = !italic;
    else len = charLength(line, i);
    i += len;
  }
  return best < 0 ? '' : `${line.slice(0, best)}…${bestClosers}`;
}

/**
 * What a string costs in a JSON request body: UTF-8 bytes, plus the escape
 * JSON adds for `"` and `\` (control characters never get this far).
 */
export function wireBytes(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += c === 0x22 || c === 0x5c ? 2 : 1;
    else if (c < 0x800) bytes += 2;
    else if (isHighSurrogate(c) || isLowSurrogate(c)) bytes += 2; // a pair is 4 bytes
    else bytes += 3;
  }
  return bytes;
}

const VOID_TAGS = new Set(['br']);

/**
 * A Google Chat card-HTML line cut to `max` wire bytes. Attacker text is
 * escaped, so every `<` opens one of our tags: the cut never splits a tag, an
 * entity or a surrogate pair, and closes the tags it leaves open after the "…".
 */
export function cutChatLine(line: string, max: number): string {
  if (wireBytes(line) <= max) return line;
  const open: string[] = [];
  const closers = () => open.map((t) => `</${t}>`).reverse().join('');
  const ellipsis = wireBytes('…');
  let used = 0;
  let best = -1;
  let bestClosers = '';
  let i = 0;
  while (i <= line.length) {
    const close = closers();
    if (used + ellipsis + wireBytes(close) <= max) {
      best = i;
      bestClosers = close;
    } else if (used + ellipsis > max) break;
    if (i === line.length) break;
    let len: number;
    if (line[i] === '<') {
      const end = line.indexOf('>', i);
      len = end > i ? end - i + 1 : 1;
      const tag = /^<(\/?)([a-z]+)/i.exec(line.slice(i, i + Math.min(len, 12)));
      if (tag) {
        const name = tag[2]!.toLowerCase();
        if (tag[1] === '/') {
          if (open[open.length - 1] === name) open.pop();
        } else if (!VOID_TAGS.has(name)) open.push(name);
      }
    } else if (line[i] === '&') len = entityAt(line, i) || 1;
    else len = charLength(line, i);
    used += wireBytes(line.slice(i, i + len));
    i += len;
  }
  return best < 0 ? '' : `${line.slice(0, best)}…${bestClosers}`;
}
