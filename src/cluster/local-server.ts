/**
 * Starts a throwaway `redis-server` on 127.0.0.1 for tests and the bench:
 * persistence off (`--save '' --appendonly no`), bound to loopback, on a port
 * picked free here (redis-server has no `--port 0`), stopped by its pid.
 * Not used by the crawler itself.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

export interface LocalRedis {
  readonly port: number;
  readonly pid: number;
  readonly url: string;
  /** Stops the server (SIGKILL unless `graceful`) and waits for it to exit. */
  stop(graceful?: boolean): Promise<void>;
  /** Stops it and starts a fresh, empty one on the same port (the state is gone). */
  restart(): Promise<LocalRedis>;
}

/** A port the kernel just gave us; redis-server binds it a moment later (retried if someone took it). */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

const START_TIMEOUT_MS = 10_000;

export async function startLocalRedis(opts: { port?: number; binary?: string; extraArgs?: readonly string[] } = {}): Promise<LocalRedis> {
  const binary = opts.binary ?? 'redis-server';
  for (let attempt = 0; ; attempt++) {
    const port = opts.port ?? (await freePort());
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'yes', ...(opts.extraArgs ?? [])];
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const ready = await waitReady(child, port);
    if (ready === true) return handle(child, port, opts);
    if (attempt >= 5 || opts.port !== undefined) throw new Error(`redis-server did not start on port ${port}: ${ready}`);
  }
}

function waitReady(child: ChildProcess, port: number): Promise<true | string> {
  return new Promise((resolve) => {
    let out = '';
    const timer = setTimeout(() => finish(`no 'Ready to accept connections' within ${START_TIMEOUT_MS} ms`), START_TIMEOUT_MS);
    const finish = (r: true | string): void => {
      clearTimeout(timer);
      child.stdout?.removeAllListeners('data');
      child.removeAllListeners('exit');
      child.removeAllListeners('error');
      if (r !== true) child.kill('SIGKILL');
      // Keep draining its output so a chatty server never blocks on a full pipe.
      child.stdout?.resume();
      child.stderr?.resume();
      resolve(r);
    };
    child.once('error', (err) => finish(err.message));
    child.once('exit', (code) => finish(`exited with ${String(code)} (port ${port}): ${out.slice(-500)}`));
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('Ready to accept connections')) finish(true);
    });
  });
}

function handle(child: ChildProcess, port: number, opts: { binary?: string; extraArgs?: readonly string[] }): LocalRedis {
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  const stop = async (graceful = false): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(graceful ? 'SIGTERM' : 'SIGKILL');
    await exited;
  };
  return {
    port,
    pid: child.pid as number,
    url: `redis://127.0.0.1:${port}`,
    stop,
    async restart() {
      await stop();
      return startLocalRedis({ ...opts, port });
    },
  };
}
