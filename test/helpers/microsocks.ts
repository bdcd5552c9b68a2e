/**
 * Debian's microsocks (a real SOCKS5 server) on 127.0.0.1, started by a
 * test and stopped after it. It listens on 127.0.0.1 only, and the tests
 * only ask it for destinations inside 127.0.0.0/8 and ::1.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, connect } from 'node:net';

export interface Microsocks {
  readonly address: string;
  readonly port: number;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

/** Resolves once the port accepts connections (polls with connects, 5 s deadline). */
async function waitListening(port: number, child: ChildProcess, deadlineMs = 5000): Promise<void> {
  const until = Date.now() + deadlineMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`microsocks exited with ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host: '127.0.0.1', port });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error('microsocks did not start listening');
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function startMicrosocks(auth?: { user: string; pass: string }): Promise<Microsocks> {
  const port = await freePort();
  const args = ['-i', '127.0.0.1', '-p', String(port), ...(auth ? ['-u', auth.user, '-P', auth.pass] : [])];
  const child = spawn('microsocks', args, { stdio: 'ignore' });
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('spawn', () => resolve());
  });
  await waitListening(port, child);
  return {
    address: `127.0.0.1:${port}`,
    port,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGTERM');
      await exited;
    },
  };
}
