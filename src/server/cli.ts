// The job owner's command line: what `npm start -- …` accepts, parsed into one command, and
// how a failure is told. A user error (a bad option, a missing file, an invalid job, a port in
// use) is a line or two that says what is wrong and what to do, exit code 2; an internal error
// keeps its stack, exit code 1. --debug prints the stack of either.

import { parseArgs } from 'node:util';
import { JobError } from '../coordinator/job.ts';
import { DatasetUnavailableError } from '../data/fashionMnistNode.ts';
import { DEFAULT_TURN_TTL_SECONDS, parseIceUrl } from '../net/iceServers.ts';

/** Result checks in one worker thread: measured by scripts/bench-load.ts (README, "One coordinator, many contributors"). */
export const DEFAULT_CHECK_THREADS = 1;

export const USAGE = `usage: npm start -- [--job FILE] [--plan] [--contributors N] [--port N] [--host ADDR] [--out DIR] [--fresh] [--stay]
                 [--tls-cert FILE --tls-key FILE] [--ice-server URL]... [--turn-secret-file FILE] [--turn-ttl SECONDS]
  --job FILE         the job to run (default: the embedded Fashion-MNIST MLP job)
  --plan             check the job and print what it will do (sizes, bytes, time per round); start nothing
  --speed N          with --plan: one contributor's examples per second (default: measured here, see README)
  --down-mbps N      with --plan: a contributor's download link in Mbit/s (default 20)
  --up-mbps N        with --plan: a contributor's upload link in Mbit/s (default 5)
  --json             with --plan: print the figures as JSON
  --contributors N   also run N headless Chromium contributors on this machine
  --port N           HTTP port for the pages, the relay and the API (default 8787; 0 picks one)
  --host ADDR        address to listen on (default 127.0.0.1; 0.0.0.0 for other machines,
                     behind HTTPS: browsers allow WebGPU only in secure contexts)
  --tls-cert FILE    serve pages, API and relay over HTTPS with this certificate (PEM, chain first)
  --tls-key FILE     … and its private key (PEM)
  --ice-server URL   a STUN or TURN server for contributors behind NAT (stun:HOST[:PORT],
                     turn:HOST[:PORT][?transport=udp|tcp], turns:HOST[:PORT]); repeat for more
  --turn-secret-file FILE  coturn's static-auth-secret (use-auth-secret): each page gets TURN
                     credentials of its own that expire, never a lasting password
  --turn-ttl SECONDS how long those credentials last (default ${DEFAULT_TURN_TTL_SECONDS})
  --check-threads N  worker threads that check results' hashes, signatures and updates, off the
                     coordinator's event loop (default ${DEFAULT_CHECK_THREADS}; 0: on it)
  --out DIR          checkpoints, model and summary (default runs/<job name>)
  --site DIR         the built pages to serve (default dist/, which npm start builds)
  --fresh            start over: move existing checkpoints and ledger aside
  --stay             keep serving the pages after the job is done
  --debug            print the stack trace of any error
  --help, --version`;

/** A mistake of the person at the command line: told in a line or two, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
  constructor(
    message: string,
    /** Print the usage text after the message (bad options), or not (a missing file). */
    readonly showUsage = false,
  ) {
    super(message);
  }
}

export interface ServerOptions {
  job: string | null;
  contributors: number;
  port: number;
  host: string;
  out: string | null;
  site: string;
  fresh: boolean;
  stay: boolean;
  /** HTTPS: the certificate and key files. */
  tls: { cert: string; key: string } | null;
  /** STUN and TURN URLs, checked. */
  iceServers: string[];
  turnSecretFile: string | null;
  turnTtlSeconds: number;
  /** Result-check worker threads (0: the coordinator's thread checks). */
  checkThreads: number;
  debug: boolean;
}

export interface PlanOptions {
  job: string | null;
  /** Examples per second of one contributor, or null for the default. */
  speed: number | null;
  downMbps: number;
  upMbps: number;
  /** Print the figures as JSON instead of text. */
  json: boolean;
  debug: boolean;
}

export type Command = { kind: 'help' } | { kind: 'version' } | { kind: 'run'; options: ServerOptions } | { kind: 'plan'; options: PlanOptions };

const OPTIONS = {
  job: { type: 'string' },
  plan: { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
  speed: { type: 'string' },
  'down-mbps': { type: 'string', default: '20' },
  'up-mbps': { type: 'string', default: '5' },
  contributors: { type: 'string', default: '0' },
  port: { type: 'string', default: '8787' },
  host: { type: 'string', default: '127.0.0.1' },
  out: { type: 'string' },
  site: { type: 'string', default: 'dist' },
  fresh: { type: 'boolean', default: false },
  stay: { type: 'boolean', default: false },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
  'ice-server': { type: 'string', multiple: true },
  'turn-secret-file': { type: 'string' },
  'turn-ttl': { type: 'string', default: String(DEFAULT_TURN_TTL_SECONDS) },
  'check-threads': { type: 'string', default: String(DEFAULT_CHECK_THREADS) },
  debug: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
  version: { type: 'boolean', default: false },
} as const;

/** `--debug` anywhere on the line, even on a line that does not parse. */
export function wantsDebug(argv: readonly string[]): boolean {
  return argv.includes('--debug');
}

function wholeNumber(name: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(text)}`, true);
  }
  return n;
}

function positive(name: string, text: string): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`--${name} must be a positive number, got ${JSON.stringify(text)}`, true);
  return n;
}

/** `--port -1` as `--port=-1`: a negative number is a bad value to name, not a missing one. */
function joinNegativeValues(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const name = /^--([a-z-]+)$/.exec(argv[i])?.[1];
    const takesValue = name !== undefined && (OPTIONS as Record<string, { type: string }>)[name]?.type === 'string';
    if (takesValue && i + 1 < argv.length && /^-\d/.test(argv[i + 1])) out.push(`${argv[i]}=${argv[++i]}`);
    else out.push(argv[i]);
  }
  return out;
}

function parse(argv: readonly string[]) {
  try {
    return parseArgs({ args: joinNegativeValues(argv), options: OPTIONS, allowPositionals: true, strict: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? '';
    if (code.startsWith('ERR_PARSE_ARGS_')) throw new UsageError(parseArgsMessage(error as Error), true);
    throw error;
  }
}

export function parseCommandLine(argv: readonly string[]): Command {
  const { values, positionals } = parse(argv);
  if (positionals.length) throw new UsageError(`Unexpected argument ${JSON.stringify(positionals[0])}: options start with --`, true);
  if (values.help) return { kind: 'help' };
  if (values.version) return { kind: 'version' };
  const debug = values.debug ?? false;
  const job = values.job ?? null;
  if (job !== null && job.trim() === '') throw new UsageError('--job needs a file name', true);
  if (values.plan) {
    return {
      kind: 'plan',
      options: {
        job,
        speed: values.speed === undefined ? null : positive('speed', values.speed),
        downMbps: positive('down-mbps', values['down-mbps']!),
        upMbps: positive('up-mbps', values['up-mbps']!),
        json: values.json ?? false,
        debug,
      },
    };
  }
  for (const planOnly of ['speed', 'json'] as const) if (values[planOnly] !== undefined && values[planOnly] !== false) throw new UsageError(`--${planOnly} is an option of --plan`, true);
  const [cert, key] = [values['tls-cert'], values['tls-key']];
  if ((cert === undefined) !== (key === undefined)) throw new UsageError(`--tls-cert and --tls-key go together: give ${cert === undefined ? '--tls-cert' : '--tls-key'} too`, true);
  const iceServers = values['ice-server'] ?? [];
  for (const url of iceServers) {
    try {
      parseIceUrl(url);
    } catch (error) {
      throw new UsageError(`--ice-server ${(error as Error).message}`, true);
    }
  }
  const turnSecretFile = values['turn-secret-file'] ?? null;
  const hasTurn = iceServers.some((url) => !url.startsWith('stun:'));
  if (hasTurn && turnSecretFile === null) throw new UsageError("a TURN server needs --turn-secret-file: coturn's static-auth-secret, so that each page gets credentials that expire", true);
  if (!hasTurn && turnSecretFile !== null) throw new UsageError('--turn-secret-file is for a TURN server: add --ice-server turn:HOST[:PORT]', true);
  return {
    kind: 'run',
    options: {
      job,
      contributors: wholeNumber('contributors', values.contributors!, 0, 64),
      port: wholeNumber('port', values.port!, 0, 65535),
      host: values.host!,
      out: values.out ?? null,
      site: values.site!,
      fresh: values.fresh ?? false,
      stay: values.stay ?? false,
      tls: cert !== undefined && key !== undefined ? { cert, key } : null,
      iceServers,
      turnSecretFile,
      turnTtlSeconds: wholeNumber('turn-ttl', values['turn-ttl']!, 60, 7 * 24 * 3600),
      checkThreads: wholeNumber('check-threads', values['check-threads']!, 0, 64),
      debug,
    },
  };
}

/** Node's parseArgs messages, without their advice for script authors. */
function parseArgsMessage(error: Error): string {
  const unknown = /Unknown option '([^']+)'/.exec(error.message);
  if (unknown) return `Unknown option ${unknown[1]}`;
  const missing = /Option '([^']+?)(?: <value>)?' argument missing/.exec(error.message);
  if (missing) return `${missing[1].replace(/^-\w, /, '')} needs a value`;
  const ambiguous = /Option '([^']+?)(?: <value>)?' argument is ambiguous/.exec(error.message);
  if (ambiguous) return `${ambiguous[1].replace(/^-\w, /, '')} needs a value that does not start with -`;
  return error.message.split('\n')[0];
}

/** Errors the person at the command line can fix: missing files, bad jobs, a busy port, a folder they cannot write. */
export function isUserError(error: unknown): boolean {
  return error instanceof UsageError || error instanceof JobError || error instanceof DatasetUnavailableError;
}

/** What to print for a failure, and the exit code: 2 for a user error, 1 for anything else. */
export function describeFailure(error: unknown, debug: boolean): { text: string; exitCode: 1 | 2 } {
  if (isUserError(error)) {
    const e = error as Error;
    const lines = [`error: ${e.message}`];
    if (e instanceof UsageError && e.showUsage) lines.push(USAGE);
    else lines.push('(npm start -- --help lists the options)');
    if (debug && e.stack) lines.push(e.stack);
    return { text: lines.join('\n'), exitCode: 2 };
  }
  const e = error instanceof Error ? error : new Error(String(error));
  return { text: `internal error: ${e.stack ?? e.message}\nThis is a bug in swarmgrad; please report it with the lines above.`, exitCode: 1 };
}

/** A file system error while reading `path` (the job), as a user error where it is one. */
export function fileError(error: unknown, path: string, what: string): Error {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return new UsageError(`${what} ${path} does not exist: give the path of a job file (the zoo is in src/coordinator/jobs/)`);
  if (code === 'EACCES' || code === 'EPERM') return new UsageError(`${what} ${path} cannot be read (permission denied)`);
  if (code === 'EISDIR') return new UsageError(`${what} ${path} is a folder, not a file`);
  return error as Error;
}

/** A file system error while writing under `dir` (the run's folder), as a user error where it is one. */
export function outputError(error: unknown, dir: string): Error {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') return new UsageError(`cannot write to ${dir} (${code}): choose another folder with --out`);
  if (code === 'ENOTDIR' || code === 'EEXIST') return new UsageError(`${dir} is not a folder: choose another with --out`);
  return error as Error;
}
