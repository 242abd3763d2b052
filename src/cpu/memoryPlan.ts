// Where everything lives in the CPU backend's WebAssembly memory. Pure arithmetic: the
// page and every worker thread compute the same plan from the same inputs, so only those
// inputs ever travel between threads.
//
// Order: control block, per-thread scratch, the model (parameters, gradient, optimizer
// state, packed weights), the datasets, then the micro-batch buffers. The model never
// moves when the datasets or the batch capacity change.

import { mlpLayout, type MlpSpec, type ParamLayout } from '../model/mlp.ts';

/** Rows per packed A panel and columns per packed B panel (the micro-kernel's tile). */
export const MR = 4;
export const NR = 8;
/** Gradient values per partial sum of the global norm: fixed, so the sum's order never depends on the thread count. */
export const NORM_CHUNK = 16384;
export const MAX_THREADS = 16;
export const PAGE_BYTES = 65536;
/** Bytes of the control block: Int32 words for the job protocol, then the job's f64 arguments. */
export const CONTROL_BYTES = 1024;

export interface Region {
  /** Byte offset into the memory. */
  offset: number;
  bytes: number;
}

export interface PlanInputs {
  spec: MlpSpec;
  trainCount: number;
  testCount: number;
  /** The largest micro-batch the batch buffers hold. */
  batchCapacity: number;
}

export interface ModelRegions {
  params: Region;
  grads: Region;
  state1: Region;
  state2: Region;
  /** W_l packed as B of the forward matmul (k = fan-in, n = fan-out), per layer. */
  packedW: Region[];
  /** W_lᵀ packed as B of dX = dZ·Wᵀ (k = fan-out, n = fan-in); null for the first layer. */
  packedWT: (Region | null)[];
  /** One f64 partial sum of squares per NORM_CHUNK gradient values. */
  normPartials: Region;
}

export interface DatasetRegions {
  images: Region;
  labels: Region;
  count: number;
}

/** Buffers for one micro-batch; per layer l, "input" is x for l = 0 and h_{l-1} after. */
export interface BatchRegions {
  capacity: number;
  indices: Region;
  x: Region;
  /** Labels as i32. */
  y: Region;
  /** h_l, batch × widths[l+1]; the last is the logits. */
  h: Region[];
  /** Pre-activations z_l of hidden layers (training). */
  z: (Region | null)[];
  /** The layer's input packed in MR-row panels: A of the forward matmul. */
  inputRows: Region[];
  /** The layer's input transposed into MR-feature panels over the batch: A of dW = inputᵀ·dZ. */
  inputCols: Region[];
  /** dZ of hidden layers (the last layer's is dlogits). */
  dz: (Region | null)[];
  dlogits: Region;
  /** dZ_l packed in MR-row panels: A of dX = dZ·Wᵀ (l ≥ 1). */
  dzRows: (Region | null)[];
  /** dZ_l packed in NR-column panels over the batch: B of dW. */
  dzCols: Region[];
  /** Per row: (loss, correct) as f32. */
  rowStats: Region;
}

export interface MemoryPlan {
  inputs: PlanInputs;
  layout: ParamLayout;
  control: Region;
  /** MAX_THREADS tiles of MR·NR floats, one per thread. */
  tiles: Region;
  model: ModelRegions;
  train: DatasetRegions;
  test: DatasetRegions;
  batch: BatchRegions;
  /** Bytes the memory must have. */
  end: number;
}

const ALIGN = 64;
const ceilTo = (n: number, m: number) => Math.ceil(n / m) * m;

/** Bytes of `rows` × k packed in MR-row panels. */
export const packedRowsBytes = (rows: number, k: number) => ceilTo(rows, MR) * k * 4;
/** Bytes of k × `cols` packed in NR-column panels. */
export const packedColsBytes = (k: number, cols: number) => ceilTo(cols, NR) * k * 4;

class Arena {
  constructor(private next: number) {}
  take(bytes: number): Region {
    const offset = ceilTo(this.next, ALIGN);
    this.next = offset + Math.max(bytes, 0);
    return { offset, bytes };
  }
  get end(): number {
    return ceilTo(this.next, ALIGN);
  }
}

function checkCount(name: string, value: number, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) throw new Error(`Memory plan: ${name} must be an integer ≥ ${min}, got ${value}`);
}

/** The control block and the threads' tiles: the same for every plan on a module. */
export function headerRegions(heapBase: number): { control: Region; tiles: Region } {
  const arena = new Arena(heapBase);
  return { control: arena.take(CONTROL_BYTES), tiles: arena.take(MAX_THREADS * MR * NR * 4) };
}

/** The plan for a model and its data, starting after the module's static data at `heapBase`. */
export function planMemory(inputs: PlanInputs, heapBase: number): MemoryPlan {
  checkCount('trainCount', inputs.trainCount, 0);
  checkCount('testCount', inputs.testCount, 0);
  checkCount('batchCapacity', inputs.batchCapacity, 1);
  checkCount('heapBase', heapBase, 0);
  const layout = mlpLayout(inputs.spec);
  const widths = inputs.spec.widths;
  const L = widths.length - 1;
  const features = widths[0];
  const B = inputs.batchCapacity;
  const { control, tiles } = headerRegions(heapBase);
  const arena = new Arena(tiles.offset + tiles.bytes);
  const flat = () => arena.take(layout.total * 4);
  const model: ModelRegions = {
    params: flat(),
    grads: flat(),
    state1: flat(),
    state2: flat(),
    packedW: layout.weights.map((w) => arena.take(packedColsBytes(w.rows, w.cols))),
    packedWT: layout.weights.map((w, l) => (l === 0 ? null : arena.take(packedColsBytes(w.cols, w.rows)))),
    normPartials: arena.take(Math.ceil(layout.total / NORM_CHUNK) * 8),
  };
  const dataset = (count: number): DatasetRegions => ({ images: arena.take(count * features), labels: arena.take(count), count });
  const train = dataset(inputs.trainCount);
  const test = dataset(inputs.testCount);
  const layers = [...Array(L).keys()];
  const hidden = (l: number) => l < L - 1;
  const matrix = (cols: number) => arena.take(B * cols * 4);
  const batch: BatchRegions = {
    capacity: B,
    indices: arena.take(B * 4),
    x: matrix(features),
    y: arena.take(B * 4),
    h: layers.map((l) => matrix(widths[l + 1])),
    z: layers.map((l) => (hidden(l) ? matrix(widths[l + 1]) : null)),
    inputRows: layers.map((l) => arena.take(packedRowsBytes(B, widths[l]))),
    inputCols: layers.map((l) => arena.take(packedRowsBytes(widths[l], B))),
    dz: layers.map((l) => (hidden(l) ? matrix(widths[l + 1]) : null)),
    dlogits: matrix(widths[L]),
    dzRows: layers.map((l) => (l > 0 ? arena.take(packedRowsBytes(B, widths[l + 1])) : null)),
    dzCols: layers.map((l) => arena.take(packedColsBytes(B, widths[l + 1]))),
    rowStats: arena.take(B * 8),
  };
  return { inputs, layout, control, tiles, model, train, test, batch, end: arena.end };
}

/** WebAssembly pages needed to hold `bytes`. */
export const pagesFor = (bytes: number) => Math.ceil(bytes / PAGE_BYTES);
