// What one CPU thread does for a layer-table model's jobs (cpuModel.ts): its share of each
// step, with a barrier where a step needs the others' results.
//
// A gradient, per thread: [repack every linear's W and Wᵀ panels | barrier] → its rows of
// the micro-batch: gather, every node's forward, the loss, every node's backward (row-local:
// no barrier) → barrier → its share of every parameter gradient → [barrier, the conv chunk
// sums] → [barrier, optimizer on its slice]. Work is split by outputs, never along a sum,
// so the bits do not depend on the thread count.

import { resolveModel, type ResolvedModel } from '../model/layers/spec.ts';
import type { Barrier } from './control.ts';
import { backwardNodes, forwardNodes, gradientNodes, packNodes, type LayerRun } from './cpuModelLayers.ts';
import { planModel, specRegion, type CpuModelPlan, type ModelPlanInputs } from './cpuModelPlan.ts';
import type { CpuJob, GradientPhase, OptimizerStepArgs } from './jobs.ts';
import type { CpuKernelExports } from './kernels.ts';
import { MR, type DatasetRegions } from './memoryPlan.ts';
import { optimizerShare, share } from './program.ts';

type ModelJob = Extract<CpuJob, { kind: 'model-gradient' | 'model-forward' | 'model-optimizer' }>;

/** Reads the spec's JSON out of the memory (a copy: TextDecoder refuses shared views). */
export function readSpecText(memory: WebAssembly.Memory, heapBase: number, specBytes: number): string {
  const region = specRegion(heapBase, specBytes);
  if (region.offset + region.bytes > memory.buffer.byteLength) throw new Error('internal error: the model spec lies outside the memory');
  return new TextDecoder().decode(new Uint8Array(memory.buffer, region.offset, region.bytes).slice());
}

export class ModelProgram {
  private plan: CpuModelPlan | null = null;
  private specText = '';
  private model: ResolvedModel | null = null;

  constructor(
    private readonly k: CpuKernelExports,
    private readonly memory: WebAssembly.Memory,
    readonly index: number,
    readonly count: number,
    private readonly barrier: Barrier,
    private readonly tile: number,
  ) {}

  configure(inputs: ModelPlanInputs): void {
    if (inputs.threads !== this.count) throw new Error(`internal error: a plan for ${inputs.threads} threads on a pool of ${this.count}`);
    const text = readSpecText(this.memory, this.k.heapBase(), inputs.specBytes);
    if (!this.model || text !== this.specText) {
      this.model = resolveModel(JSON.parse(text));
      this.specText = text;
    }
    const plan = planModel(this.model, inputs, this.k.heapBase());
    if (plan.end > this.memory.buffer.byteLength) {
      throw new Error(`internal error: the memory has ${this.memory.buffer.byteLength} bytes, the plan needs ${plan.end}`);
    }
    this.plan = plan;
  }

  run(job: ModelJob): void {
    switch (job.kind) {
      case 'model-gradient':
        return this.gradient(job.batch, job.repack, job.optimizer, job.dropoutSeed, job.source, job.phase);
      case 'model-forward':
        return this.forward(job.batch, job.repack, job.source);
      case 'model-optimizer':
        return this.optimizerStep(this.requirePlan(), job.optimizer);
    }
  }

  private requirePlan(batch?: number): CpuModelPlan {
    if (!this.plan) throw new Error('internal error: a CPU thread got a model job before its memory plan');
    if (batch !== undefined && !(batch >= 1 && batch <= this.plan.batch.capacity)) {
      throw new Error(`internal error: batch ${batch} is outside the planned capacity ${this.plan.batch.capacity}`);
    }
    return this.plan;
  }

  /** This thread's run: its row blocks of the batch and the rows they cover. */
  private runFor(plan: CpuModelPlan, batch: number, training: boolean, dropoutSeed: number | null): LayerRun {
    const [b0, b1] = share(Math.ceil(batch / MR), this.index, this.count);
    const { batch: buf } = plan;
    return {
      k: this.k, memory: this.memory, index: this.index, count: this.count,
      tile: this.tile, scratch: buf.scratch.offset + this.index * buf.scratchPerThread,
      batch, b0, b1, r0: b0 * MR, r1: Math.min(b1 * MR, batch), training, dropoutSeed,
      params: plan.params.offset, grads: plan.grads.offset, positions: buf.positions.offset,
      labels: buf.labels.offset, rowStats: buf.rowStats.offset,
    };
  }

  private gather(plan: CpuModelPlan, data: DatasetRegions, run: LayerRun): void {
    const { batch: buf, model } = plan;
    if (model.tokens) {
      this.k.gatherTokens(data.images.offset, data.labels.offset, buf.indices.offset, run.r0, run.r1, model.inputSize, model.labelsPerExample, buf.x.offset, buf.labels.offset);
    } else this.k.gatherRows(data.images.offset, data.labels.offset, buf.indices.offset, run.r0, run.r1, model.inputSize, buf.x.offset, buf.labels.offset);
  }

  private gradient(batch: number, repack: boolean, optimizer: OptimizerStepArgs | null, dropoutSeed: number | null, source: 'train' | 'raw', phase: GradientPhase): void {
    const plan = this.requirePlan(batch);
    const run = this.runFor(plan, batch, true, dropoutSeed);
    if (phase !== 'backward') {
      if (repack) {
        packNodes(plan.nodes, run);
        this.barrier.wait();
      }
      if (run.r0 < run.r1) {
        if (source === 'train') this.gather(plan, plan.train, run);
        forwardNodes(plan.nodes, run);
      }
      if (phase === 'forward') return;
    }
    // Row-local: this thread's rows of the backward read what its own forward wrote.
    if (run.r0 < run.r1) backwardNodes(plan.nodes, run);
    this.barrier.wait();
    gradientNodes(plan.nodes, run, 0);
    if (plan.twoPhases) {
      this.barrier.wait();
      gradientNodes(plan.nodes, run, 1);
    }
    if (optimizer) {
      this.barrier.wait();
      this.optimizerStep(plan, optimizer);
    }
  }

  private forward(batch: number, repack: boolean, source: 'train' | 'test' | 'raw'): void {
    const plan = this.requirePlan(batch);
    const run = this.runFor(plan, batch, false, null);
    if (repack) {
      packNodes(plan.nodes, run);
      this.barrier.wait();
    }
    if (run.r0 >= run.r1) return;
    if (source === 'raw') return forwardNodes(plan.nodes.slice(0, -1), run);
    this.gather(plan, source === 'train' ? plan.train : plan.test, run);
    forwardNodes(plan.nodes, run);
  }

  private optimizerStep(plan: CpuModelPlan, o: OptimizerStepArgs): void {
    optimizerShare(this.k, this.memory, plan, plan.model.total, plan.model.decayEnd, o, this.index, this.count, this.barrier);
  }
}
