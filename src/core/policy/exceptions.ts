// Exceptions: findings a team expects (the nightly job that runs `sh -c`), each
// with a reason and an expiry. Evaluated before the rules; an expired one no
// longer applies, and says so wherever it would have, so that an expiry is
// never silent. Pure: `now` is the plan's.
import { matchHolds, type MatchFacts } from './match.ts';
import { exceptionExpiry, QUIETABLE_SINKS, type Policy, type PolicyException, type QuietableSink } from './policy.ts';

/** validate-policy warns this many days before an exception expires. */
export const EXPIRY_WARNING_DAYS = 14;

const DAY_MS = 24 * 60 * 60 * 1000;

export interface DatedException {
  exception: PolicyException;
  expiresAt: Date;
}

export interface ExceptionVerdict {
  /** The first exception, in policy order, that is live and whose match holds. */
  applied: DatedException | null;
  /** Expired exceptions whose match holds (they would have applied). */
  expired: DatedException[];
}

/** The parsed expiry; the schema has refused any that does not parse. */
export function expiresAt(exception: PolicyException): Date {
  return exceptionExpiry(exception.expires) ?? new Date(0);
}

export function isExpired(exception: PolicyException, now: Date): boolean {
  return now.getTime() >= expiresAt(exception).getTime();
}

/** RFC 3339 without milliseconds when there are none: `2026-12-31T00:00:00Z`. */
export function isoTime(date: Date): string {
  return date.toISOString().replace('.000Z', 'Z');
}

export function findException(policy: Policy, facts: MatchFacts, now: Date): ExceptionVerdict {
  const expired: DatedException[] = [];
  for (const exception of policy.exceptions) {
    if (!matchHolds(exception.match, facts)) continue;
    const dated = { exception, expiresAt: expiresAt(exception) };
    if (isExpired(exception, now)) expired.push(dated);
    else return { applied: dated, expired };
  }
  return { applied: null, expired };
}

/** Which sinks besides the log line report a finding this exception covers. */
export function exceptionSinks(policy: Policy, exception: PolicyException): QuietableSink[] {
  const chosen = exception.sinks ?? policy.exceptionSettings.sinks;
  return QUIETABLE_SINKS.filter((s) => chosen.includes(s));
}

/** Whole days, rounded down: "less than a day" rather than a day that has not passed. */
function days(ms: number): string {
  const n = Math.floor(Math.abs(ms) / DAY_MS);
  return n === 0 ? 'less than a day' : `${n} day${n === 1 ? '' : 's'}`;
}

/**
 * What validate-policy warns about (the policy stays valid): exceptions expired
 * or expiring within EXPIRY_WARNING_DAYS of `now`, and exception args conditions
 * that anything appended to (or put before) a command line would still satisfy.
 */
export function exceptionWarnings(policy: Policy, now: Date): string[] {
  const out: string[] = [];
  policy.exceptions.forEach((exception, i) => {
    const where = `exceptions[${i}] ${exception.name}`;
    const at = expiresAt(exception);
    const left = at.getTime() - now.getTime();
    if (left <= 0) {
      out.push(`${where}: expired at ${isoTime(at)} (${days(left)} ago) and no longer applies: renew it with a new date and reason, or remove it`);
    } else if (left <= EXPIRY_WARNING_DAYS * DAY_MS) {
      out.push(`${where}: expires at ${isoTime(at)} (in ${days(left)}); after that its findings get the rules' actions`);
    }
    for (const role of ['parent', 'child'] as const) {
      const m = exception.match[role];
      m?.args?.forEach((pattern, j) => {
        if (pattern.startsWith('*') || (pattern.endsWith('*') && !pattern.endsWith('\\*'))) {
          out.push(
            `${where}: match.${role}.args[${j}] ${JSON.stringify(pattern)} starts or ends with "*": a command line with anything added (e.g. "; curl … | sh") still matches`,
          );
        }
      });
      if (m?.argsContain) {
        out.push(`${where}: match.${role}.argsContain matches any command line that merely contains the text (e.g. with "; curl … | sh" added): prefer args with the whole command line`);
      }
    }
  });
  return out;
}

