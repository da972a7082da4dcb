// The benchmark's plumbing, cheaply: `node bench/run.ts --json --quick` builds
// the function, runs one cold start per side against the fakes, a short ignore
// loop and two small bursts, and ends with one JSON line of figures. Speed
// targets are the benchmark's business (npm run bench), not a timed test's:
// this only checks that every figure is there and the bursts behave.
import { describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

async function runBench(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['bench/run.ts', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { code, stdout, stderr };
}

describe('npm run bench -- --json --quick', () => {
  it('ends with one JSON object carrying every figure', async () => {
    const { code, stdout, stderr } = await runBench(['--json', '--quick']);
    expect({ code, stderr: code === 0 ? '' : stderr }).toEqual({ code: 0, stderr: '' });
    const last = stdout.trim().split('\n').pop()!;
    const report = JSON.parse(last);
    for (const key of ['coldStartMs', 'baselineMs', 'coldStartRatio', 'peakRssMiB', 'ignorePerSec']) {
      expect(typeof report[key]).toBe('number');
      expect(report[key]).toBeGreaterThan(0);
    }
    expect(report.coldStartRatio).toBeCloseTo(report.coldStartMs / report.baselineMs, 2);
    // The compile cache is built by its own step and read by fresh processes, even in --quick.
    expect(report.compileCache).toEqual(expect.objectContaining({ coldStartMs: expect.any(Number), ratio: expect.any(Number) }));
    expect(report.compileCache.ratio).toBeCloseTo(report.compileCache.coldStartMs / report.baselineMs, 2);
    // --quick starts no emulator: the as-deployed figure is absent, and its target neither met nor missed.
    expect(report.deployedLikeRatio).toBeNull();
    expect(report.met.deployedLikeRatio).toBeNull();
    expect(report.burst).toEqual(
      expect.objectContaining({
        findings: 20,
        k8sWrites: expect.any(Number),
        logQueries: expect.any(Number),
        maxLogReadsPerMinute: expect.any(Number),
      }),
    );
    // The bursts' behaviour is deterministic (not timing): one write per action and pod, shared log reads.
    expect(report.burst.k8sWrites).toBe(report.burst.expectedK8sWrites);
    expect(report.burst.maxWritesPerActionTarget).toBe(1);
    expect(report.burst.maxLogQueriesPerTarget).toBeLessThanOrEqual(3);
    expect(report.burst.maxLogReadsPerMinute).toBeLessThanOrEqual(60);
    expect(stderr).toMatch(/cold start to first containment write: \d+ ms/);
  }, 180_000);
});
