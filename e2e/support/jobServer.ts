// Starts the real `npm start` server (src/server/main.ts, through tsx) as a child process
// for the end-to-end tests, and reads its console: the origin it serves, and how it exits.

import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';

export interface JobServer {
  readonly origin: string;
  /** Everything it printed so far, stdout and stderr interleaved. */
  output(): string;
  /** Resolves with the exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): Promise<number | null>;
}

export interface JobServerOptions {
  job: string;
  port: number;
  out: string;
  fresh?: boolean;
  extraArgs?: string[];
  readyTimeoutMs?: number;
  /** Run the server at this lower priority (nice 0–19): a benchmark measuring a contributor's cost. */
  nice?: number;
}

/** A TCP port that was free a moment ago, so that a restarted server can take the same one. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

export function startJobServer(options: JobServerOptions): Promise<JobServer> {
  const args = ['--import', 'tsx', 'src/server/main.ts', '--job', options.job, '--port', String(options.port), '--out', options.out];
  if (options.fresh) args.push('--fresh');
  args.push(...(options.extraArgs ?? []));
  const [command, argv] = options.nice ? ['nice', ['-n', String(options.nice), process.execPath, ...args]] : [process.execPath, args];
  const child: ChildProcess = spawn(command, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code, signal) => {
      output += `[server exited: code ${code}, signal ${signal}]\n`;
      resolve(code);
    }),
  );
  for (const stream of [child.stdout!, child.stderr!]) createInterface({ input: stream }).on('line', (line) => (output += `${line}\n`));

  return new Promise<JobServer>((resolve, reject) => {
    const timeoutMs = options.readyTimeoutMs ?? 60_000;
    const timer = setInterval(() => {
      const match = /contribute: (https?:\/\/\S+?)\/\n/.exec(output);
      if (match) {
        clearInterval(timer);
        resolve({
          origin: match[1],
          output: () => output,
          exited,
          kill: async (signal = 'SIGTERM') => {
            if (child.exitCode === null && child.signalCode === null) child.kill(signal);
            return exited;
          },
        });
      } else if (child.exitCode !== null || Date.now() - started > timeoutMs) {
        clearInterval(timer);
        child.kill('SIGKILL');
        reject(new Error(`the server did not start within ${timeoutMs} ms:\n${output}`));
      }
    }, 50);
    const started = Date.now();
  });
}
