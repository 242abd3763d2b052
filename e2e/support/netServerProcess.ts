// Starts e2e/support/netServer.ts as a child Node process (through tsx) and waits until its
// coordinator is registered; used by e2e/net.spec.ts and scripts/net-measure.ts.

import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export interface NetServerProcess {
  readonly port: number;
  readonly pid: number;
  readonly webrtc: string;
  /** Everything it wrote to stderr so far (relay and coordinator errors), and how it exited if it did. */
  readonly stderr: () => string;
  /** Sends `signal` and waits for the process to exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

const SERVER = fileURLToPath(new URL('./netServer.ts', import.meta.url));

export function startNetServer(options: { pageDir: string; port?: number; webrtc?: string; timeoutMs?: number }): Promise<NetServerProcess> {
  const args = ['--import', 'tsx', SERVER, '--page-dir', options.pageDir, '--port', String(options.port ?? 0)];
  if (options.webrtc) args.push('--webrtc', options.webrtc);
  const child: ChildProcess = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) =>
    child.once('exit', (code, signal) => {
      stderr += `\n[netServer exited: code ${code}, signal ${signal}]\n`;
      resolve();
    }),
  );

  return new Promise<NetServerProcess>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`netServer did not get ready within ${options.timeoutMs ?? 30_000} ms; stderr:\n${stderr}`));
    }, options.timeoutMs ?? 30_000);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`netServer exited before it was ready (code ${code}, signal ${signal}); stderr:\n${stderr}`));
    });
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (!line.startsWith('{"ready":true')) return;
      clearTimeout(timer);
      const ready = JSON.parse(line) as { port: number; webrtc: string; pid: number };
      resolve({
        port: ready.port,
        pid: ready.pid,
        webrtc: ready.webrtc,
        stderr: () => stderr,
        stop: async (signal = 'SIGTERM') => {
          if (child.exitCode === null && child.signalCode === null) child.kill(signal);
          await exited;
        },
      });
    });
  });
}
