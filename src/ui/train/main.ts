// The local training page: one GPU, no network. Shows the device, the autotuned kernel,
// and a live loss/accuracy chart while the MLP trains in the worker.

import '../styles.css';
import { DEFAULT_ADAMW, type OptimizerHyper } from '../../kernels/optimizer.ts';
import { DEFAULT_MLP } from '../../model/mlp.ts';
import { startTrainerWorker } from '../../worker/client.ts';
import { runLocalTraining, type LocalTrainingSummary } from '../../worker/localTraining.ts';
import { byId, formatNumber, setFacts } from '../dom.ts';
import { LineChart } from '../lineChart.ts';
import { describeDevice } from '../deviceFacts.ts';

const worker = startTrainerWorker();
const status = byId('device-status');
const trainStatus = byId('train-status');
const startButton = byId<HTMLButtonElement>('start');
const stopButton = byId<HTMLButtonElement>('stop');
const progress = byId<HTMLProgressElement>('progress');
const form = byId<HTMLFormElement>('settings');
const chart = new LineChart(byId('chart'), 'step', [
  { label: 'training loss', color: '#d9822b' },
  { label: 'test accuracy', color: '#2f6fde', scale: 'y2' },
]);
let abort: AbortController | null = null;

/** The last run's summary, for people and for the end-to-end test. */
declare global {
  interface Window {
    swarmgradLocalRun?: { state: 'idle' | 'running' | 'done' | 'failed'; summary?: LocalTrainingSummary; error?: string };
  }
}
window.swarmgradLocalRun = { state: 'idle' };

async function start(): Promise<void> {
  try {
    const report = await worker.api.init({ spec: DEFAULT_MLP });
    setFacts(byId('device-facts'), describeDevice(report));
    status.textContent = report.adapter?.isFallbackAdapter
      ? 'A software (fallback) GPU adapter: correct, but slow.'
      : 'GPU ready: self-test passed.';
    trainStatus.textContent = 'Loading Fashion-MNIST…';
    const counts = await worker.api.loadDataset({ kind: 'url', baseUrl: '/data/fashion-mnist/' });
    trainStatus.textContent = `Dataset loaded: ${formatNumber(counts.train)} training and ${formatNumber(counts.test)} test examples.`;
    startButton.disabled = false;
  } catch (error) {
    status.textContent = `This device cannot train: ${(error as Error).message}`;
    status.className = 'bad';
  }
}

function readSettings() {
  const f = new FormData(form);
  const number = (name: string) => Number(f.get(name));
  const lr = number('lr');
  const hyper: OptimizerHyper =
    f.get('optimizer') === 'sgd' ? { kind: 'sgd', lr, momentum: 0.9, weightDecay: 1e-4, maxGradNorm: 0 } : { ...DEFAULT_ADAMW, lr };
  return { trainExamples: number('trainExamples'), epochs: number('epochs'), batch: number('batch'), hyper };
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  if (!form.reportValidity()) return;
  const settings = readSettings();
  abort = new AbortController();
  startButton.disabled = true;
  stopButton.disabled = false;
  chart.clear();
  window.swarmgradLocalRun = { state: 'running' };
  trainStatus.textContent = 'Training…';
  try {
    const summary = await runLocalTraining(
      worker.api,
      { ...settings, seed: 1, evalEvery: 100, evalExamples: 10000 },
      (p) => {
        progress.value = p.step / p.totalSteps;
        chart.push(p.step, [p.loss, p.test ? p.test.accuracy : null]);
        trainStatus.textContent =
          `Step ${p.step}/${p.totalSteps}, epoch ${p.epoch + 1}: loss ${p.loss.toFixed(3)}, ` +
          `${formatNumber(p.examplesPerSecond)} examples/s` +
          (p.test ? `, test accuracy ${(100 * p.test.accuracy).toFixed(2)}%` : '');
      },
      abort.signal,
    );
    window.swarmgradLocalRun = { state: 'done', summary };
    trainStatus.textContent =
      `Done: ${summary.steps} steps in ${(summary.wallMs / 1000).toFixed(1)} s, ${formatNumber(summary.examplesPerSecond)} examples/s; ` +
      `test accuracy ${(100 * summary.testAccuracy).toFixed(2)}% (loss ${summary.testLoss.toFixed(3)}).`;
  } catch (error) {
    const message = abort.signal.aborted ? 'Stopped.' : `Training failed: ${(error as Error).message}`;
    window.swarmgradLocalRun = { state: 'failed', error: message };
    trainStatus.textContent = message;
  } finally {
    startButton.disabled = false;
    stopButton.disabled = true;
  }
});

stopButton.addEventListener('click', () => abort?.abort());

start();
