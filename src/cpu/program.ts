// What one CPU thread does for each job: its share of every step, with a barrier where a
// step needs the others' results. Work is split by output rows or columns, never along a
// sum, so every value is computed by one thread in one fixed order: results are
// bit-identical for any thread count.
//
// A gradient, per thread: [pack W and Wᵀ panels | barrier] → its micro-batch rows: gather,
// forward, softmax-CE, backward dZ through every layer (row-local: no barrier) → barrier →
// its rows of every dW and its columns of every db → [barrier, optimizer on its slice].

import { ACT, type CpuKernelExports } from './kernels.ts';
import { SOLO_BARRIER, type Barrier } from './control.ts';
import type { CpuJob, MatmulJob, OptimizerStepArgs } from './jobs.ts';
import { runLayerShare } from './layerJobs.ts';
import { MR, NORM_CHUNK, NR, headerRegions, planMemory, type MemoryPlan, type Region } from './memoryPlan.ts';
import { ModelProgram } from './modelProgram.ts';

/** [start, end) of `total` items for thread `index` of `count`: contiguous, sizes differ by at most one. */
export function share(total: number, index: number, count: number): [number, number] {
  return [Math.floor((total * index) / count), Math.floor((total * (index + 1)) / count)];
}

const panels = (cols: number) => Math.ceil(cols / NR);
const blocks = (rows: number) => Math.ceil(rows / MR);

/** The flat vectors an optimizer step reads and writes. */
export interface OptimizerRegions {
  params: Region;
  grads: Region;
  state1: Region;
  state2: Region;
  /** One f64 partial sum of squares per NORM_CHUNK gradient values. */
  normPartials: Region;
}

/**
 * Thread `index`'s share of one optimizer step on `total` values: global-norm clipping (fixed
 * chunks, summed in order by every thread), then the update on this thread's slice.
 */
export function optimizerShare(
  k: CpuKernelExports, memory: WebAssembly.Memory, regions: OptimizerRegions, total: number, decayEnd: number,
  o: OptimizerStepArgs, index: number, count: number, barrier: Barrier,
): void {
  let clip = 1;
  if (o.maxGradNorm > 0) {
    const chunks = Math.ceil(total / NORM_CHUNK);
    const partials = new Float64Array(memory.buffer, regions.normPartials.offset, chunks);
    const [c0, c1] = share(chunks, index, count);
    for (let c = c0; c < c1; c++) partials[c] = k.sumSquares(regions.grads.offset, c * NORM_CHUNK, Math.min(total, (c + 1) * NORM_CHUNK));
    barrier.wait();
    let sum = 0;
    for (let c = 0; c < chunks; c++) sum += partials[c];
    const norm = Math.sqrt(sum);
    if (norm > o.maxGradNorm) clip = o.maxGradNorm / norm;
  }
  // Slices of whole vectors of four, so the SIMD loop covers all but the vector's tail.
  const [s0, s1] = share(Math.ceil(total / 4), index, count);
  const i0 = s0 * 4;
  const i1 = Math.min(s1 * 4, total);
  if (i0 >= i1) return;
  const { params, grads, state1, state2 } = regions;
  if (o.kind === 'adamw') {
    k.adamw(params.offset, grads.offset, state1.offset, state2.offset, i0, i1, o.lr, o.beta1, o.beta2, o.eps, o.weightDecay, o.bc1, o.bc2, clip, decayEnd);
  } else {
    k.sgd(params.offset, grads.offset, state1.offset, i0, i1, o.lr, o.beta1, o.weightDecay, clip, decayEnd);
  }
}

export class ThreadProgram {
  private plan: MemoryPlan | null = null;
  /** The layer-table model's runner, from its first model-configure job. */
  private model: ModelProgram | null = null;
  private readonly tile: number;

  constructor(
    private readonly k: CpuKernelExports,
    private readonly memory: WebAssembly.Memory,
    readonly index: number,
    readonly count: number,
    private readonly barrier: Barrier = SOLO_BARRIER,
  ) {
    this.tile = headerRegions(k.heapBase()).tiles.offset + index * MR * NR * 4;
  }

  run(job: CpuJob): void {
    switch (job.kind) {
      case 'configure':
        this.plan = planMemory(job.inputs, this.k.heapBase());
        if (this.plan.end > this.memory.buffer.byteLength) {
          throw new Error(`internal error: the memory has ${this.memory.buffer.byteLength} bytes, the plan needs ${this.plan.end}`);
        }
        return;
      case 'gradient':
        return this.gradient(job.batch, job.repack, job.optimizer);
      case 'forward':
        return this.forward(job.batch, job.repack, job.source);
      case 'optimizer':
        return this.optimizerStep(job.optimizer);
      case 'matmul':
        return this.matmul(job.matmul);
      case 'layer':
        return runLayerShare(this.k, job.layer, this.index, this.count);
      case 'model-configure':
        this.model ??= new ModelProgram(this.k, this.memory, this.index, this.count, this.barrier, this.tile);
        return this.model.configure(job.inputs);
      case 'model-gradient':
      case 'model-forward':
      case 'model-optimizer':
        if (!this.model) throw new Error('internal error: a CPU thread got a model job before its model');
        return this.model.run(job);
    }
  }

  private requirePlan(batch?: number): MemoryPlan {
    if (!this.plan) throw new Error('internal error: a CPU thread got a job before its memory plan');
    if (batch !== undefined && !(batch >= 1 && batch <= this.plan.batch.capacity)) {
      throw new Error(`internal error: batch ${batch} is outside the planned capacity ${this.plan.batch.capacity}`);
    }
    return this.plan;
  }

  /** This thread's row blocks of a batch and the rows they cover. */
  private rows(batch: number) {
    const [b0, b1] = share(blocks(batch), this.index, this.count);
    return { b0, b1, r0: b0 * MR, r1: Math.min(b1 * MR, batch) };
  }

  private gradient(batch: number, repack: boolean, optimizer: OptimizerStepArgs | null): void {
    const plan = this.requirePlan(batch);
    if (repack) this.packWeights(plan);
    const { b0, b1, r0, r1 } = this.rows(batch);
    if (r0 < r1) {
      const L = plan.layout.weights.length;
      this.gather(plan, plan.train, r0, r1);
      this.forwardRows(plan, batch, b0, b1, r0, r1, true);
      const { batch: buf } = plan;
      const classes = plan.inputs.spec.widths[L];
      this.k.softmaxCrossEntropy(buf.h[L - 1].offset, buf.y.offset, r0, r1, classes, 1 / batch, buf.dlogits.offset, buf.rowStats.offset);
      this.backwardRows(plan, batch, b0, b1, r0, r1);
    }
    this.barrier.wait();
    this.weightGradients(plan, batch);
    if (optimizer) {
      this.barrier.wait();
      this.optimizerStep(optimizer);
    }
  }

  private forward(batch: number, repack: boolean, source: 'train' | 'test' | 'raw'): void {
    const plan = this.requirePlan(batch);
    if (repack) this.packWeights(plan);
    const { b0, b1, r0, r1 } = this.rows(batch);
    if (r0 >= r1) return;
    if (source !== 'raw') this.gather(plan, source === 'train' ? plan.train : plan.test, r0, r1);
    this.forwardRows(plan, batch, b0, b1, r0, r1, false);
    if (source !== 'raw') {
      const L = plan.layout.weights.length;
      const { batch: buf } = plan;
      this.k.softmaxCrossEntropy(buf.h[L - 1].offset, buf.y.offset, r0, r1, plan.inputs.spec.widths[L], 1 / batch, buf.dlogits.offset, buf.rowStats.offset);
    }
  }

  /** Packs every W (forward) and Wᵀ (backward) panel; each thread packs a share, then all wait. */
  private packWeights(plan: MemoryPlan): void {
    const params = plan.model.params.offset;
    plan.layout.weights.forEach((w, l) => {
      const at = params + w.offset * 4;
      const [q0, q1] = share(panels(w.cols), this.index, this.count);
      this.k.packB(at, w.cols, 1, w.rows, w.cols, 0, w.rows, q0, q1, plan.model.packedW[l].offset);
      const transposed = plan.model.packedWT[l];
      if (transposed) {
        // Wᵀ(p, j) = W[j·cols + p]: k = fan-out, n = fan-in.
        const [s0, s1] = share(panels(w.rows), this.index, this.count);
        this.k.packB(at, 1, w.cols, w.cols, w.rows, 0, w.cols, s0, s1, transposed.offset);
      }
    });
    this.barrier.wait();
  }

  private gather(plan: MemoryPlan, data: MemoryPlan['train'], r0: number, r1: number): void {
    const { batch: buf } = plan;
    this.k.gatherRows(data.images.offset, data.labels.offset, buf.indices.offset, r0, r1, plan.inputs.spec.widths[0], buf.x.offset, buf.y.offset);
  }

  /** z_l = input·W_l + b_l, h_l = act(z_l) for this thread's rows, layer by layer. */
  private forwardRows(plan: MemoryPlan, batch: number, b0: number, b1: number, r0: number, r1: number, training: boolean): void {
    const { layout, batch: buf, model } = plan;
    const widths = plan.inputs.spec.widths;
    const L = layout.weights.length;
    for (let l = 0; l < L; l++) {
      const fanIn = widths[l];
      const fanOut = widths[l + 1];
      const input = l === 0 ? buf.x.offset : buf.h[l - 1].offset;
      this.k.packA(input, fanIn, 1, batch, fanIn, r0, r1, 0, fanIn, buf.inputRows[l].offset);
      // Transposed for dW = inputᵀ·dZ: features are the rows, this thread's examples the k-range.
      if (training) this.k.packA(input, 1, fanIn, fanIn, batch, 0, fanIn, r0, r1, buf.inputCols[l].offset);
      const hidden = l < L - 1;
      this.k.gemm(
        buf.inputRows[l].offset, model.packedW[l].offset, fanIn, b0, b1, 0, panels(fanOut),
        buf.h[l].offset, fanOut, batch, fanOut,
        model.params.offset + layout.biases[l].offset * 4, hidden ? ACT[layout.spec.activation] : ACT.none,
        training && hidden ? buf.z[l]!.offset : 0, 0, this.tile,
      );
    }
  }

  /** dZ_{l-1} = (dZ_l·W_lᵀ) ⊙ act'(z_{l-1}) for this thread's rows, packing each dZ for dW on the way. */
  private backwardRows(plan: MemoryPlan, batch: number, b0: number, b1: number, r0: number, r1: number): void {
    const { layout, batch: buf, model } = plan;
    const widths = plan.inputs.spec.widths;
    const L = layout.weights.length;
    for (let l = L - 1; l >= 0; l--) {
      const fanIn = widths[l];
      const fanOut = widths[l + 1];
      const dz = l === L - 1 ? buf.dlogits.offset : buf.dz[l]!.offset;
      this.k.packB(dz, fanOut, 1, batch, fanOut, r0, r1, 0, panels(fanOut), buf.dzCols[l].offset);
      if (l === 0) continue;
      this.k.packA(dz, fanOut, 1, batch, fanOut, r0, r1, 0, fanOut, buf.dzRows[l]!.offset);
      this.k.gemm(
        buf.dzRows[l]!.offset, model.packedWT[l]!.offset, fanOut, b0, b1, 0, panels(fanIn),
        buf.dz[l - 1]!.offset, fanIn, batch, fanIn,
        0, ACT[layout.spec.activation], 0, buf.z[l - 1]!.offset, this.tile,
      );
    }
  }

  /** dW_l = input_lᵀ·dZ_l (this thread's rows of dW) and db_l = Σ_rows dZ_l (its columns), into the gradient. */
  private weightGradients(plan: MemoryPlan, batch: number): void {
    const { layout, batch: buf, model } = plan;
    const L = layout.weights.length;
    layout.weights.forEach((w, l) => {
      const [w0, w1] = share(blocks(w.rows), this.index, this.count);
      if (w0 < w1) {
        this.k.gemm(
          buf.inputCols[l].offset, buf.dzCols[l].offset, batch, w0, w1, 0, panels(w.cols),
          model.grads.offset + w.offset * 4, w.cols, w.rows, w.cols, 0, ACT.none, 0, 0, this.tile,
        );
      }
      const [c0, c1] = share(w.cols, this.index, this.count);
      const dz = l === L - 1 ? buf.dlogits.offset : buf.dz[l]!.offset;
      if (c0 < c1) this.k.columnSum(dz, batch, w.cols, c0, c1, model.grads.offset + layout.biases[l].offset * 4);
    });
  }

  private optimizerStep(o: OptimizerStepArgs): void {
    const { model, layout } = this.requirePlan();
    optimizerShare(this.k, this.memory, model, layout.total, layout.decayEnd, o, this.index, this.count, this.barrier);
  }

  /** A standalone matmul (kernel tests, benchmarks): pack B's panels and this thread's rows of A, wait, multiply its rows. */
  private matmul(j: MatmulJob): void {
    const { m, n, k } = j;
    const [aStrideI, aStrideP] = j.layout === 'tn' ? [1, m] : [k, 1];
    const [bStrideP, bStrideJ] = j.layout === 'nt' ? [1, k] : [n, 1];
    const [q0, q1] = share(panels(n), this.index, this.count);
    this.k.packB(j.b, bStrideP, bStrideJ, k, n, 0, k, q0, q1, j.packedB);
    const [b0, b1] = share(blocks(m), this.index, this.count);
    this.k.packA(j.a, aStrideI, aStrideP, m, k, b0 * MR, Math.min(b1 * MR, m), 0, k, j.packedA);
    this.barrier.wait();
    if (b0 < b1) this.k.gemm(j.packedA, j.packedB, k, b0, b1, 0, panels(n), j.c, n, m, n, 0, ACT.none, 0, 0, this.tile);
  }
}
