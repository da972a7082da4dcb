// Shared helpers for putting attacker-influenced text into chat messages.
// Each format (Slack mrkdwn, Google Chat card HTML) still applies its own
// escaping on top; these only make the text one bounded, inert line.
import { isDns1123Label, isDns1123Subdomain } from './k8s-names.ts';
import { truncate } from './summary.ts';

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

/** A Kubernetes name shown as is only when it is a valid one; anything else is marked. */
export function displayName(value: string | null, kind: 'label' | 'subdomain'): string {
  if (value === null) return 'unknown';
  const valid = kind === 'label' ? isDns1123Label(value) : isDns1123Subdomain(value);
  return valid ? value : 'invalid-name';
}
