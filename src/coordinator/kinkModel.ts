// ReLU kinks as verification sees them. A pre-activation within float error of zero may fall
// on either side in two correct f32 implementations (another summation order, an FMA), and
// one such unit of one example moves an honest gradient past any useful tolerance (see
// verification.ts SpotChecker.resolveKinks). CpuKinkModel is what the coordinator's kink
// resolution needs of a model, on the CPU layer table: the gradient with chosen units forced
// to a side (src/cpu/cpuModel.ts gradientWith: the forward, then the sign of the chosen
// pre-activations set, then the backward), the units near their kink, and which unit each
// parameter feeds, for the ReLUs fused into a linear; any other kink of a model
// (a ReLU after a conv, a max-pool tie) is not resolved here, and the checker says so
// (CpuKinkModel.resolvesAll, SpotChecker.inconclusiveUpTo).

import type { ImageDataset } from '../data/dataset.ts';
import { CpuModel, type InlineCpuModel, type ReluInput } from '../cpu/cpuModel.ts';
import { walkLayers, type ResolvedLinear, type ResolvedModel } from '../model/layers/spec.ts';

export interface LossAndCorrect {
  /** Mean cross-entropy over the examples. */
  loss: number;
  /** Examples whose argmax (first maximum on ties) equals the label. */
  correct: number;
  count: number;
}

/** A unit of one example near its kink (key as the model numbers them), and the side this model's arithmetic took. */
export interface NearKink {
  key: number;
  active: boolean;
}

/** Near a kink: |z| ≤ KINK_REL_TOL · (|b| + Σ|x·w|), about the float error of the sum that made z. */
export const KINK_REL_TOL = 1e-4;

/** Kink resolution's model on one InlineCpuModel, which it loads with the train set passed. */
export class CpuKinkModel {
  /** Floats in the flat parameter vector, and where weight decay ends. */
  readonly total: number;
  readonly decayEnd: number;
  /** For every parameter, the unit its value feeds (a linear's weight column j and bias j: that linear's unit j, numbered over the linears in order); −1 for the rest. */
  readonly unitOf: Int32Array;
  /**
   * Whether kink resolution covers every place where the model's gradient can part ways
   * between two correct implementations: each ReLU is fused into the linear before it, and
   * there is no max-pool (a tie) and no dropout (its mask is the lease's).
   */
  readonly resolvesAll: boolean;
  /** The first unit number of each fused linear + ReLU (in the order gradientWith lists them), and the widest of them. */
  private readonly firstUnit: number[];
  private readonly widest: number;
  private loaded: ImageDataset | null = null;

  /** On a CPU backend of its own, on the caller's thread. */
  static async create(model: ResolvedModel): Promise<CpuKinkModel> {
    return new CpuKinkModel((await CpuModel.create(model, { threads: 1 })).inline);
  }

  constructor(private readonly cpu: InlineCpuModel) {
    const model = cpu.model;
    this.total = model.total;
    this.decayEnd = model.decayEnd;
    this.unitOf = new Int32Array(model.total).fill(-1);
    const firstOf = new Map<ResolvedLinear, number>();
    let relus = 0;
    let other = false;
    let first = 0;
    walkLayers(model.layers, (l) => {
      if (l.kind === 'relu') relus++;
      if (l.kind === 'maxpool2d' || l.kind === 'dropout') other = true;
      if (l.kind !== 'linear') return;
      const { inFeatures: rows, outFeatures: cols, weight, bias } = l;
      for (let p = 0; p < rows; p++) for (let j = 0; j < cols; j++) this.unitOf[weight.offset + p * cols + j] = first + j;
      for (let j = 0; j < cols; j++) this.unitOf[bias.offset + j] = first + j;
      firstOf.set(l, first);
      first += cols;
    });
    const fused = cpu.fusedRelus();
    this.firstUnit = fused.map((l) => firstOf.get(l)!);
    this.widest = Math.max(1, ...fused.map((l) => l.outFeatures));
    this.resolvesAll = !other && fused.length === relus;
  }

  /**
   * The gradient of the mean loss over the examples `indices` of `ds` at `params`, written into
   * `gradient`, the units in `forced` (key → active) taking that side in the backward. With
   * `found`, the near-kink units of this forward are appended to it (those forced left out).
   */
  lossAndGradient(params: Float32Array, ds: ImageDataset, indices: ArrayLike<number>, gradient: Float32Array, forced?: ReadonlyMap<number, boolean>, found?: NearKink[]): LossAndCorrect {
    if (!(gradient instanceof Float32Array) || gradient.length !== this.total) {
      throw new Error(`CpuKinkModel.lossAndGradient: gradient has ${gradient?.length} floats, the model needs ${this.total}`);
    }
    const batch = this.prepare(params, ds, indices);
    const r = this.cpu.gradientWith(batch, (relus) => {
      if (found) this.collect(relus, params, batch.length, found, forced);
      if (forced && forced.size > 0) this.force(relus, batch.length, forced);
    });
    gradient.set(r.gradient);
    return { loss: r.loss, correct: r.correct, count: batch.length };
  }

  /** The near-kink units of these examples at `params`, with the side taken. */
  nearKinks(params: Float32Array, ds: ImageDataset, indices: ArrayLike<number>): NearKink[] {
    const found: NearKink[] = [];
    this.lossAndGradient(params, ds, indices, new Float32Array(this.total), undefined, found);
    return found;
  }

  /** The unit of a kink's key, numbered as unitOf. */
  kinkUnit(key: number): number {
    const unit = key % this.widest;
    const relu = Math.floor(key / this.widest) % this.firstUnit.length;
    return this.firstUnit[relu] + unit;
  }

  /** The key of unit `unit` of the `relu`-th fused ReLU (in layer order) of example `position` of a micro-batch. */
  kinkKey(position: number, relu: number, unit: number): number {
    return (position * this.firstUnit.length + relu) * this.widest + unit;
  }

  private prepare(params: Float32Array, ds: ImageDataset, indices: ArrayLike<number>): Uint32Array {
    if (this.loaded !== ds) {
      this.cpu.setDatasets(ds, null);
      this.loaded = ds;
    }
    this.cpu.setParameters(params);
    return indices instanceof Uint32Array ? indices : Uint32Array.from(indices);
  }

  /** Appends the units with |z| ≤ KINK_REL_TOL · (|b| + Σ|x·w|); the bound |b| + max|x|·Σ|w| rules most units out without the sum. */
  private collect(relus: ReluInput[], params: Float32Array, rows: number, found: NearKink[], forced?: ReadonlyMap<number, boolean>): void {
    relus.forEach(({ layer, x, z }, relu) => {
      const { inFeatures: n, outFeatures: m, weight, bias } = layer;
      const columnAbs = new Float64Array(m);
      for (let p = 0; p < n; p++) {
        const row = weight.offset + p * m;
        for (let j = 0; j < m; j++) columnAbs[j] += Math.abs(params[row + j]);
      }
      for (let r = 0; r < rows; r++) {
        let xMax = 0;
        for (let p = 0; p < n; p++) xMax = Math.max(xMax, Math.abs(x[r * n + p]));
        for (let j = 0; j < m; j++) {
          const zj = z[r * m + j];
          const b = Math.abs(params[bias.offset + j]);
          if (Math.abs(zj) > KINK_REL_TOL * (b + xMax * columnAbs[j])) continue;
          let scale = b;
          for (let p = 0; p < n; p++) scale += Math.abs(x[r * n + p] * params[weight.offset + p * m + j]);
          if (Math.abs(zj) > KINK_REL_TOL * scale) continue;
          const key = this.kinkKey(r, relu, j);
          if (!forced?.has(key)) found.push({ key, active: zj > 0 });
        }
      }
    });
  }

  /** Sets each forced unit's pre-activation to a tiny value of its side: the backward reads only the sign. */
  private force(relus: ReluInput[], rows: number, forced: ReadonlyMap<number, boolean>): void {
    for (const [key, active] of forced) {
      const unit = key % this.widest;
      const rest = Math.floor(key / this.widest);
      const relu = rest % this.firstUnit.length;
      const row = Math.floor(rest / this.firstUnit.length);
      const { layer, z } = relus[relu];
      if (row >= rows || unit >= layer.outFeatures) throw new Error(`CpuKinkModel: kink key ${key} is not a unit of this micro-batch of ${rows}`);
      z[row * layer.outFeatures + unit] = active ? TINY : -TINY;
    }
  }
}

/** A normal f32 of either sign that no ReLU takes for zero. */
const TINY = 1e-30;
