// Credential redaction for what leaves the finding: process command lines,
// `ps` output, log excerpts. A finding carries whatever the workload (or the
// attacker) typed — `curl -H "Authorization: Bearer …"`, `mysql -pSECRET`,
// `https://user:pass@host` — and every sink, the ledger and the log line would
// otherwise repeat it verbatim. The original stays in SCC for whoever may read it.
//
// The input is attacker-controlled, so every scan is one pass or an anchored
// (sticky) match whose failure cost is bounded or local to one segment:
// nothing backtracks over the whole input, and a 1 MB argument costs a few
// milliseconds, not the event loop. Inputs are also cut to MAX_REDACT_INPUT
// first (callers bound what they show far below that).
//
// It errs toward hiding: a value that merely looks secret (the next word after
// `--token`) is hidden too. Names, flags and the non-secret part stay readable:
// `--password=<redacted>`, `Authorization: Bearer <redacted>`, `https://user:<redacted>@host`.

export const REDACTED = '<redacted>';
/** Longest string redacted; longer input is cut first (marked with "…"). */
export const MAX_REDACT_INPUT = 65_536;

export interface RedactionRules {
  /** Extra name substrings (case-insensitive) that make an env, flag or key name secret. */
  readonly secretNames?: readonly string[];
  /** Extra flags (exact, e.g. `--passphrase`) whose value, `=`-attached or the next word, is secret. */
  readonly secretFlags?: readonly string[];
}

interface Compiled {
  names: string[];
  flags: Set<string>;
}

function compile(rules: RedactionRules): Compiled {
  return { names: (rules.secretNames ?? []).map((n) => n.toLowerCase()), flags: new Set(rules.secretFlags ?? []) };
}

// A name is secret if it contains one of these (case-insensitive)…
const SECRET_SUBSTRINGS = [
  'password', 'passwd', 'passphrase', 'secret', 'token', 'apikey', 'api_key', 'api-key',
  'accesskey', 'access_key', 'access-key', 'privatekey', 'private_key', 'private-key',
  'credential', 'authorization', 'cookie', 'sessionid', 'session_id', 'session-id', 'bearer',
];
// …or has one of these as a whole segment (split at _ . - and camelCase): DB_PASS, --key, BASIC_AUTH.
const SECRET_SEGMENTS = new Set(['pass', 'pw', 'pwd', 'auth', 'key', 'pat', 'creds', 'passin', 'passout']);
// Names that only look secret: the shell's working directory.
const NOT_SECRET = new Set(['pwd', 'oldpwd']);

/** Whether an env, flag or key name (leading dashes allowed) names a secret. */
export function isSecretName(name: string, rules: RedactionRules = {}): boolean {
  return secretName(name, compile(rules));
}

function secretName(name: string, c: Compiled): boolean {
  if (name.length > 130) return false;
  if (c.flags.has(name)) return true;
  const bare = name.replace(/^-+/, '');
  if (bare === '') return false;
  const lower = bare.toLowerCase();
  if (NOT_SECRET.has(lower)) return false;
  if (SECRET_SUBSTRINGS.some((s) => lower.includes(s)) || c.names.some((s) => lower.includes(s))) return true;
  return bare
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .some((segment) => SECRET_SEGMENTS.has(segment));
}

const AUTH_SCHEMES = new Set(['bearer', 'basic', 'digest', 'token', 'negotiate', 'ntlm', 'oauth', 'apikey', 'key', 'aws4-hmac-sha256', 'dpop']);

function isAuthScheme(word: string): boolean {
  return word.length <= 20 && AUTH_SCHEMES.has(word.replace(/^["']|["']$/g, '').toLowerCase());
}

/** A string cut to `max` without splitting a UTF-16 pair. */
function bounded(value: string, max = MAX_REDACT_INPUT): string {
  if (value.length <= max) return value;
  let end = max - 1;
  const last = value.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${value.slice(0, end)}…`;
}

// ---------------------------------------------------------------------------
// Private key blocks (PEM, OpenSSH, PGP), also inside JSON with escaped newlines.

const KEY_HEADER = /-----BEGIN (?:[A-Z0-9]{1,20} ){0,4}PRIVATE KEY(?: BLOCK)?-----/y;

function redactPrivateKeys(text: string): string {
  let at = text.indexOf('-----BEGIN ');
  if (at < 0) return text;
  let out = '';
  let last = 0;
  while (at >= 0) {
    KEY_HEADER.lastIndex = at;
    const header = KEY_HEADER.exec(text);
    if (!header) {
      at = text.indexOf('-----BEGIN ', at + 1);
      continue;
    }
    const bodyStart = at + header[0].length;
    const end = text.indexOf('-----END ', bodyStart);
    // No END (the text was cut): everything after the header is key material.
    out += text.slice(last, bodyStart) + REDACTED;
    last = end < 0 ? text.length : end;
    at = end < 0 ? -1 : text.indexOf('-----BEGIN ', end);
  }
  return out + text.slice(last);
}

// ---------------------------------------------------------------------------
// Well-known token shapes, anywhere. Tried only where a token can start (the
// previous character is not a letter or digit), each anchored there; a match
// is consumed, and a failed try stops within a bounded distance (or, for JWTs,
// which are tried only at segment starts, within two segments).

interface Shape {
  first: string;
  re: RegExp;
  /** JWTs: only where the previous character cannot be part of a JWT segment. */
  segmentStart?: boolean;
}

const SHAPES: Shape[] = [
  { first: 'A', re: /(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Za-z0-9])/y }, // AWS access key ids
  { first: 'A', re: /AIza[0-9A-Za-z_-]{35}/y }, // Google API keys
  { first: 'g', re: /gh[pousr]_[A-Za-z0-9]{20,}/y }, // GitHub tokens
  { first: 'g', re: /github_pat_[A-Za-z0-9_]{20,}/y },
  { first: 'g', re: /glpat-[A-Za-z0-9_-]{20,}/y }, // GitLab
  { first: 'x', re: /xox[abposer]-[A-Za-z0-9-]{10,}/y }, // Slack
  { first: 'x', re: /xapp-[A-Za-z0-9-]{10,}/y },
  { first: 'sr', re: /[sr]k_(?:live|test)_[A-Za-z0-9]{10,}/y }, // Stripe secret / restricted keys
  { first: 'w', re: /whsec_[A-Za-z0-9]{20,}/y },
  { first: 'n', re: /npm_[A-Za-z0-9]{36}/y },
  { first: 'y', re: /ya29\.[A-Za-z0-9_-]{20,}/y }, // Google OAuth access tokens
  { first: 'e', re: /eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/y, segmentStart: true }, // JWTs
];
const SHAPE_FIRST = new Set(SHAPES.flatMap((s) => [...s.first]));

const isAlnum = (c: number) => (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
const isJwtChar = (c: number) => isAlnum(c) || c === 95 /* _ */ || c === 45; /* - */

function redactTokenShapes(text: string): string {
  let out = '';
  let last = 0;
  let i = 0;
  while (i < text.length) {
    const prev = i === 0 ? -1 : text.charCodeAt(i - 1);
    if (!SHAPE_FIRST.has(text[i]!) || (prev !== -1 && isAlnum(prev))) {
      i++;
      continue;
    }
    let matched = 0;
    for (const shape of SHAPES) {
      if (!shape.first.includes(text[i]!) || (shape.segmentStart && prev !== -1 && isJwtChar(prev))) continue;
      shape.re.lastIndex = i;
      const m = shape.re.exec(text);
      if (m) {
        matched = m[0].length;
        break;
      }
    }
    if (matched === 0) {
      i++;
      continue;
    }
    out += text.slice(last, i) + REDACTED;
    i += matched;
    last = i;
  }
  return last === 0 ? text : out + text.slice(last);
}

// ---------------------------------------------------------------------------
// Inside one word: URL userinfo, then NAME=value / "name":"value" / name:value pairs.

const AUTHORITY_END = new Set(['/', '?', '#', '"', "'", '`', '<', '>', ' ', '\t', '\n', '\r']);

/** `scheme://user:pass@host` → `scheme://user:<redacted>@host`; `scheme://token@host` → `scheme://<redacted>@host`. */
function redactUrlUserinfo(word: string): string {
  let at = word.indexOf('://');
  if (at < 0) return word;
  let out = '';
  let last = 0;
  while (at >= 0) {
    const start = at + 3;
    let end = start;
    let colon = -1;
    let userinfoEnd = -1;
    for (; end < word.length && !AUTHORITY_END.has(word[end]!); end++) {
      if (word[end] === '@') userinfoEnd = end;
      else if (word[end] === ':' && colon < 0) colon = end;
    }
    if (userinfoEnd > start) {
      const secretFrom = colon >= 0 && colon < userinfoEnd ? colon + 1 : start;
      const secret = word.slice(secretFrom, userinfoEnd);
      if (secret !== '' && secret !== REDACTED) {
        out += word.slice(last, secretFrom) + REDACTED;
        last = userinfoEnd;
      }
    }
    at = word.indexOf('://', end);
  }
  return last === 0 ? word : out + word.slice(last);
}

// What a word leaves to the next ones.
type Pending =
  | { kind: 'value' } // the next word is the secret
  | { kind: 'auth' } // an optional auth scheme word, then the secret
  | { kind: 'userpass' } // user:password, the user kept
  | { kind: 'rest'; left: number } // cookies: words up to the next flag or URL
  | { kind: 'quote'; quote: string; left: number }; // a quoted secret spanning words

// Quoted or cookie secrets hide at most this many words, so a crafted quote cannot hide the rest of a command.
const MAX_SPAN_WORDS = 8;

const isKeyChar = (c: number) => isAlnum(c) || c === 95 || c === 45 || c === 46; // _ - .
const isQuote = (ch: string | undefined) => ch === '"' || ch === "'";

function colonPending(key: string): Pending {
  return key.toLowerCase().includes('cookie') ? { kind: 'rest', left: MAX_SPAN_WORDS } : { kind: 'auth' };
}

/**
 * Secret-named keys followed by `=` or `:` inside a word: `--password=x`,
 * `AWS_SECRET_ACCESS_KEY=x`, `?access_token=x&…`, `{"password":"x"}`,
 * `-Djavax.net.ssl.keyStorePassword=x`. A `name:` at the end of the word
 * (headers, YAML, pretty JSON) leaves its value to the next word.
 */
function redactKeyValues(word: string, c: Compiled): { text: string; pending: Pending | null } {
  const n = word.length;
  let out = '';
  let last = 0;
  let pending: Pending | null = null;
  let i = 0;
  while (i < n) {
    if (!isKeyChar(word.charCodeAt(i))) {
      i++;
      continue;
    }
    const start = i;
    while (i < n && isKeyChar(word.charCodeAt(i))) i++;
    const before = start > 0 ? word[start - 1] : undefined;
    let sepAt = i;
    if (isQuote(word[sepAt]) && word[sepAt] === before) sepAt++; // "key": or 'key'=
    const sep = word[sepAt];
    if (sep !== '=' && sep !== ':') continue;
    if (sep === ':' && word.startsWith('//', sepAt + 1)) continue; // a URL scheme, not a key
    if (!secretName(word.slice(start, i), c)) {
      i = sepAt + 1;
      continue;
    }
    const v = sepAt + 1;
    if (v >= n) {
      if (sep === ':') pending = colonPending(word.slice(start, i));
      break;
    }
    if (word.startsWith(REDACTED, v)) {
      i = v + REDACTED.length;
      continue;
    }
    const q = word[v];
    if (isQuote(q)) {
      let k = v + 1;
      while (k < n && word[k] !== q) k += word[k] === '\\' ? 2 : 1;
      if (k > v + 1) {
        out += word.slice(last, v + 1) + REDACTED;
        last = Math.min(k, n);
      }
      if (k >= n) pending = { kind: 'quote', quote: q!, left: MAX_SPAN_WORDS };
      i = k + 1;
      continue;
    }
    // Unquoted: to the end of the word, or of the quotes the pair sits in, or of a URL query parameter.
    const query = before === '?' || before === '&';
    let k = v;
    while (k < n && !(word[k] === before && isQuote(before)) && !(query && (word[k] === '&' || word[k] === '#'))) k++;
    if (k === n && isAuthScheme(word.slice(v))) {
      pending = { kind: 'value' }; // Authorization:Bearer <the next word>
      break;
    }
    out += word.slice(last, v) + REDACTED;
    last = k;
    i = k;
  }
  return { text: last === 0 ? word : out + word.slice(last), pending };
}

/** The whole word hidden; a leading quote and trailing quotes/punctuation kept, so the text still reads. */
function maskWord(word: string, state: SequenceState): string {
  if (word === '' || word === REDACTED) return word;
  const q = word[0];
  if (isQuote(q)) {
    const close = word.indexOf(q!, 1);
    if (close > 0) return q + REDACTED + word.slice(close);
    state.pending = { kind: 'quote', quote: q!, left: MAX_SPAN_WORDS };
    return q + REDACTED;
  }
  let tail = word.length;
  while (tail > 0 && `"'\`,;)]}`.includes(word[tail - 1]!)) tail--;
  return tail === 0 ? word : REDACTED + word.slice(tail);
}

/** `user:password` → `user:<redacted>`; a lone `key:` (an API key as the user) is hidden whole. */
function maskUserPass(word: string, state: SequenceState): string {
  const colon = word.indexOf(':');
  if (colon < 0) return word; // only a user: the tool prompts for the password
  const rest = word.slice(colon + 1).replace(/["']+$/, '');
  if (rest === '') return maskWord(word, state);
  if (rest === REDACTED) return word;
  return word.slice(0, colon + 1) + REDACTED + word.slice(colon + 1 + rest.length);
}

// ---------------------------------------------------------------------------
// Tools whose secrets are short flags.

type Tool = 'mysql' | 'sshpass' | 'redis' | 'mongo' | 'curl' | 'docker' | 'docker-login' | 'keytool' | 'zip' | 'openssl';
const TOOLS: Record<string, Tool> = {
  mysql: 'mysql', mysqldump: 'mysql', mysqladmin: 'mysql', mysqlcheck: 'mysql', mysqlimport: 'mysql',
  mysqlshow: 'mysql', mysqlpump: 'mysql', mysqlsh: 'mysql', mysqlslap: 'mysql', mariadb: 'mysql',
  'mariadb-dump': 'mysql', 'mariadb-admin': 'mysql', 'mariadb-check': 'mysql', 'mariadb-import': 'mysql',
  'mariadb-show': 'mysql', sshpass: 'sshpass', 'redis-cli': 'redis', mongo: 'mongo', mongosh: 'mongo',
  mongodump: 'mongo', mongorestore: 'mongo', mongoexport: 'mongo', mongoimport: 'mongo', curl: 'curl',
  docker: 'docker', podman: 'docker', nerdctl: 'docker', keytool: 'keytool', zip: 'zip', unzip: 'zip', '7z': 'zip',
  openssl: 'openssl',
};

function toolOf(word: string | null | undefined): Tool | null {
  if (!word || word.length > 256) return null;
  const bare = word.replace(/^["']+|["']+$/g, '');
  const name = bare.slice(bare.lastIndexOf('/') + 1);
  return Object.hasOwn(TOOLS, name) ? TOOLS[name]! : null;
}

/** The tool's own rule for this word, or null when it has none. */
function toolRule(tool: Tool, word: string, state: SequenceState): string | null {
  switch (tool) {
    case 'mysql':
      // -pSECRET; a bare -p or --password prompts (the next word is the database), -P is the port.
      if (word === '-p' || word === '--password' || word === '--pass') return word;
      return /^-p./s.test(word) && word.slice(2) !== REDACTED ? `-p${REDACTED}` : null;
    case 'sshpass':
      if (word === '-p') return pendingValue(word, state);
      return /^-p./s.test(word) && word.slice(2) !== REDACTED ? `-p${REDACTED}` : null;
    case 'redis':
      return word === '-a' ? pendingValue(word, state) : null;
    case 'mongo':
      return word === '-p' ? pendingValue(word, state) : null;
    case 'docker':
      // `docker login -p X`; elsewhere (`docker run -p 8080:80`) -p is a port.
      if (word === 'login') state.tool = 'docker-login';
      return null;
    case 'docker-login':
      return word === '-p' ? pendingValue(word, state) : null;
    case 'keytool':
      return /^-(src|dest)?(store|key)pass$|^-new$/.test(word) ? pendingValue(word, state) : null;
    case 'zip':
      if (word === '-P') return pendingValue(word, state);
      return /^-p./s.test(word) && word.slice(2) !== REDACTED ? `-p${REDACTED}` : null; // 7z -pSECRET
    case 'openssl':
      // -k SECRET, -pass pass:SECRET (env:/file: forms only name a source; hiding them costs nothing).
      return word === '-k' || word === '-pass' || word === '-passin' || word === '-passout' ? pendingValue(word, state) : null;
    case 'curl': {
      // -b/--cookie: a cookie string (or a cookie file, harmless to hide).
      if (word === '-b' || word === '--cookie') return pendingValue(word, state);
      if (word === '-u' || word === '--user' || word === '-U' || word === '--proxy-user') {
        state.pending = { kind: 'userpass' };
        return word;
      }
      const attached = /^(-u|-U|--user=|--proxy-user=)(.+)$/s.exec(word);
      return attached ? attached[1]! + maskUserPass(attached[2]!, state) : null;
    }
  }
}

function pendingValue(word: string, state: SequenceState): string {
  state.pending = { kind: 'value' };
  return word;
}

// ---------------------------------------------------------------------------
// Words in order: what a word leaves pending (`--token`, `Authorization:`) hides the next.

interface SequenceState {
  tool: Tool | null;
  pending: Pending | null;
}

const LONG_FLAG = /^--[A-Za-z]/;
const BARE_FLAG = /^-{1,2}[A-Za-z][A-Za-z0-9_.-]{0,127}$/;

function redactWord(word: string, state: SequenceState, c: Compiled): string {
  const pending = state.pending;
  if (pending) {
    state.pending = null;
    switch (pending.kind) {
      case 'quote': {
        const close = word.indexOf(pending.quote);
        if (close >= 0) return REDACTED + word.slice(close);
        if (pending.left > 1) state.pending = { ...pending, left: pending.left - 1 };
        return REDACTED;
      }
      case 'rest':
        if (word.startsWith('-') || word.includes('://')) break;
        if (pending.left > 1) state.pending = { ...pending, left: pending.left - 1 };
        return maskWord(word, state);
      case 'userpass':
        return maskUserPass(word, state);
      case 'auth':
      case 'value':
        if (pending.kind === 'auth' && isAuthScheme(word)) return pendingValue(word, state);
        // A long flag is the next option, not a value (`--password-stdin --username x`).
        if (LONG_FLAG.test(word)) break;
        return maskWord(word, state);
    }
  }
  const tool = toolOf(word);
  if (tool) state.tool = tool;
  if (state.tool) {
    const own = toolRule(state.tool, word, state);
    if (own !== null) return own;
  }
  const { text, pending: next } = redactKeyValues(redactUrlUserinfo(word), c);
  // A flag in quotes inside a script (`sh -c "x '--token' 's'"`) is still that flag; so is
  // `--password=` with its value in the next word.
  const flag = text.replace(/^["']+|["']+$/g, '').replace(/=$/, '');
  if (next) state.pending = next;
  else if (BARE_FLAG.test(flag) && secretName(flag, c)) state.pending = { kind: 'value' };
  // A shell separator ends the command: the next one's flags are its own, not this tool's.
  if (SHELL_SEPARATOR.test(word)) state.tool = null;
  return text;
}

const SHELL_SEPARATOR = /(^(\|\||&&|\||;)$)|;["']?$/;

/** Words separated by whitespace; a line break starts over (each `ps` line is its own process). */
function redactWords(text: string, state: SequenceState, c: Compiled): string {
  if (!/\s/.test(text)) return redactWord(text, state, c);
  const parts = text.split(/(\s+)/);
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    if (i % 2 === 1) {
      if (part.includes('\n')) {
        state.tool = null;
        state.pending = null;
      }
      continue;
    }
    if (part !== '') parts[i] = redactWord(part, state, c);
  }
  return parts.join('');
}

/**
 * Free text: a command line, `ps` output, a log excerpt. `maxInput` is for
 * callers (and tests) that bound their input themselves.
 */
export function redactText(text: string, rules: RedactionRules = {}, maxInput = MAX_REDACT_INPUT): string {
  const c = compile(rules);
  return redactTokenShapes(redactWords(redactPrivateKeys(bounded(text, maxInput)), { tool: null, pending: null }, c));
}

/**
 * An argv. Each argument is redacted like free text (an argument may be a
 * whole script: `sh -c "mysql -p… "`), and what one leaves pending hides the
 * next (`--token` `x`, `-H` `Authorization:` `Bearer` `x`). `program` (the
 * binary path) tells which tool's short flags apply when args[0] does not.
 */
export function redactArgs(args: readonly string[], rules: RedactionRules = {}, program: string | null = null): string[] {
  const c = compile(rules);
  const state: SequenceState = { tool: toolOf(program), pending: null };
  return args.map((arg) => {
    if (state.pending?.kind === 'value' && /\s/.test(arg)) {
      state.pending = null;
      return REDACTED; // the value of `--token` or `Cookie:` is the whole next argument
    }
    // A tool named inside a script argument (`sh -c "mysql …"`) is that script's, not this argv's.
    const tool = state.tool;
    const out = redactTokenShapes(redactWords(redactPrivateKeys(bounded(arg)), state, c));
    if (/\s/.test(arg)) state.tool = tool;
    // An argument is already one value (the shell took the quotes off): a quote or a cookie started
    // inside it ends with it. A bare `Cookie:` argument leaves the next argument as its value.
    const pending = state.pending;
    if (pending?.kind === 'quote') state.pending = null;
    if (pending?.kind === 'rest') state.pending = pending.left === MAX_SPAN_WORDS ? { kind: 'value' } : null;
    return out;
  });
}
