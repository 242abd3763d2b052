// onnxruntime-web's MatMul on its WebGPU and WASM execution providers, run on the one-node
// model from buildMatMulModel. ORT is loaded only when this runs, so the page starts fast.

import type * as Ort from 'onnxruntime-web/webgpu';
// ORT's WASM runtime as files of their own: its thread workers import the runtime's module,
// and inside the bundle that module would be a chunk that imports the page's entry chunk.
import ortRuntimeModuleUrl from 'onnxruntime-web/ort-wasm-simd-threaded.asyncify.mjs?url';
import ortRuntimeWasmUrl from 'onnxruntime-web/ort-wasm-simd-threaded.asyncify.wasm?url';
import { repeatTimed, type RepeatPolicy } from '../../gpu/timing.ts';
import { buildMatMulModel } from '../../model/onnx.ts';
import type { MatmulImplementation, MatmulMeasurement, MatmulProblem, MatmulProvider } from './implementation.ts';
import { ORT_WEBGPU_NAME, ortWasmName } from './names.ts';

type OrtModule = typeof Ort;


/** WASM threads need SharedArrayBuffer, which only a cross-origin isolated page has. */
export function wasmThreadCount(): number {
  return globalThis.crossOriginIsolated ? Math.max(1, navigator.hardwareConcurrency || 1) : 1;
}

/** One session per problem size, released when the size changes. */
class SessionSlot {
  private current: { n: number; session: Ort.InferenceSession; release: () => void } | null = null;

  async get(n: number, create: () => Promise<{ session: Ort.InferenceSession; release?: () => void }>) {
    if (this.current?.n !== n) {
      await this.close();
      const made = await create();
      this.current = { n, session: made.session, release: made.release ?? (() => {}) };
    }
    return this.current.session;
  }

  async close(): Promise<void> {
    if (!this.current) return;
    const { session, release } = this.current;
    this.current = null;
    release();
    await session.release();
  }
}

export class OnnxRuntimeProvider implements MatmulProvider {
  readonly title = "onnxruntime-web's MatMul (WebGPU and WASM execution providers)";
  private readonly webgpu = new SessionSlot();
  private readonly wasm = new SessionSlot();

  async open(log: (message: string) => void): Promise<MatmulImplementation[]> {
    const ort: OrtModule = await import('onnxruntime-web/webgpu');
    const threads = wasmThreadCount();
    // Read once, when ORT's WASM module starts (the WebGPU EP runs in it too): set before any session.
    ort.env.wasm.numThreads = threads;
    ort.env.wasm.wasmPaths = { mjs: ortRuntimeModuleUrl, wasm: ortRuntimeWasmUrl };
    log(`onnxruntime-web ${ort.env.versions.web ?? '?'}: WASM with ${threads} thread${threads === 1 ? '' : 's'}` +
      (globalThis.crossOriginIsolated ? '' : ' (the page is not cross-origin isolated, so no SharedArrayBuffer)'));
    return [
      { name: ORT_WEBGPU_NAME, family: 'onnxruntime-webgpu', warmAcrossSizes: false, measure: (p, policy) => this.measureWebGpu(ort, p, policy) },
      { name: ortWasmName(threads), family: 'onnxruntime-wasm', warmAcrossSizes: false, measure: (p, policy) => this.measureWasm(ort, p, policy, threads) },
    ];
  }

  async close(): Promise<void> {
    await this.webgpu.close();
    await this.wasm.close();
  }

  private async measureWebGpu(ort: OrtModule, problem: MatmulProblem, policy: RepeatPolicy): Promise<MatmulMeasurement> {
    const { n } = problem;
    const session = await this.webgpu.get(n, async () => ({
      session: await ort.InferenceSession.create(buildMatMulModel(n, n, n), {
        executionProviders: ['webgpu'],
        preferredOutputLocation: 'gpu-buffer',
      }),
    }));
    // The EP's own device exists once a WebGPU session does; inputs must live on it.
    const device = await ort.env.webgpu.device;
    const gpuInput = (data: Float32Array, label: string) => {
      const buffer = device.createBuffer({ label, size: data.byteLength, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST });
      device.queue.writeBuffer(buffer, 0, data as Float32Array<ArrayBuffer>);
      return buffer;
    };
    const a = gpuInput(problem.a, 'ort bench A');
    const b = gpuInput(problem.b, 'ort bench B');
    try {
      const feeds = {
        A: ort.Tensor.fromGpuBuffer(a, { dataType: 'float32', dims: [n, n] }),
        B: ort.Tensor.fromGpuBuffer(b, { dataType: 'float32', dims: [n, n] }),
      };
      const timed = await repeatTimed(async () => {
        const t0 = performance.now();
        const out = await session.run(feeds);
        await device.queue.onSubmittedWorkDone();
        const ms = performance.now() - t0;
        out.C.dispose();
        return { ms };
      }, policy);
      const out = await session.run(feeds);
      const c = (await out.C.getData(true)) as Float32Array;
      return {
        ms: timed.best.ms,
        wallMs: timed.best.ms,
        timing:
          'wall-clock of session.run() until the GPU queue is idle; inputs already on the GPU (Tensor.fromGpuBuffer), ' +
          'output left on the GPU (preferredOutputLocation: gpu-buffer); session creation excluded',
        samplesMs: timed.samples.map((s) => s.ms),
        warmups: timed.warmups,
        c,
        details: { executionProvider: 'webgpu' },
      };
    } finally {
      a.destroy();
      b.destroy();
    }
  }

  private async measureWasm(ort: OrtModule, problem: MatmulProblem, policy: RepeatPolicy, threads: number): Promise<MatmulMeasurement> {
    const { n } = problem;
    const session = await this.wasm.get(n, async () => ({
      session: await ort.InferenceSession.create(buildMatMulModel(n, n, n), { executionProviders: ['wasm'] }),
    }));
    const feeds = { A: new ort.Tensor('float32', problem.a, [n, n]), B: new ort.Tensor('float32', problem.b, [n, n]) };
    let c: Float32Array | null = null;
    const timed = await repeatTimed(async () => {
      const t0 = performance.now();
      const out = await session.run(feeds);
      const ms = performance.now() - t0;
      c = out.C.data as Float32Array;
      return { ms };
    }, policy);
    return {
      ms: timed.best.ms,
      wallMs: timed.best.ms,
      timing: 'wall-clock of session.run(), copying the inputs into WASM memory included; session creation excluded',
      samplesMs: timed.samples.map((s) => s.ms),
      warmups: timed.warmups,
      c: c!,
      details: { executionProvider: 'wasm', threads, crossOriginIsolated: globalThis.crossOriginIsolated === true },
    };
  }
}
