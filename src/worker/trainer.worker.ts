// The training worker: a Trainer exposed over comlink. Gradients and parameters travel back
// as transferred buffers, not copies. Autotune results persist in IndexedDB.

import * as Comlink from 'comlink';
import { get, set } from 'idb-keyval';
import { loadDatasetFromUrl } from '../data/remoteDataset.ts';
import type { TuneCache, TuneResult } from '../kernels/autotune.ts';
import type { TrainerApi } from './api.ts';
import { CpuBackend } from './cpuBackend.ts';
import { selectingFactory } from './selectBackend.ts';
import { Trainer } from './trainer.ts';
import { WebGpuBackend } from './webgpuBackend.ts';

const tuneCache: TuneCache = {
  get: (key) => get<TuneResult>(key),
  set: (key, value) => set(key, value),
};

const trainer = new Trainer({
  // 'auto' (the default) times WebGPU and the CPU on the job's shapes and keeps the faster.
  backendFor: (options, model) => {
    return selectingFactory(
      options.backend ?? 'auto',
      {
        webgpu: 'gpu' in navigator
          ? () => WebGpuBackend.create({ model, maxSubmitMs: options.maxSubmitMs, matmulConfig: options.matmulConfig, tuneCache, hardwareGpuOnly: options.hardwareGpuOnly })
          : { unavailable: 'this browser has no WebGPU (navigator.gpu)' },
        cpu: () => CpuBackend.create({ model, threads: options.cpuThreads }),
      },
      model,
      { batch: options.selectionBatch, budgetMs: options.selectionBudgetMs, startupBudgetMs: options.selectionStartupMs },
    );
  },
  loadDatasetFromUrl,
});

const api: TrainerApi = {
  init: (options) => trainer.init(options),
  loadDataset: (source) => trainer.loadDataset(source),
  loadParameters: (version, params) => trainer.loadParameters(version, params),
  initParameters: (seed) => trainer.initParameters(seed),
  async computeGradient(batch) {
    const result = await trainer.computeGradient(batch);
    return Comlink.transfer(result, [result.gradient.buffer]);
  },
  optimizerStep: (hyper, gradient) => trainer.optimizerStep(hyper, gradient),
  trainStep: (batch, hyper) => trainer.trainStep(batch, hyper),
  async localSteps(lease) {
    const result = await trainer.localSteps(lease);
    return Comlink.transfer(result, [result.delta.buffer]);
  },
  evaluate: (split, limit) => trainer.evaluate(split, limit),
  async getParameters() {
    const result = await trainer.getParameters();
    return Comlink.transfer(result, [result.params.buffer]);
  },
  simulateDeviceLoss: () => trainer.simulateDeviceLoss(),
  dispose: () => trainer.dispose(),
};

Comlink.expose(api);
