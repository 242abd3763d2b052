// Screening thresholds, on synthetic gradients and on real Fashion-MNIST gradients (the CPU layer table).
// The calibration at full scale (default model, 80 rounds) is scripts/calibrate-screening.mts.

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ImageDataset } from '../data/dataset.ts';
import { FASHION_MNIST_FILES } from '../data/fashionMnist.ts';
import { defaultDataDir, loadFashionMnistFromDir } from '../data/fashionMnistNode.ts';
import { epochOrder } from '../data/order.ts';
import { resolveModel } from '../model/layers/spec.ts';
import { Random } from '../util/random.ts';
import { defaultJob, parseJob } from './job.ts';
import { CpuKinkModel } from './kinkModel.ts';
import { OptimizerHost, freshOptimizerState } from './optimizerHost.ts';
import { exampleWeightedMean } from './robustRules.ts';
import { ResultScreen, directionOutliers } from './screening.ts';
import { relativeDistance } from './verification.ts';

const config = defaultJob().verification.screening;
const hasRealData = existsSync(join(defaultDataDir(), FASHION_MNIST_FILES.trainImages));

describe('ResultScreen', () => {
  it('refuses an all-zero gradient from the first result on; judges norms only after the warm-up', () => {
    const s = new ResultScreen(config);
    expect(s.screen(new Float32Array(10), 16).flag).toBe('zero');
    expect(s.screen(Float32Array.from({ length: 10 }, () => 1000), 16).flag).toBeNull();
  });

  it('expects ‖g‖² ≈ A + B/n: a lease 4× smaller may have a 2× larger norm, not 100×', () => {
    const s = new ResultScreen(config);
    const rng = new Random(1);
    const noise = (n: number) => Float32Array.from({ length: 1000 }, () => rng.normal() / Math.sqrt(n));
    for (let i = 0; i < 16; i++) s.observe(64, Math.sqrt(1000 / 64));
    expect(s.screen(noise(16), 16).flag).toBeNull();
    expect(s.screen(noise(1024), 1024).flag).toBeNull();
    expect(s.screen(noise(16).map((x) => x * 100), 16).flag).toBe('norm-too-large');
    expect(s.screen(noise(64).map((x) => x / 100), 64).flag).toBe('norm-too-small');
    expect(s.screen(noise(1).map((x) => x / 100), 1).flag).toBeNull(); // no lower bound under 16 examples
  });
});

describe.skipIf(!hasRealData)('screening on real Fashion-MNIST gradients', () => {
  it('never flags honest leases by norm over a training run; catches zeros, ×100, noise and sign flips; replicas agree far inside the spot-check tolerance, stale ones do not', async () => {
    const { train } = await loadFashionMnistFromDir();
    // Gradients every step: the every-step job's optimizer and tolerance (the default job's local-steps Δ have their own, looser one).
    const job = parseJob(JSON.parse(readFileSync('src/coordinator/jobs/fashion-mnist-mlp-every-step.json', 'utf8')), 'every-step');
    const layout = resolveModel({ widths: [784, 64, 10], activation: 'relu' });
    const optimizer = new OptimizerHost(layout, job.optimizer, 30, freshOptimizerState(layout, job.optimizer, 3));
    const mlp = await CpuKinkModel.create(layout);
    const screen = new ResultScreen(config);
    const rng = new Random(5);
    const order = epochOrder(3, 0, train.count);
    const tolerance = job.verification.spotChecks.tolerance;
    const caught = { x100: 0, zeros: 0, noise: 0, signFlip: 0, tries: 0 };
    let worstReplica = 0;
    let closestStale = Infinity;
    let previous: Float32Array | null = null;
    const gradient = (params: Float32Array, ds: ImageDataset, idx: Uint32Array) => {
      const g = new Float32Array(layout.total);
      mlp.lossAndGradient(params, ds, idx, g);
      return g;
    };
    // Another summation order, like another device: the mean of the two halves' mean gradients.
    const otherOrder = (params: Float32Array, ds: ImageDataset, idx: Uint32Array) => {
      const h = idx.length >> 1;
      const [a, b] = [gradient(params, ds, idx.subarray(0, h)), gradient(params, ds, idx.subarray(h))];
      return a.map((x, i) => (x * h + b[i] * (idx.length - h)) / idx.length);
    };
    for (let r = 0; r < 24; r++) {
      const params = optimizer.params;
      const leases: { leaseId: string; exampleCount: number; gradient: Float32Array }[] = [];
      for (let at = 0; at < 512; ) {
        const size = Math.min(512 - at, 16 << rng.int(4)); // 16 … 128
        const idx = order.subarray(r * 512 + at, r * 512 + at + size);
        const g = gradient(params, train, idx);
        const v = screen.screen(g, size);
        expect(v.flag, `round ${r}, ${size} examples: ${v.reason}`).toBeNull();
        if (r % 6 === 0) worstReplica = Math.max(worstReplica, relativeDistance(otherOrder(params, train, idx), g));
        if (previous && r % 6 === 1) closestStale = Math.min(closestStale, relativeDistance(gradient(previous, train, idx), g));
        if (r >= 2) {
          caught.tries++;
          if (screen.screen(g.map((x) => x * 100), size).flag) caught.x100++;
          if (screen.screen(new Float32Array(g.length), size).flag) caught.zeros++;
        }
        screen.observe(size, v.norm);
        leases.push({ leaseId: `L${leases.length}`, exampleCount: size, gradient: g });
        at += size;
      }
      if (r >= 2) {
        // The biggest lease sign-flipped, or replaced by noise of its norm: a direction suspect.
        const big = leases.reduce((a, b) => (b.exampleCount > a.exampleCount ? b : a));
        const norm = Math.sqrt(big.gradient.reduce((s, x) => s + x * x, 0));
        const noise = Float32Array.from(big.gradient, () => (rng.normal() * norm) / Math.sqrt(big.gradient.length));
        const flipped = leases.map((l) => (l === big ? { ...l, gradient: l.gradient.map((x) => -x) } : l));
        const noisy = leases.map((l) => (l === big ? { ...l, gradient: noise } : l));
        if (directionOutliers(flipped, config.cosineFraction, screen.estimates()).some((o) => o.leaseId === big.leaseId)) caught.signFlip++;
        if (directionOutliers(noisy, config.cosineFraction, screen.estimates()).some((o) => o.leaseId === big.leaseId)) caught.noise++;
      }
      const aggregate = exampleWeightedMean(leases, layout.total);
      screen.roundClosed(aggregate);
      previous = params;
      optimizer.apply(aggregate);
    }
    expect(caught.x100).toBe(caught.tries);
    expect(caught.zeros).toBe(caught.tries);
    expect(caught.signFlip).toBe(22);
    expect(caught.noise).toBe(22);
    expect(worstReplica).toBeLessThan(tolerance / 100);
    expect(closestStale).toBeGreaterThan(tolerance * 10);
    console.log(`replica distance ≤ ${worstReplica.toExponential(2)}, stale-by-one-round distance ≥ ${closestStale.toExponential(2)} (tolerance ${tolerance})`);
  }, 120_000);
});
