// deploy.sh: syntax and shellcheck, then the real script run in a scratch copy
// of the repository layout with recording stand-ins for gcloud, terraform and
// npm on a hermetic PATH (no cloud, no network). zip, find, sed… are the real ones.
import { describe, it, expect, beforeAll, afterAll } from '@jest/globals';
import { execFileSync, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { GCP_BUILD_SCRIPT, WARM_COMPILE_CACHE_SCRIPT } from '../scripts/bundle.ts';

const ROOT = join(import.meta.dirname, '..');
const SCRIPT = join(ROOT, 'deploy.sh');

function which(tool: string): string | null {
  const result = spawnSync('bash', ['-c', `command -v ${tool}`], { encoding: 'utf8' });
  return result.status === 0 ? result.stdout.trim() : null;
}

describe('deploy.sh static checks', () => {
  it('parses (bash -n)', () => {
    const result = spawnSync('bash', ['-n', SCRIPT], { encoding: 'utf8' });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
  });

  it('is shellcheck-clean', () => {
    const shellcheck = which('shellcheck');
    if (!shellcheck) {
      if (process.env.CI === 'true') throw new Error('shellcheck is required under CI=true (apt-get install -y shellcheck)');
      console.warn('SKIPPED: shellcheck is not installed — deploy.sh was NOT linted (apt-get install -y shellcheck)');
      return;
    }
    const result = spawnSync(shellcheck, ['--severity=style', SCRIPT], { encoding: 'utf8' });
    expect(result.stdout).toBe('');
    expect(result.status).toBe(0);
  });
});

// ---------------------------------------------------------------- a scratch repository with fake CLIs

// ENABLED_APIS: what \`services list --enabled\` reports (default: the two bootstrap APIs).
const STUB_GCLOUD = `#!/usr/bin/env bash
printf 'gcloud %s\\n' "$*" >>"$CALLS"
case "$1 $2" in
  "auth list") echo "engineer@example.com" ;;
  "auth application-default") [ -z "\${NO_ADC:-}" ] || exit 1; echo "ya29.fake" ;;
  "services list") printf '%s\\n' \${ENABLED_APIS-serviceusage.googleapis.com cloudresourcemanager.googleapis.com} ;;
esac
`;

// STATE_LIST: what \`state list\` prints. EMPTY_OUTPUTS: outputs that print nothing.
// FAIL_APPLY: \`apply\` fails (after recording the call).
const STUB_TERRAFORM = `#!/usr/bin/env bash
printf 'terraform %s\\n' "$*" >>"$CALLS"
for arg in "$@"; do
  case "$arg" in -out=*) : >"\${arg#-out=}" ;; esac
done
if [ "$2" = "output" ]; then
  case " \${EMPTY_OUTPUTS:-} " in *" $4 "*) ;; *) printf 'value-of-%s' "$4" ;; esac
fi
if [ "$2 $3" = "state list" ]; then printf '%s\\n' "\${STATE_LIST:-}"; fi
if [ "$2" = "apply" ] && [ -n "\${FAIL_APPLY:-}" ]; then echo "Error: deleting bucket: 412 retention policy" >&2; exit 1; fi
exit 0
`;

// npm ci / test / run build are recorded (and can be made to fail); `npm exec -- CMD`
// runs CMD for real, as npm would, so the package.json rewrite and the policy check run.
const STUB_NPM = `#!/usr/bin/env bash
line="$*"
printf 'npm %s\\n' "\${line//$'\\n'/ }" >>"$CALLS"
if [ "$1" = "exec" ]; then
  while [ "$#" -gt 0 ] && [ "$1" != "--" ]; do shift; done
  shift
  exec "$@"
fi
if [ "$1" = "test" ] && [ -n "\${FAIL_NPM_TEST:-}" ]; then echo "1 test failed" >&2; exit 1; fi
exit 0
`;

// Stands in for the built CLI: records the validate-policy call, rejects a policy containing "invalid".
const FAKE_CLI = `import fs from 'node:fs';
fs.appendFileSync(process.env.CALLS, 'cli ' + process.argv.slice(2).join(' ') + '\\n');
if (fs.readFileSync(process.argv[3], 'utf8').includes('invalid')) { console.error('invalid policy'); process.exit(1); }
`;

const TOOLS = ['bash', 'env', 'find', 'sort', 'sed', 'grep', 'zip', 'touch', 'chmod', 'cp', 'mkdir', 'rm', 'wc', 'dirname', 'basename', 'cat'];

interface Scratch {
  dir: string;
  repo: string;
  calls: string;
  bin: string;
  run(args: string[], opts?: { env?: Record<string, string>; cwd?: string; omit?: string[] }): SpawnSyncReturns<string> & { calls: string[] };
}

function makeScratch(): Scratch {
  const dir = mkdtempSync(join(tmpdir(), 'scc-deploy-'));
  const repo = join(dir, 'repo');
  const calls = join(dir, 'calls.log');
  mkdirSync(join(repo, 'dist', 'core'), { recursive: true });
  mkdirSync(join(repo, 'terraform'), { recursive: true });
  mkdirSync(join(repo, 'src'), { recursive: true });
  copyFileSync(SCRIPT, join(repo, 'deploy.sh'));
  chmodSync(join(repo, 'deploy.sh'), 0o755);
  // dist/ is the tsc build (the CLI checks the policy); .build/function/ the bundle that ships.
  writeFileSync(join(repo, 'dist', 'index.js'), 'export {};\n');
  writeFileSync(join(repo, 'dist', 'core', 'plan.js'), 'export const plan = 1;\n');
  writeFileSync(join(repo, 'dist', 'cli.js'), FAKE_CLI);
  mkdirSync(join(repo, '.build', 'function', 'dist'), { recursive: true });
  mkdirSync(join(repo, '.build', 'function', 'policy'), { recursive: true });
  writeFileSync(join(repo, '.build', 'function', 'dist', 'index.js'), 'export {};\n//# sourceMappingURL=index.js.map\n');
  writeFileSync(join(repo, '.build', 'function', 'dist', 'index.js.map'), '{"version":3,"sources":["../src/index.ts"],"mappings":""}\n');
  writeFileSync(join(repo, '.build', 'function', 'dist', 'gke-cluster-access-ABC123.js'), 'export const lazy = 1;\n');
  writeFileSync(join(repo, '.build', 'function', 'policy', 'default.yaml'), 'dryRun: true\n');
  writeFileSync(join(repo, '.build', 'function', WARM_COMPILE_CACHE_SCRIPT), '// fills the compile cache\n');
  writeFileSync(join(repo, 'src', 'index.ts'), 'not packaged\n');
  writeFileSync(
    join(repo, 'package.json'),
    JSON.stringify(
      {
        name: 'scc-responder',
        version: '0.1.0',
        type: 'module',
        main: 'dist/index.js',
        scripts: { build: 'tsc -p tsconfig.build.json', prepare: 'npm run build', test: 'jest' },
        dependencies: { '@google-cloud/functions-framework': '5.0.5' },
        devDependencies: { typescript: '7.0.2' },
      },
      null,
      2,
    ),
  );
  writeFileSync(join(repo, 'package-lock.json'), '{"lockfileVersion":3}\n');
  writeFileSync(join(repo, 'policy.yaml'), 'dryRun: true\n');
  writeFileSync(join(dir, 'prod.tfvars'), 'project_id = "my-secops-project"\nevidence_bucket = "my-secops-project-scc-evidence"\n');

  const bin = join(dir, 'bin');
  mkdirSync(bin);
  for (const [name, body] of [
    ['gcloud', STUB_GCLOUD],
    ['terraform', STUB_TERRAFORM],
    ['npm', STUB_NPM],
  ] as const) {
    writeFileSync(join(bin, name), body);
    chmodSync(join(bin, name), 0o755);
  }
  symlinkSync(process.execPath, join(bin, 'node'));
  for (const tool of TOOLS) {
    const path = which(tool);
    if (!path) throw new Error(`${tool} is needed to run deploy.sh`);
    symlinkSync(path, join(bin, tool));
  }

  return {
    dir,
    repo,
    calls,
    bin,
    run(args, opts = {}) {
      rmSync(calls, { force: true });
      writeFileSync(calls, '');
      const omitted = opts.omit ?? [];
      for (const name of omitted) renameSync(join(bin, name), join(dir, `${name}.omitted`));
      try {
        const result = spawnSync(join(repo, 'deploy.sh'), args, {
          cwd: opts.cwd ?? repo,
          encoding: 'utf8',
          // stdin is not a terminal: confirmation prompts must refuse, not hang.
          stdio: ['ignore', 'pipe', 'pipe'],
          env: { PATH: bin, HOME: dir, CALLS: calls, ...opts.env },
        });
        return Object.assign(result, { calls: readFileSync(calls, 'utf8').split('\n').filter(Boolean) });
      } finally {
        for (const name of omitted) renameSync(join(dir, `${name}.omitted`), join(bin, name));
      }
    },
  };
}

function zipEntries(zip: string): string[] {
  return execFileSync('unzip', ['-Z1', zip], { encoding: 'utf8' }).split('\n').filter(Boolean).sort();
}

function sha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

describe('deploy.sh run against recording fakes', () => {
  let s: Scratch;
  let varFile: string;
  let zip: string;

  beforeAll(() => {
    if (!which('unzip')) throw new Error('unzip is needed to inspect the package');
    s = makeScratch();
    varFile = join(s.dir, 'prod.tfvars');
    zip = join(s.repo, '.build', 'function-source.zip');
  });
  afterAll(() => {
    rmSync(s.dir, { recursive: true, force: true });
  });

  it('--help explains the modes', () => {
    const result = s.run(['--help']);
    expect(result.status).toBe(0);
    for (const flag of ['--var-file', '--policy', '--plan-only', '--destroy', '--auto-approve']) expect(result.stdout).toContain(flag);
  });

  it('refuses to run without --var-file, with a message saying what to do', () => {
    const result = s.run(['--plan-only']);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('--var-file is required');
    expect(result.stderr).toContain('terraform.tfvars.example');
    expect(result.calls).toEqual([]);
  });

  it('rejects unknown arguments and contradictory modes', () => {
    expect(s.run(['--var-file', varFile, '--yolo']).stderr).toContain('unknown argument: --yolo');
    expect(s.run(['--var-file', varFile, '--plan-only', '--destroy']).stderr).toContain('exclude each other');
  });

  it('names a missing prerequisite', () => {
    const result = s.run(['--var-file', varFile, '--plan-only'], { omit: ['gcloud'] });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('gcloud is not installed');
  });

  it('needs Application Default Credentials for Terraform', () => {
    const result = s.run(['--var-file', varFile, '--plan-only'], { env: { NO_ADC: '1' } });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('gcloud auth application-default login');
    expect(result.calls.some((c) => c.startsWith('npm'))).toBe(false);
  });

  it('--plan-only changes nothing, APIs included: without the bootstrap APIs it says which to enable, before building', () => {
    const result = s.run(['--var-file', varFile, '--plan-only'], { env: { ENABLED_APIS: 'pubsub.googleapis.com serviceusage.googleapis.com' } });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('gcloud services enable cloudresourcemanager.googleapis.com --project=my-secops-project');
    expect(result.calls).toContain("gcloud services list --enabled --project=my-secops-project --format=value(config.name)");
    expect(result.calls.some((c) => c.startsWith('gcloud services enable'))).toBe(false);
    expect(result.calls.some((c) => c.startsWith('npm') || c.startsWith('terraform'))).toBe(false);
  });

  it('needs the project_id in the var file (to enable the bootstrap APIs there)', () => {
    writeFileSync(join(s.dir, 'no-project.tfvars'), 'region = "europe-west1"\n');
    const result = s.run(['--var-file', join(s.dir, 'no-project.tfvars'), '--plan-only']);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('could not read project_id');
  });

  it('stops on a missing policy file before building anything', () => {
    const result = s.run(['--var-file', varFile, '--policy', 'nope.yaml', '--plan-only']);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('policy file not found');
    expect(result.calls).toEqual([]);
  });

  it('--plan-only: builds, tests, checks the policy, packages, plans — and applies nothing', () => {
    // A relative --policy from another directory must still be found.
    mkdirSync(join(s.dir, 'policies'), { recursive: true });
    writeFileSync(join(s.dir, 'policies', 'prod.yaml'), 'dryRun: true\nrules: []\n');
    const result = s.run(['--var-file', varFile, '--policy', 'policies/prod.yaml', '--plan-only'], { cwd: s.dir });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const tf = `terraform -chdir=${s.repo}/terraform`;
    const policy = join(s.dir, 'policies', 'prod.yaml');
    expect(result.calls.filter((c) => !c.startsWith('gcloud'))).toEqual([
      'npm ci --no-audit --no-fund',
      'npm test',
      'npm run build',
      'npm run bundle',
      `npm exec --no -- node dist/cli.js validate-policy ${policy}`,
      `cli validate-policy ${policy}`,
      expect.stringMatching(/^npm exec --no -- node -e /),
      `${tf} init -input=false`,
      `${tf} plan -input=false -var-file=${varFile} -var=function_source_zip=${zip} -out=${s.repo}/.build/tfplan`,
    ]);
    expect(result.stdout).toContain('Plan only: nothing was changed');

    // Only what the function needs: the bundle (dist/ with its chunks and maps, the default
    // policy), package.json, package-lock.json, the policy. Not the tsc build, not the CLI.
    expect(zipEntries(zip)).toEqual([
      'dist/gke-cluster-access-ABC123.js',
      'dist/index.js',
      'dist/index.js.map',
      'package-lock.json',
      'package.json',
      'policy.yaml',
      'policy/default.yaml',
      WARM_COMPILE_CACHE_SCRIPT,
    ]);
    const unpacked = join(s.dir, 'unpacked');
    rmSync(unpacked, { recursive: true, force: true });
    execFileSync('unzip', ['-q', zip, '-d', unpacked]);
    expect(readFileSync(join(unpacked, 'policy.yaml'), 'utf8')).toBe('dryRun: true\nrules: []\n');
    const pkg = JSON.parse(readFileSync(join(unpacked, 'package.json'), 'utf8'));
    // No build on Cloud Build (dist/ is bundled; TypeScript and src/ are not shipped), only the
    // step that fills the V8 compile cache with the runtime's own Node …
    expect(pkg.scripts).toEqual({ 'gcp-build': GCP_BUILD_SCRIPT });
    // … and the dependency lists untouched, so package-lock.json stays in sync for npm ci.
    expect(pkg.dependencies).toEqual({ '@google-cloud/functions-framework': '5.0.5' });
    expect(pkg.devDependencies).toEqual({ typescript: '7.0.2' });
    expect(pkg.main).toBe('dist/index.js');
  });

  it('packages byte-identically when nothing changed (idempotent: Terraform sees no change)', () => {
    expect(s.run(['--var-file', varFile, '--plan-only']).status).toBe(0);
    const first = sha256(zip);
    // A rebuild rewrites the bundle with new timestamps but the same content.
    const later = new Date(Date.now() + 60_000);
    utimesSync(join(s.repo, '.build', 'function', 'dist', 'index.js'), later, later);
    expect(s.run(['--var-file', varFile, '--plan-only']).status).toBe(0);
    expect(sha256(zip)).toBe(first);
    writeFileSync(join(s.repo, '.build', 'function', 'dist', 'index.js'), 'export const changed = true;\n');
    expect(s.run(['--var-file', varFile, '--plan-only']).status).toBe(0);
    expect(sha256(zip)).not.toBe(first);
  });

  it('stops before Terraform when the tests fail or the policy is invalid', () => {
    const failing = s.run(['--var-file', varFile, '--plan-only'], { env: { FAIL_NPM_TEST: '1' } });
    expect(failing.status).not.toBe(0);
    expect(failing.calls.some((c) => c.startsWith('terraform'))).toBe(false);

    writeFileSync(join(s.dir, 'bad.yaml'), 'invalid: true\n');
    const bad = s.run(['--var-file', varFile, '--policy', join(s.dir, 'bad.yaml'), '--plan-only']);
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain('the policy does not validate');
    expect(bad.calls.some((c) => c.startsWith('terraform'))).toBe(false);
  });

  it('apply asks first: without a terminal and without --auto-approve it refuses after planning', () => {
    const result = s.run(['--var-file', varFile]);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('--auto-approve');
    expect(result.calls.some((c) => / apply /.test(c))).toBe(false);
  });

  it('--auto-approve enables the bootstrap APIs before Terraform runs, applies the saved plan, prints the next steps with real values', () => {
    const result = s.run(['--var-file', varFile, '--auto-approve']);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const tf = `terraform -chdir=${s.repo}/terraform`;
    const enable = result.calls.indexOf('gcloud services enable serviceusage.googleapis.com cloudresourcemanager.googleapis.com --project=my-secops-project');
    expect(enable).toBeGreaterThanOrEqual(0);
    expect(enable).toBeLessThan(result.calls.findIndex((c) => c.startsWith('terraform')));
    expect(result.calls).toContain(`${tf} apply -input=false ${s.repo}/.build/tfplan`);
    expect(result.stdout).toContain('value-of-function_service_account');
    expect(result.stdout).toContain('value-of-test_finding_command');
    expect(result.stdout).toContain('value-of-logs_command');
    expect(existsSync(join(s.repo, '.build', 'tfplan'))).toBe(false);
  });

  it('writes the ClusterRoles Terraform rendered from enabled_actions to .build/k8s/ and says to apply them', () => {
    const k8s = join(s.repo, '.build', 'k8s');
    const withExec = s.run(['--var-file', varFile, '--auto-approve']);
    expect(withExec.status).toBe(0);
    expect(readFileSync(join(k8s, 'clusterrole.yaml'), 'utf8')).toBe('value-of-cluster_role_manifest');
    expect(readFileSync(join(k8s, 'clusterrole-exec.yaml'), 'utf8')).toBe('value-of-exec_role_manifest\n');
    expect(withExec.stdout).toContain('kubectl apply -f .build/k8s/clusterrole.yaml');
    expect(withExec.stdout).toContain('kubectl apply -f .build/k8s/clusterrole-exec.yaml');
    expect(withExec.stdout).not.toContain('terraform/k8s/');
    // No action that execs is enabled: no exec file, and the way to remove an old one.
    const noExec = s.run(['--var-file', varFile, '--auto-approve'], { env: { EMPTY_OUTPUTS: 'exec_role_manifest' } });
    expect(noExec.status).toBe(0);
    expect(existsSync(join(k8s, 'clusterrole-exec.yaml'))).toBe(false);
    expect(noExec.stdout).toContain('kubectl delete clusterrolebinding,clusterrole value-of-exec_role_name --ignore-not-found');
  });

  it('--destroy plans a destroy and applies it, without building', () => {
    rmSync(join(s.repo, '.build'), { recursive: true, force: true });
    const result = s.run(['--var-file', varFile, '--destroy', '--auto-approve']);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const tf = `terraform -chdir=${s.repo}/terraform`;
    expect(result.calls.filter((c) => !c.startsWith('gcloud'))).toEqual([
      `${tf} init -input=false`,
      `${tf} state list`,
      `${tf} plan -destroy -input=false -var-file=${varFile} -var=function_source_zip=${zip} -out=${s.repo}/.build/tfplan`,
      `${tf} apply -input=false ${s.repo}/.build/tfplan`,
    ]);
    expect(result.stdout).toContain('Firestore ledger');
    expect(result.stdout).toContain('Destroyed.');
    expect(result.calls.some((c) => c.startsWith('gcloud services'))).toBe(false);
    expect(dirname(zip)).toBe(join(s.repo, '.build'));
  });

  const BUCKET = 'google_storage_bucket.evidence[0]';
  const STATE = `google_pubsub_topic.findings\n${BUCKET}\ngoogle_storage_bucket.source`;

  it('--destroy keeps the evidence bucket: out of the state before the plan, named in what is left in place', () => {
    const result = s.run(['--var-file', varFile, '--destroy', '--auto-approve'], { env: { STATE_LIST: STATE } });
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    const tf = `terraform -chdir=${s.repo}/terraform`;
    const calls = result.calls.filter((c) => !c.startsWith('gcloud'));
    expect(calls).toEqual([
      `${tf} init -input=false`,
      `${tf} state list`,
      `${tf} output -raw evidence_bucket`,
      `${tf} state rm ${BUCKET}`,
      `${tf} plan -destroy -input=false -var-file=${varFile} -var=function_source_zip=${zip} -out=${s.repo}/.build/tfplan`,
      `${tf} apply -input=false ${s.repo}/.build/tfplan`,
    ]);
    expect(result.stdout).toContain('Left in place on purpose');
    expect(result.stdout).toContain('the evidence bucket value-of-evidence_bucket: objects under retention cannot be deleted');
    expect(result.stdout).toContain('create_evidence_bucket = false');
  });

  it('--destroy that fails still says what is left in place, and exits with the failure', () => {
    const result = s.run(['--var-file', varFile, '--destroy', '--auto-approve'], { env: { STATE_LIST: STATE, FAIL_APPLY: '1' } });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('retention policy');
    expect(result.stdout).not.toContain('Destroyed.');
    expect(result.stdout).toContain('The destroy did not finish');
    expect(result.stdout).toContain('Left in place on purpose');
    expect(result.stdout).toContain('the evidence bucket value-of-evidence_bucket');
    expect(existsSync(join(s.repo, '.build', 'tfplan'))).toBe(false);
  });

  it('--destroy not confirmed: nothing applied, and the evidence bucket is put back in the state', () => {
    const result = s.run(['--var-file', varFile, '--destroy'], { env: { STATE_LIST: STATE } });
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('--auto-approve');
    const tf = `terraform -chdir=${s.repo}/terraform`;
    expect(result.calls.some((c) => / apply /.test(c))).toBe(false);
    expect(result.calls).toContain(
      `${tf} import -input=false -var-file=${varFile} -var=function_source_zip=${zip} ${BUCKET} my-secops-project/value-of-evidence_bucket`,
    );
  });

  it('--destroy on a state from before the evidence_bucket output: the bucket name comes from the var file', () => {
    const result = s.run(['--var-file', varFile, '--destroy', '--auto-approve'], { env: { STATE_LIST: STATE, EMPTY_OUTPUTS: 'evidence_bucket' } });
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('the evidence bucket my-secops-project-scc-evidence: objects under retention');
  });

  it('--destroy with no evidence bucket in the state touches no state', () => {
    const result = s.run(['--var-file', varFile, '--destroy', '--auto-approve'], { env: { STATE_LIST: 'google_pubsub_topic.findings' } });
    expect(result.status).toBe(0);
    expect(result.calls.some((c) => c.includes(' state rm ') || c.includes(' import '))).toBe(false);
    expect(result.stdout).toContain('no evidence bucket was managed by the stack');
  });
});
