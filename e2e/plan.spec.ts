// `npm start -- --plan` against the real thing: for every job of the zoo, a short real run
// (the real server, one browser contributor, real WebRTC) moves the bytes per round that the
// plan printed beforehand, within 10%. Runs inside ../shared/isolated-net.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from '@playwright/test';
import type { RunStatusSnapshot } from '../src/server/runStatus.ts';
import type { JobPlan } from '../src/server/plan.ts';
import { freePort, startJobServer, type JobServer } from './support/jobServer.ts';

const ZOO = 'src/coordinator/jobs';
/** Rounds left out at the start (connection, first parameters), then rounds measured. */
const FROM_ROUND = 4;
const MEASURED_ROUNDS = 20;

type Status = RunStatusSnapshot & { traffic: { bytesSent: number; bytesReceived: number } | null };

test.describe.configure({ timeout: 5 * 60_000 });

let server: JobServer | null = null;
let out = '';
test.afterEach(async () => {
  await server?.kill('SIGKILL');
  server = null;
  rmSync(out, { recursive: true, force: true });
});

/**
 * Zoo jobs for swarms with real GPUs: 24 rounds of them take far longer than a test may on this
 * machine's CPU (one round of the large GPT is 64 windows of 256 tokens, about 30 s for one CPU
 * contributor). Their short real run is src/coordinator/largeGpt.test.ts.
 */
const GPU_SWARM_JOBS = new Set(['shakespeare-char-gpt-large.json']);

for (const file of readdirSync(ZOO).filter((f) => f.endsWith('.json') && !GPU_SWARM_JOBS.has(f))) {
  test(`--plan's bytes per round for ${file} agree with a short real run`, async ({ browser }) => {
    const job = join(ZOO, file);
    out = mkdtempSync(join(tmpdir(), 'swarmgrad-e2e-plan-'));
    server = await startJobServer({ job, port: await freePort(), out, fresh: true });
    const page = await browser.newPage();
    await page.goto(`${server.origin}/`);
    await page.getByRole('button', { name: 'Donate my GPU' }).click();

    // The coordinator's message bytes, sampled just after a round closes (the same point of
    // every round, so that the difference is whole rounds).
    const status = async () => (await (await fetch(`${server!.origin}/api/status`)).json()) as Status;
    const sampleAt = async (round: number) => {
      for (;;) {
        const s = await status();
        if (s.round >= round && s.traffic) return { round: s.round, ...s.traffic };
        expect(s.state, s.message ?? '').toBe('running');
        await new Promise((r) => setTimeout(r, 10));
      }
    };
    const a = await sampleAt(FROM_ROUND);
    const b = await sampleAt(a.round + MEASURED_ROUNDS);
    const rounds = b.round - a.round;
    const measured = { down: (b.bytesSent - a.bytesSent) / rounds, up: (b.bytesReceived - a.bytesReceived) / rounds };
    const speed = await page.evaluate(() => window.swarmgradContributor?.measuredExamplesPerSecond ?? null);
    expect(speed).toBeGreaterThan(0);
    await page.close();

    // The plan for one contributor of the speed this one measured.
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'src/server/main.ts', '--job', job, '--plan', '--json', '--speed', String(speed)], { encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    const plan = JSON.parse(run.stdout) as JobPlan;
    const one = plan.swarm.find((r) => r.contributors === 1)!;
    console.log(
      `plan e2e: ${file}: ${rounds} rounds measured; down ${Math.round(measured.down)} vs planned ${Math.round(one.bytesDown)} bytes per round, ` +
        `up ${Math.round(measured.up)} vs ${Math.round(one.bytesUp)}; ${one.leasesPerContributor} lease(s) of ${one.leaseExamples} at ${Math.round(speed!)} examples/s`,
    );
    expect(Math.abs(measured.down - one.bytesDown) / one.bytesDown).toBeLessThanOrEqual(0.1);
    expect(Math.abs(measured.up - one.bytesUp) / one.bytesUp).toBeLessThanOrEqual(0.1);
  });
}
