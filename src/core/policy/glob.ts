// The policy's glob dialect, matched in O(len(value) × len(pattern)) time.
// Policies match finding values (namespaces, labels, image refs) that an
// attacker can shape, and a backtracking matcher lets a pattern such as
// `+(*)+(*)+(*)x` take seconds on a 20-character value. So the dialect is small
// and the matcher simulates the pattern as a set of states, one pass over the
// value, no regex and no recursion.
//
// Supported: `*` (any run of characters except "/"), `**` (any run, "/"
// included), `?` (one character except "/"), `[abc]`, `[a-z]`, `[!abc]` (or
// `[^abc]`) classes, which never match "/", and `\x` for a literal x.
// Refused, so that a pattern never silently means something else than it did
// under the previous (picomatch) matcher: extglobs `+( @( !( *( ?(` and any
// unescaped parenthesis, braces `{a,b}`, `|`, and a leading `!` (negation).
//
// Two modes. `path` (names, image refs, binary paths): "/" is a separator as
// above. `text` (a joined command line, where "/" is just a character of the
// arguments): `*` is any run of any characters, `?` any one character, and a
// class may match "/"; `**` is then the same as `*`. A command line is full of
// `| ( ) { } !`, and text globs are new (no picomatch reading to keep apart
// from), so there they are plain characters; only `* ? [ \` are special.

export const MAX_GLOB_LENGTH = 1024;

export type GlobMode = 'path' | 'text';

export type GlobToken = (
  | { kind: 'literal'; char: string }
  | { kind: 'one'; crossesSlash: boolean }
  | { kind: 'class'; negated: boolean; chars: string[]; ranges: Array<[number, number]>; crossesSlash: boolean }
  | { kind: 'star'; crossesSlash: boolean }
  | { kind: 'empty' }
) & {
  /** A state this one may move to without consuming (how `/**` matches zero segments). */
  skipTo?: number;
};

export interface Glob {
  readonly pattern: string;
  readonly mode: GlobMode;
  readonly tokens: readonly GlobToken[];
}

export class GlobSyntaxError extends Error {
  override readonly name = 'GlobSyntaxError';
}

/** Parses a pattern; throws GlobSyntaxError naming what is wrong or unsupported. */
export function compileGlob(pattern: string, mode: GlobMode = 'path'): Glob {
  const text = mode === 'text';
  if (pattern.length > MAX_GLOB_LENGTH) throw new GlobSyntaxError(`pattern is longer than ${MAX_GLOB_LENGTH} characters`);
  if (!text && pattern.startsWith('!') && !pattern.startsWith('!(')) {
    throw new GlobSyntaxError('a leading "!" (negation) is not supported: write \\! for a literal "!"');
  }
  const chars = Array.from(pattern);
  const tokens: GlobToken[] = [];
  let i = 0;
  while (i < chars.length) {
    const c = chars[i]!;
    if (c === '\\') {
      const next = chars[i + 1];
      if (next === undefined) throw new GlobSyntaxError('bad pattern: ends with a lone "\\"');
      tokens.push({ kind: 'literal', char: next });
      i += 2;
    } else if (text && (c === '(' || c === ')' || c === '{' || c === '}' || c === '|' || c === '+' || c === '@' || c === '!')) {
      tokens.push({ kind: 'literal', char: c });
      i++;
    } else if (c === '*') {
      let j = i;
      while (chars[j] === '*') j++;
      if (!text && chars[j] === '(') throw extglobError(chars[j - 1]!);
      const previous = tokens[tokens.length - 1];
      const afterSlash = previous?.kind === 'literal' && previous.char === '/';
      const segmentStart = tokens.length === 0 || afterSlash;
      const segmentEnd = j === chars.length || chars[j] === '/';
      // `**` crosses "/" only as a whole path segment, and then also matches no segment at all
      // (`a/**` matches "a", `a/**/b` matches "a/b", `**/b` matches "b"); elsewhere it is `*`.
      const globstar = !text && j - i >= 2 && segmentStart && segmentEnd;
      if (globstar) {
        const followed = j < chars.length;
        const starIndex = tokens.length + (followed ? 1 : 0);
        // After a "/": that "/" and the star may be skipped together ("a/**" matches "a",
        // "a/**/b" matches "a/b").
        if (afterSlash) previous.skipTo = starIndex + 1;
        // Before a "/": a state ahead of the star that consumes nothing may skip past that "/"
        // ("**/b" matches "b"). Not the star's own state: it returns there after consuming.
        if (followed) tokens.push({ kind: 'empty', skipTo: starIndex + 2 });
      }
      tokens.push({ kind: 'star', crossesSlash: text || globstar });
      i = j;
    } else if (c === '(' || c === ')') {
      throw new GlobSyntaxError(`parentheses are extglob syntax, which is not supported: write \\${c} for a literal "${c}"`);
    } else if (c === '{' || c === '}') {
      throw new GlobSyntaxError('brace expansion {a,b} is not supported: list each alternative as its own pattern');
    } else if (c === '|') {
      throw new GlobSyntaxError('"|" (alternation) is not supported: list each alternative as its own pattern');
    } else if (c === '?' || c === '+' || c === '@' || c === '!') {
      if (!text && chars[i + 1] === '(') throw extglobError(c);
      tokens.push(c === '?' ? { kind: 'one', crossesSlash: text } : { kind: 'literal', char: c });
      i++;
    } else if (c === '[') {
      i = parseClass(chars, i, tokens, text);
    } else {
      tokens.push({ kind: 'literal', char: c });
      i++;
    }
  }
  return { pattern, mode, tokens };
}

function extglobError(prefix: string): GlobSyntaxError {
  return new GlobSyntaxError(
    `extglob ${prefix}(...) is not supported (it can make matching exponentially slow): list each alternative as its own pattern`,
  );
}

/** Parses `[...]` starting at chars[start] === '['; returns the index after the closing `]`. */
function parseClass(chars: string[], start: number, tokens: GlobToken[], crossesSlash: boolean): number {
  let i = start + 1;
  const negated = chars[i] === '!' || chars[i] === '^';
  if (negated) i++;
  const members: string[] = [];
  const ranges: Array<[number, number]> = [];
  let first = true;
  for (;;) {
    let c = chars[i];
    if (c === undefined) throw new GlobSyntaxError('bad pattern: "[" is never closed (write \\[ for a literal "[")');
    if (c === ']' && !first) break;
    first = false;
    if (c === '\\') {
      c = chars[++i];
      if (c === undefined) throw new GlobSyntaxError('bad pattern: ends with a lone "\\"');
    }
    if (c === '/' && !crossesSlash) throw new GlobSyntaxError('bad pattern: a [...] class never matches "/"');
    const dash = chars[i + 1];
    const end = chars[i + 2];
    if (dash === '-' && end !== undefined && end !== ']') {
      const escaped = end === '\\';
      const hi = escaped ? chars[i + 3] : end;
      if (hi === undefined) throw new GlobSyntaxError('bad pattern: ends with a lone "\\"');
      const next = escaped ? i + 4 : i + 3;
      const lo = c.codePointAt(0)!;
      const hiCode = hi.codePointAt(0)!;
      if (lo > hiCode) throw new GlobSyntaxError(`bad pattern: range ${c}-${hi} is backwards`);
      if (!crossesSlash && lo <= 0x2f && hiCode >= 0x2f) throw new GlobSyntaxError('bad pattern: a [...] class never matches "/"');
      ranges.push([lo, hiCode]);
      i = next;
    } else {
      members.push(c);
      i++;
    }
  }
  tokens.push({ kind: 'class', negated, chars: members, ranges, crossesSlash });
  return i + 1;
}

/** Why a pattern is refused, or undefined when it is a valid glob. */
export function globProblem(pattern: string, mode: GlobMode = 'path'): string | undefined {
  try {
    compileGlob(pattern, mode);
    return undefined;
  } catch (e) {
    if (e instanceof GlobSyntaxError) return e.message;
    throw e;
  }
}

function consumes(token: GlobToken, char: string): boolean {
  switch (token.kind) {
    case 'literal':
      return token.char === char;
    case 'one':
      return token.crossesSlash || char !== '/';
    case 'star':
      return token.crossesSlash || char !== '/';
    case 'empty':
      return false;
    case 'class': {
      if (char === '/' && !token.crossesSlash) return false;
      const code = char.codePointAt(0)!;
      const listed = token.chars.includes(char) || token.ranges.some(([lo, hi]) => code >= lo && code <= hi);
      return listed !== token.negated;
    }
  }
}

/**
 * Whether the whole value matches. The states are the positions in the token
 * list; a star may stay where it is (consume) or be skipped (an epsilon step
 * forward), so one left-to-right pass per character computes the next set.
 */
export function matchGlob(glob: Glob, value: string): boolean {
  const { tokens } = glob;
  const n = tokens.length;
  let active = new Uint8Array(n + 1);
  let next = new Uint8Array(n + 1);
  active[0] = 1;
  closeOverStars(tokens, active);
  for (const char of value) {
    next.fill(0);
    let any = false;
    for (let s = 0; s < n; s++) {
      if (active[s] !== 1) continue;
      const token = tokens[s]!;
      if (!consumes(token, char)) continue;
      next[token.kind === 'star' ? s : s + 1] = 1;
      any = true;
    }
    if (!any) return false;
    closeOverStars(tokens, next);
    [active, next] = [next, active];
  }
  return active[n] === 1;
}

/** Adds the states reachable without consuming; every such move goes forward, so one pass does. */
function closeOverStars(tokens: readonly GlobToken[], states: Uint8Array): void {
  for (let s = 0; s < tokens.length; s++) {
    if (states[s] !== 1) continue;
    const token = tokens[s]!;
    if (token.kind === 'star' || token.kind === 'empty') states[s + 1] = 1;
    if (token.skipTo !== undefined) states[token.skipTo] = 1;
  }
}

/** Matches against each pattern; patterns are compiled per call (they are short, values are bounded). */
export function matchesAnyGlob(patterns: readonly string[], value: string, mode: GlobMode = 'path'): boolean {
  return patterns.some((p) => matchGlob(compileGlob(p, mode), value));
}
