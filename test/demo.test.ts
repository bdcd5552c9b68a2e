/**
 * `bitspread demo`, the README's main command: it must not fail because the
 * machine is busy, and when it does fall short it names the missing nodes and
 * what was recorded for each (issue 11, item 3).
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const CLI = fileURLToPath(new URL('../dist/src/cli/main.js', import.meta.url));

function run(cmd: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 120_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr });
    });
  });
}

const burners: ChildProcess[] = [];
afterEach(() => {
  for (const b of burners.splice(0)) b.kill('SIGKILL');
});

describe('bitspread demo', () => {
  it('finds the exact ground truth with its default timeouts while its core is shared with two busy loops', async () => {
    // Pinned to one core with two CPU burners, the demo gets about a third of it, whatever else the machine does.
    for (let i = 0; i < 2; i++) burners.push(spawn('taskset', ['-c', '0', process.execPath, '-e', 'for(;;);'], { stdio: 'ignore' }));
    const r = await run('taskset', ['-c', '0', process.execPath, CLI, 'demo', '--nodes', '1000', '--log-level', 'warn']);
    expect(r.stdout).toMatch(/ground truth: found 900 of 900 reachable \(900 with exact version fields\), 100 of 100 failed/);
    expect(r.stdout).not.toMatch(/missing/);
    expect(r.code).toBe(0);
  });

  it('a shortfall names each missing node, its behaviour and what the crawl recorded for it (exit 1)', async () => {
    // 20 ms per step is too short for most handshakes (or, on a busy machine, connects): nodes fail, and what they knew is never learned.
    const r = await run(process.execPath, [CLI, 'demo', '--nodes', '300', '--timeout', '20ms', '--log-level', 'warn']);
    expect(r.code).toBe(1);
    const m = /missing (\d+) reachable node\(s\) of the ground truth:\n((?: {2}.*\n)+)/.exec(r.stdout);
    expect(m).not.toBeNull();
    const listed = m![2]!.trimEnd().split('\n');
    const found = /found (\d+) of (\d+) reachable/.exec(r.stdout)!;
    expect(Number(m![1])).toBe(Number(found[2]) - Number(found[1]));
    for (const line of listed.filter((l) => !l.startsWith('  ...'))) expect(line).toMatch(/^ {2}127\.\d+\.\d+\.\d+:\d+ \(\w+\): (failed ERR_[A-Z_]+(\/ERR_[A-Z_]+)?|never learned|skipped [a-z-]+)$/);
    expect(r.stdout).toMatch(/\(\w+\): failed ERR_(HANDSHAKE|CONNECT)_TIMEOUT/);
    // Past 20 names, the rest is counted by cause.
    expect(r.stdout).toMatch(/ {2}\.\.\. and \d+ more; all by cause: .*never learned \d+/);
  });
});
