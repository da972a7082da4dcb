// The conditions of a rule's or an exception's `match`, one by one, so that the
// plan can ask "do they all hold?" and `plan --explain` can say which did not and
// what the finding had instead. Pure; every value shown comes from the finding
// and is quoted and bounded, and command lines are shown redacted.
import { compileGlob, matchesAnyGlob, matchGlob } from './glob.ts';
import { MAX_COMMAND_LINE, type PolicyMatch, type ProcessMatch } from './policy.ts';
import { redactArgs, type RedactionRules } from '../summary/redact.ts';
import type { ProcessInfo, Processes, Target } from '../finding/target.ts';

/** What a match is evaluated against: the plan's view of the finding. */
export interface MatchFacts {
  target: Target;
  severity: string | null;
  processes: Processes | null;
  /** For describing command lines only; matching reads the raw args. */
  redaction?: RedactionRules;
}

export interface Condition {
  /** The match field, as the policy spells it: `namespaces`, `podLabels.app`, `child.args`. */
  field: string;
  holds: () => boolean;
  /** What the finding has against what the condition asks, for people. */
  describe: () => string;
}

export interface ConditionResult {
  field: string;
  holds: boolean;
  detail: string;
}

const SHOWN_MAX = 160;
const UNSHOWABLE = /[\u007f-\u009f\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2069\ufeff]/g;
const escaped = (c: string) => `\\u${c.codePointAt(0)!.toString(16).padStart(4, '0')}`;

/**
 * A finding value quoted for a terminal or a chat line: JSON string escapes, plus
 * the C1 controls, bidi overrides and zero-width characters JSON leaves as they are
 * (they can rewrite or hide what a terminal shows). Bounded.
 */
export function shown(value: string | null, max = SHOWN_MAX): string {
  if (value === null) return 'missing';
  const cut = value.length > max ? `${value.slice(0, max - 1)}…` : value;
  return JSON.stringify(cut).replace(UNSHOWABLE, escaped);
}

/** Free text that may carry finding values (a plan reason), unquoted but with every control character escaped. */
export function inert(text: string, max = 1000): string {
  const cut = text.length > max ? `${text.slice(0, max - 1)}…` : text;
  return cut.replace(/[\p{Cc}]/gu, escaped).replace(UNSHOWABLE, escaped);
}

const listed = (patterns: readonly string[]) => patterns.map((p) => JSON.stringify(p)).join(', ');
/** "matches" for one pattern, "matches one of" for several; the negative is always "… none of". */
const verb = (word: string, held: boolean, patterns: readonly string[]) => `${word}${held ? (patterns.length > 1 ? ' one of' : '') : ' none of'} ${listed(patterns)}`;

function globCondition(field: string, what: string, value: string | null, patterns: readonly string[]): Condition {
  return {
    field,
    holds: () => value !== null && matchesAnyGlob(patterns, value),
    describe: () => (value === null ? `${what} is missing from the finding (wanted ${listed(patterns)})` : `${what} ${shown(value)} ${verb('matches', matchesAnyGlob(patterns, value), patterns)}`),
  };
}

/** The command line an args condition reads, or why it cannot be read whole. */
export function commandLine(info: ProcessInfo): { line: string; truncated: string | null } {
  if (info.argumentsTruncated) return { line: '', truncated: 'SCC truncated the args (argumentsTruncated)' };
  let length = 0;
  for (const a of info.args) {
    length += a.length + 1;
    if (length - 1 > MAX_COMMAND_LINE) return { line: '', truncated: `the command line is longer than ${MAX_COMMAND_LINE} characters` };
  }
  return { line: info.args.join(' '), truncated: null };
}

/** A command line for people: redacted, at most 64 args, quoted and bounded. */
export function shownCommandLine(info: ProcessInfo, rules: RedactionRules | undefined): string {
  const args = info.args.slice(0, 64);
  return shown(redactArgs(args, rules, info.binaryPath).join(' ') + (args.length < info.args.length ? ' …' : ''));
}

function processConditions(role: 'parent' | 'child', info: ProcessInfo | null, m: ProcessMatch, rules: RedactionRules | undefined): Condition[] {
  const out: Condition[] = [];
  const missing = (field: string): Condition => ({
    field,
    holds: () => false,
    describe: () => `the finding names no ${role} process`,
  });
  const field = (name: keyof ProcessMatch) => `${role}.${name}`;
  const each = <K extends keyof ProcessMatch>(name: K, make: (info: ProcessInfo, value: NonNullable<ProcessMatch[K]>) => Condition) => {
    const value = m[name];
    if (value === undefined) return;
    out.push(info === null ? missing(field(name)) : make(info, value as NonNullable<ProcessMatch[K]>));
  };
  each('names', (p, patterns) => globCondition(field('names'), `${role} name`, p.name, patterns));
  each('binaryPaths', (p, patterns) => globCondition(field('binaryPaths'), `${role} binary`, p.binaryPath, patterns));
  each('scriptPaths', (p, patterns) => globCondition(field('scriptPaths'), `${role} script`, p.scriptPath, patterns));
  each('sha256', (p, hashes) => {
    const wanted = hashes.map((h) => h.toLowerCase());
    return {
      field: field('sha256'),
      holds: () => p.sha256 !== null && wanted.includes(p.sha256),
      describe: () =>
        p.sha256 === null
          ? `${role} binary has no SHA-256 in the finding`
          : `${role} binary SHA-256 ${p.sha256} ${wanted.includes(p.sha256) ? 'is' : 'is not'} one of the ${wanted.length} listed`,
    };
  });
  // Truncated args never satisfy an args condition: what SCC left out could be anything
  // (`…; curl x | sh`), so matching the visible part would except or act on a command nobody saw.
  const argsCondition = (name: 'args' | 'argsContain', test: (line: string) => boolean, verdict: (held: boolean) => string) => {
    each(name, (p) => {
      const { line, truncated } = commandLine(p);
      return {
        field: field(name),
        holds: () => truncated === null && test(line),
        describe: () =>
          truncated !== null
            ? `${role} args cannot be matched: ${truncated}, and an args condition never matches truncated args`
            : `${role} command line ${shownCommandLine(p, rules)} ${verdict(test(line))}`,
      };
    });
  };
  const { args, argsContain } = m;
  if (args !== undefined) argsCondition('args', (line) => matchesAnyGlob(args, line, 'text'), (held) => verb('matches', held, args));
  if (argsContain !== undefined) argsCondition('argsContain', (line) => argsContain.some((s) => line.includes(s)), (held) => verb('contains', held, argsContain));
  return out;
}

/** Every condition the match names, in a fixed order (where, then what, then the processes). */
export function matchConditions(match: PolicyMatch, facts: MatchFacts): Condition[] {
  const { target, severity, processes } = facts;
  const out: Condition[] = [];
  if (match.projects) out.push(globCondition('projects', 'project', target.project, match.projects));
  if (match.locations) out.push(globCondition('locations', 'location', target.location, match.locations));
  if (match.clusters) out.push(globCondition('clusters', 'cluster', target.cluster, match.clusters));
  if (match.namespaces) out.push(globCondition('namespaces', 'namespace', target.namespace, match.namespaces));
  if (match.images) out.push(globCondition('images', 'image', target.image, match.images));
  if (match.severities) {
    const wanted = match.severities as readonly string[];
    out.push({
      field: 'severities',
      holds: () => severity !== null && wanted.includes(severity),
      describe: () => `severity ${shown(severity)} ${severity !== null && wanted.includes(severity) ? 'is' : 'is not'} one of ${wanted.join(', ')}`,
    });
  }
  for (const [key, pattern] of Object.entries(match.podLabels ?? {})) {
    // Own keys only: a rule on label "constructor" must not read Object.prototype's.
    const has = Object.hasOwn(target.podLabels, key);
    const value = has ? target.podLabels[key]! : null;
    out.push({
      field: `podLabels.${key}`,
      holds: () => value !== null && matchGlob(compileGlob(pattern), value),
      describe: () =>
        value === null
          ? `pod has no label ${JSON.stringify(key)}`
          : `pod label ${key}=${shown(value)} ${matchGlob(compileGlob(pattern), value) ? 'matches' : 'does not match'} ${JSON.stringify(pattern)}`,
    });
  }
  if (match.parent) out.push(...processConditions('parent', processes?.parent ?? null, match.parent, facts.redaction));
  if (match.child) out.push(...processConditions('child', processes?.child ?? null, match.child, facts.redaction));
  return out;
}

/** Whether every condition holds; stops at the first that does not. */
export function matchHolds(match: PolicyMatch, facts: MatchFacts): boolean {
  return matchConditions(match, facts).every((c) => c.holds());
}

/** Every condition with its verdict and description, for `plan --explain`. */
export function explainMatch(match: PolicyMatch, facts: MatchFacts): ConditionResult[] {
  return matchConditions(match, facts).map((c) => ({ field: c.field, holds: c.holds(), detail: c.describe() }));
}
