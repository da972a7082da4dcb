// The README is a few screens and the reference lives in docs/: this keeps every link
// between them working, and every section the old single README had one click away
// from the new one, so splitting the text never loses a reader on the way.
import { describe, expect, it } from '@jest/globals';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const README = 'README.md';
const DOC_FILES = readdirSync(join(ROOT, 'docs'))
  .filter((f) => f.endsWith('.md'))
  .map((f) => `docs/${f}`)
  .sort();
const FILES = [README, 'CONTRIBUTING.md', ...DOC_FILES];

/** The README stays a few screens: past this, move text to docs/. */
const README_MAX_LINES = 220;

// The h2 and h3 headings of the README before it was split (git show HEAD:README.md
// at the time); hard-coded because the README they came from is gone.
const FORMER_HEADINGS = [
  'Quick start',
  'Demo: `npm run demo`',
  'CLI',
  'Policy',
  'Process conditions',
  'Exceptions: expected shells, until a date',
  'Debugging a policy: `plan --explain`',
  'Policy tests: `test-policy`',
  'Editor support: the JSON Schema',
  'What the responder keeps, and the plan',
  'The function',
  'Actions on the cluster',
  'Preflight (every time, right before acting)',
  'Snapshots (before anything removes the pod)',
  'The actions',
  'What "isolated" means (and does not)',
  'Audit trail: Kubernetes Events',
  'Release: undo a quarantine',
  'Permissions (RBAC)',
  'Cluster access',
  'Owners',
  '`scc-responder respond`',
  'Evidence: Logging queries, links and the kept bundle',
  'The queries',
  'Settings',
  'Quota behaviour',
  'What the summary gets (`EvidenceReport`)',
  'The kept bundle',
  'Ops summary, ledger and blast-radius budget',
  'The summary document (`scc-responder.summary/v1`)',
  'Sinks',
  'Routes and mentions',
  'SCC write-back',
  'Ledger (Firestore)',
  'Before the claim: label and isolate first',
  'Local ledger (CLI, one machine)',
  'Faults: every write is reported',
  'Blast-radius budget',
  'Settings (environment)',
  'Performance',
  'Figures (three consecutive `npm run bench -- --json` runs on a 2-vCPU development machine, Node 22.23)',
  'Reproduce',
  'What ships',
  'Method',
  'What made it faster or lighter',
  'Next levers',
  'Sizing (terraform)',
  'Approval from Slack (Contain / Dismiss)',
  'Policy keys',
  'Setup',
  'What each press does',
  'Security model of the endpoint',
  'Google Chat',
  'Deploy',
  '1. Prerequisites',
  'Provider lock file',
  '2. Settings and policy',
  '3. Plan, then apply',
  '4. Kubernetes access',
  '5. Roll out in dry-run, then enforce',
  'Delivery: our own push subscription (default) or the Eventarc trigger',
  'Least privilege: every grant and why',
  'Send a test finding and watch the logs',
  'Metrics and alerts',
  'Destroy',
  'Configuration reference',
  'Security model',
  'Credential redaction',
  'Development',
  'Troubleshooting',
];

/** Former headings that moved under another name. */
const RENAMED: Record<string, string> = { Development: 'Running the tests' };

/** GitHub's heading anchor: lowercase, punctuation but `-` and `_` dropped, each space a `-`. */
function slug(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

/** Lines outside fenced code blocks: a `#` or `[x](y)` inside a fence is code, not markdown. */
function prose(text: string): string[] {
  const out: string[] = [];
  let fenced = false;
  for (const line of text.split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    else if (!fenced) out.push(line);
  }
  return out;
}

interface Heading {
  text: string;
  anchor: string;
}

/** Headings in order with their anchors; a repeated anchor gets -1, -2, … as on GitHub. */
function headingsOf(text: string): Heading[] {
  const seen = new Map<string, number>();
  const out: Heading[] = [];
  for (const line of prose(text)) {
    const m = /^#{1,6} +(.+?) *#* *$/.exec(line);
    if (!m) continue;
    const base = slug(m[1]!);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.push({ text: m[1]!, anchor: n === 0 ? base : `${base}-${n}` });
  }
  return out;
}

interface Link {
  line: number;
  target: string;
}

function linksOf(text: string): Link[] {
  const out: Link[] = [];
  let fenced = false;
  text.split('\n').forEach((raw, i) => {
    if (/^\s*(```|~~~)/.test(raw)) fenced = !fenced;
    if (fenced || /^\s*(```|~~~)/.test(raw)) return;
    // Code spans are literal text: a `[x](y)` inside one is not a link (a label may still be one).
    const line = raw.replace(/`[^`]*`/g, 'code');
    for (const m of line.matchAll(/\[[^\]]*\]\(([^)\s]+)(?: "[^"]*")?\)/g)) out.push({ line: i + 1, target: m[1]! });
  });
  return out;
}

const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');
const anchorsOf = (file: string) => new Set(headingsOf(read(file)).map((h) => h.anchor));

/** Where a relative link points: a repository path (no anchor) and its anchor, or null for an external URL. */
function resolve(from: string, target: string): { path: string; anchor: string | null } | null {
  if (/^[a-z][a-z0-9+.-]*:/i.test(target)) return null;
  const hash = target.indexOf('#');
  const path = decodeURIComponent(hash < 0 ? target : target.slice(0, hash));
  const anchor = hash < 0 ? null : decodeURIComponent(target.slice(hash + 1));
  return { path: path === '' ? from : normalize(join(dirname(from), path)).replace(/\/$/, ''), anchor };
}

/** Every link of `file` that does not resolve: a missing file, or an anchor no heading of its target has. */
function brokenLinks(file: string, text: string): string[] {
  const broken: string[] = [];
  for (const { line, target } of linksOf(text)) {
    const to = resolve(file, target);
    if (!to) continue;
    const where = `${file}:${line} ${target}`;
    if (relative(ROOT, join(ROOT, to.path)).startsWith('..')) broken.push(`${where}: outside the repository`);
    else if (to.path !== file && !existsSync(join(ROOT, to.path))) broken.push(`${where}: no such file`);
    else if (to.anchor !== null) {
      const anchors = to.path === file ? new Set(headingsOf(text).map((h) => h.anchor)) : to.path.endsWith('.md') ? anchorsOf(to.path) : new Set<string>();
      if (!anchors.has(to.anchor)) broken.push(`${where}: no heading with that anchor in ${to.path}`);
    }
  }
  return broken;
}

/** `path#anchor` (or `path`) of every link in the README. */
function readmeTargets(): Set<string> {
  const out = new Set<string>();
  for (const { target } of linksOf(read(README))) {
    const to = resolve(README, target);
    if (to) out.add(to.anchor === null ? to.path : `${to.path}#${to.anchor}`);
  }
  return out;
}

describe('anchors', () => {
  it('are made as GitHub makes them', () => {
    expect(slug('Debugging a policy: `plan --explain`')).toBe('debugging-a-policy-plan---explain');
    expect(slug('Approval from Slack (Contain / Dismiss)')).toBe('approval-from-slack-contain--dismiss');
    expect(slug('What "isolated" means (and does not)')).toBe('what-isolated-means-and-does-not');
    expect(slug('The summary document (`scc-responder.summary/v1`)')).toBe('the-summary-document-scc-respondersummaryv1');
    expect(slug('1. Prerequisites')).toBe('1-prerequisites');
    expect(slug('snake_case stays')).toBe('snake_case-stays');
    expect(headingsOf('## Settings\n```sh\n# not a heading\n```\n### Settings\n').map((h) => h.anchor)).toEqual(['settings', 'settings-1']);
  });
});

describe('the docs', () => {
  it('exist: docs/ has the reference pages', () => {
    expect(DOC_FILES.length).toBeGreaterThanOrEqual(10);
  });

  it('every relative link resolves to a file, and every anchor to a heading of it', () => {
    expect(FILES.flatMap((file) => brokenLinks(file, read(file)))).toEqual([]);
  });

  it('the link check finds a missing file and a missing anchor', () => {
    const text = '[a](../no-such-file.md) [b](policy.md#no-such-heading) [c](#nowhere) [d](../../x.md)\n## Here\n[e](#here) [f](policy.md#policy) [g](https://example.com/#x) `[h](nowhere.md)`';
    expect(brokenLinks('docs/x.md', text)).toEqual([
      'docs/x.md:1 ../no-such-file.md: no such file',
      'docs/x.md:1 policy.md#no-such-heading: no heading with that anchor in docs/policy.md',
      'docs/x.md:1 #nowhere: no heading with that anchor in docs/x.md',
      'docs/x.md:1 ../../x.md: outside the repository',
    ]);
  });

  it('each doc says what it holds and links back to the README', () => {
    for (const file of DOC_FILES) {
      const firstParagraph = prose(read(file)).find((line) => line.trim() !== '' && !line.startsWith('#'));
      expect(`${file}: ${firstParagraph}`).toContain('](../README.md)');
    }
  });
});

describe('the README', () => {
  it(`stays short (at most ${README_MAX_LINES} lines)`, () => {
    expect(read(README).split('\n').length).toBeLessThanOrEqual(README_MAX_LINES);
  });

  it('links every page in docs/ and CONTRIBUTING.md', () => {
    const linked = new Set([...readmeTargets()].map((t) => t.split('#')[0]));
    expect([...DOC_FILES, 'CONTRIBUTING.md'].filter((f) => !linked.has(f))).toEqual([]);
  });

  it('every former section is still a heading somewhere, and the README links to it', () => {
    const targets = readmeTargets();
    const problems: string[] = [];
    for (const former of FORMER_HEADINGS) {
      const text = RENAMED[former] ?? former;
      const homes = FILES.filter((file) => headingsOf(read(file)).some((h) => h.text === text));
      if (homes.length === 0) {
        problems.push(`"${former}": no heading "${text}" in ${FILES.join(', ')}`);
        continue;
      }
      if (homes.includes(README)) continue;
      const linked = homes.some((file) => {
        const heading = headingsOf(read(file)).find((h) => h.text === text)!;
        return targets.has(`${file}#${heading.anchor}`);
      });
      if (!linked) problems.push(`"${former}": in ${homes.join(', ')}, but the README does not link to it`);
    }
    expect(problems).toEqual([]);
  });
});
