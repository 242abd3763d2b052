import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { JobError } from '../coordinator/job.ts';
import { describeFailure, parseCommandLine, UsageError } from './cli.ts';

describe('parseCommandLine', () => {
  it('gives the run its options, with defaults', () => {
    expect(parseCommandLine([])).toEqual({
      kind: 'run',
      options: { job: null, contributors: 0, port: 8787, host: '127.0.0.1', out: null, site: 'dist', fresh: false, stay: false, tls: null, iceServers: [], turnSecretFile: null, turnTtlSeconds: 43200, checkThreads: 1, debug: false },
    });
    expect(parseCommandLine(['--tls-cert', 'c.pem', '--tls-key', 'k.pem', '--ice-server', 'stun:s.relay.invalid', '--ice-server', 'turn:t.relay.invalid:3479', '--turn-secret-file', 's.txt', '--turn-ttl', '600'])).toMatchObject({
      options: { tls: { cert: 'c.pem', key: 'k.pem' }, iceServers: ['stun:s.relay.invalid', 'turn:t.relay.invalid:3479'], turnSecretFile: 's.txt', turnTtlSeconds: 600 },
    });
    expect(parseCommandLine(['--job', 'j.json', '--contributors', '2', '--port', '0', '--fresh', '--debug'])).toMatchObject({
      kind: 'run',
      options: { job: 'j.json', contributors: 2, port: 0, fresh: true, debug: true },
    });
    expect(parseCommandLine(['--help'])).toEqual({ kind: 'help' });
    expect(parseCommandLine(['-h'])).toEqual({ kind: 'help' });
    expect(parseCommandLine(['--version'])).toEqual({ kind: 'version' });
  });

  it('plans with a speed and links', () => {
    expect(parseCommandLine(['--plan', '--speed', '1500', '--down-mbps', '100', '--json'])).toEqual({
      kind: 'plan',
      options: { job: null, speed: 1500, downMbps: 100, upMbps: 5, json: true, debug: false },
    });
  });

  it('refuses what it does not understand, naming it, with the usage', () => {
    const refusal = (argv: string[]) => {
      try {
        parseCommandLine(argv);
      } catch (error) {
        expect(error).toBeInstanceOf(UsageError);
        expect((error as UsageError).showUsage).toBe(true);
        return (error as Error).message;
      }
      throw new Error(`accepted ${argv.join(' ')}`);
    };
    expect(refusal(['--frobnicate'])).toBe('Unknown option --frobnicate');
    expect(refusal(['--contributors', '-1'])).toBe('--contributors must be a whole number from 0 to 64, got "-1"');
    expect(refusal(['--contributors', '1.5'])).toBe('--contributors must be a whole number from 0 to 64, got "1.5"');
    expect(refusal(['--port', 'abc'])).toBe('--port must be a whole number from 0 to 65535, got "abc"');
    expect(refusal(['--port', '70000'])).toBe('--port must be a whole number from 0 to 65535, got "70000"');
    expect(refusal(['--job'])).toBe('--job needs a value');
    expect(refusal(['--job', ''])).toBe('--job needs a file name');
    expect(refusal(['job.json'])).toBe('Unexpected argument "job.json": options start with --');
    expect(refusal(['--plan', '--speed', '0'])).toBe('--speed must be a positive number, got "0"');
    expect(refusal(['--speed', '100'])).toBe('--speed is an option of --plan');
    expect(refusal(['--json'])).toBe('--json is an option of --plan');
    expect(refusal(['--tls-cert', 'c.pem'])).toBe('--tls-cert and --tls-key go together: give --tls-key too');
    expect(refusal(['--tls-key', 'k.pem'])).toBe('--tls-cert and --tls-key go together: give --tls-cert too');
    expect(refusal(['--ice-server', 'stun.relay.invalid'])).toMatch(/^--ice-server "stun.relay.invalid" is not a STUN or TURN URL/);
    expect(refusal(['--ice-server', 'turn:t.relay.invalid'])).toBe("a TURN server needs --turn-secret-file: coturn's static-auth-secret, so that each page gets credentials that expire");
    expect(refusal(['--turn-secret-file', 's.txt'])).toBe('--turn-secret-file is for a TURN server: add --ice-server turn:HOST[:PORT]');
    expect(refusal(['--ice-server', 'turn:t.relay.invalid', '--turn-secret-file', 's.txt', '--turn-ttl', '5'])).toBe('--turn-ttl must be a whole number from 60 to 604800, got "5"');
    expect(refusal(['--check-threads', 'two'])).toBe('--check-threads must be a whole number from 0 to 64, got "two"');
  });
});

describe('describeFailure', () => {
  it('tells a user error in its message alone, exit code 2; --debug adds the stack', () => {
    const error = new JobError('job.json is not a valid job:\n  lease.maxExamples: too small\nFix these fields and start again.');
    const told = describeFailure(error, false);
    expect(told.exitCode).toBe(2);
    expect(told.text).toBe(`error: ${error.message}\n(npm start -- --help lists the options)`);
    expect(describeFailure(error, true).text).toContain('    at ');
  });

  it('keeps the stack of an internal error, exit code 1', () => {
    const told = describeFailure(new TypeError('x is undefined'), false);
    expect(told.exitCode).toBe(1);
    expect(told.text).toMatch(/^internal error: TypeError: x is undefined\n\s+at /);
    expect(told.text).toContain('This is a bug in swarmgrad');
  });
});

/** The real command, as `npm start` runs it (without the build). */
function npmStart(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/server/main.ts', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (b) => (output += b));
    child.stderr.on('data', (b) => (output += b));
    child.on('exit', (code) => resolve({ code, output }));
  });
}

describe('npm start, as a job owner meets it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'swarmgrad-cli-'));
  const servers: Server[] = [];
  afterAll(() => {
    for (const s of servers) s.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const userError = async (args: string[], message: RegExp, env?: Record<string, string>) => {
    const { code, output } = await npmStart(args, env);
    expect(output).toMatch(message);
    expect(output, 'no stack trace').not.toMatch(/\n\s+at /);
    expect(code, output).toBe(2);
  };

  it('says in a line what is wrong with the command line, the job file, or the machine, and exits 2', async () => {
    const badJson = join(dir, 'bad.json');
    writeFileSync(badJson, '{"name": ');
    const badField = join(dir, 'field.json');
    writeFileSync(badField, JSON.stringify({ name: 'x', model: { widths: [784, 10] }, globalBatch: 0 }));
    const site = join(dir, 'site');
    const notAFolder = join(dir, 'file');
    writeFileSync(notAFolder, '');
    await Promise.all([
      userError(['--job', join(dir, 'missing.json')], /^error: The job file .*missing\.json does not exist: give the path of a job file/m),
      userError(['--job', dir], /is a folder, not a file/),
      userError(['--frobnicate'], /^error: Unknown option --frobnicate\nusage: npm start/m),
      userError(['--contributors', '-1'], /^error: --contributors must be a whole number from 0 to 64, got "-1"/m),
      userError(['--job', badJson], /bad\.json is not valid JSON/),
      userError(['--job', badField], /field\.json is not a valid job:\n[^]*globalBatch: Too small/),
      userError(['--plan'], /train-images-idx3-ubyte\.gz is missing: install the dataset/, { SWARMGRAD_DATA_DIR: join(dir, 'nowhere') }),
      userError(['--site', site], /has no built pages: run `npm run build`/),
      userError(['--tls-cert', join(dir, 'none.pem'), '--tls-key', badJson], /^error: The TLS certificate .*none\.pem does not exist/m),
      userError(['--tls-cert', badJson, '--tls-key', badJson], /^error: --tls-cert .*bad\.json is not a PEM certificate/m),
      userError(['--ice-server', 'turn:127.0.0.1', '--turn-secret-file', join(dir, 'none.txt')], /^error: The TURN secret file .*none\.txt does not exist/m),
      userError(['--ice-server', 'turn:127.0.0.1', '--turn-secret-file', badJson], /^error: the TURN secret is shorter than 16 characters/m),
    ]);
    // A run that gets as far as the output folder and the port.
    const { mkdirSync } = await import('node:fs');
    mkdirSync(site, { recursive: true });
    writeFileSync(join(site, 'index.html'), '<!doctype html>');
    await userError(['--site', site, '--out', join(notAFolder, 'run')], /is not a folder: choose another with --out/);
    const busy = createServer();
    servers.push(busy);
    const port = await new Promise<number>((ok) => busy.listen(0, '127.0.0.1', () => ok((busy.address() as { port: number }).port)));
    await userError(['--site', site, '--out', join(dir, 'run'), '--port', String(port)], new RegExp(`Port ${port} is in use: pick another with --port`));
  }, 300_000);

  it("reads a job's own data files before anything starts: --plan sizes the job by them, a bad file is one line naming it", async () => {
    const fixtures = resolve('test/fixtures/job-data');
    const plan = await npmStart(['--job', join(fixtures, 'npy-job.json'), '--plan', '--json']);
    expect(plan.code, plan.output).toBe(0);
    expect(JSON.parse(plan.output).rounds).toMatchObject({ globalBatch: 4, planned: 2 });
    const job = JSON.parse(readFileSync(join(fixtures, 'npy-job.json'), 'utf8'));
    const nan = join(fixtures, 'bad-inputs-nan.npy');
    const test = { inputs: join(fixtures, 'test-x.npy'), labels: join(fixtures, 'test-y.npy') };
    writeFileSync(join(dir, 'nan.json'), JSON.stringify({ ...job, data: { ...job.data, train: { inputs: nan, labels: join(fixtures, 'train-y.npy') }, test } }));
    writeFileSync(join(dir, 'relative.json'), JSON.stringify({ ...job, data: { ...job.data, train: { inputs: join(fixtures, 'train-x.npy'), labels: join(fixtures, 'train-y.npy') }, test: { ...test, labels: 'test-y.npy' } } }));
    await Promise.all([
      userError(['--job', join(dir, 'nan.json'), '--plan'], /^error: .*nan\.json: its data cannot be used: data\.train: the inputs .*bad-inputs-nan\.npy hold NaN at example 2/m),
      // Relative paths are from the job file's folder (here the temporary one, which has no test-y.npy), and nothing is started.
      userError(['--job', join(dir, 'relative.json'), '--port', '1'], new RegExp(`^error: ${join(dir, 'test-y.npy').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is missing`, 'm')),
    ]);
  }, 300_000);

  it('--help and --version answer and exit 0; --plan prints the plan and starts nothing', async () => {
    const help = await npmStart(['--help']);
    expect(help.code).toBe(0);
    expect(help.output).toMatch(/^usage: npm start -- /);
    const version = await npmStart(['--version']);
    expect(version.output.trim()).toMatch(/^swarmgrad \d+\.\d+\.\d+$/);
    const plan = await npmStart(['--plan', '--json', '--speed', '20000']);
    expect(plan.code, plan.output).toBe(0);
    const figures = JSON.parse(plan.output);
    expect(figures.model.parameters).toBe(235_146);
    expect(figures.rounds).toMatchObject({ globalBatch: 8192, planned: 64, targetAccuracy: 0.88 });
    expect(figures.swarm.map((r: { contributors: number }) => r.contributors)).toEqual([1, 2, 4]);
  }, 300_000);
});
