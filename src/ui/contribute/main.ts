// The contributor page: what the job is, an explicit "donate" start (nothing computes
// before it), live status, pause and stop.

import '../styles.css';
import { Contributor, type ContributorState } from '../../contributor/contributor.ts';
import { trustCoordinatorKey } from '../../contributor/identity.ts';
import type { JobAnnouncement } from '../../server/httpApi.ts';
import type { BackendChoice } from '../../worker/api.ts';
import { describeDevice } from '../deviceFacts.ts';
import { byId, downloadJson, el, formatBytes, formatNumber, setFacts } from '../dom.ts';
import { describeModel, resolveModel } from '../../model/layers/spec.ts';
import type { RunStatusSnapshot } from '../../server/runStatus.ts';
import { progressFacts } from './progress.ts';

const PROGRESS_POLL_MS = 3000;

const donate = byId<HTMLButtonElement>('donate');
const pause = byId<HTMLButtonElement>('pause');
const stop = byId<HTMLButtonElement>('stop');
const backendChoice = byId<HTMLSelectElement>('backend-choice');
const status = byId('status');
const activity = byId('activity');
const keyConflict = byId('key-conflict');
const trustNewKey = byId<HTMLButtonElement>('trust-new-key');
const downloadReceipts = byId<HTMLButtonElement>('download-receipts');
let contributor: Contributor | null = null;
/** The receipts stay downloadable after the contributor stopped. */
let lastContributor: Contributor | null = null;
let job: JobAnnouncement | null = null;
let paused = false;

declare global {
  interface Window {
    /** The contributor's state, for people debugging and for the end-to-end tests. */
    swarmgradContributor?: ContributorState;
  }
}

async function loadJob(): Promise<JobAnnouncement | null> {
  try {
    const response = await fetch('/api/job');
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    return (await response.json()) as JobAnnouncement;
  } catch (error) {
    byId('job-summary').textContent = `No job is being served here (${(error as Error).message}). Start one with \`npm start\`.`;
    return null;
  }
}

function showJob(job: JobAnnouncement): void {
  byId('job-summary').textContent = `"${job.name}": a neural network learning from ${job.data.description}.`;
  setFacts(byId('job-facts'), [
    ['Model', `${describeModel(resolveModel(job.model))}, ${formatNumber(job.parameterCount)} parameters`],
    ['Data', `${job.data.description[0].toUpperCase()}${job.data.description.slice(1)}: ${formatNumber(job.trainExamples)} training examples (downloaded once, ${formatBytes(job.data.downloadBytes)})`],
    ['Batch per round', formatNumber(job.globalBatch)],
    ['Goal', job.targetAccuracy !== null ? `${(100 * job.targetAccuracy).toFixed(0)}% test accuracy` : 'a fixed number of rounds'],
  ]);
}

function render(s: ContributorState): void {
  window.swarmgradContributor = s;
  status.textContent = s.message;
  status.className = s.phase === 'failed' ? 'bad' : s.phase === 'retrying' ? 'warn' : '';
  byId('key-fingerprint').textContent = s.keyFingerprint ?? '–';
  byId('coordinator-fingerprint').textContent = s.coordinatorFingerprint ?? '–';
  keyConflict.hidden = !s.keyConflict;
  if (s.keyConflict) byId('key-conflict-message').textContent = s.keyConflict.message;
  setFacts(byId('status-facts'), [
    ['State', s.phase + (s.computing ? ' (computing)' : '')],
    ['Contributor id', s.contributorId ?? '–'],
    ['Tasks done', formatNumber(s.tasks)],
    ['Examples computed', formatNumber(s.examples)],
    ['Examples/s (last minute)', formatNumber(s.examplesPerSecond)],
    ['Measured on this job', s.measuredExamplesPerSecond ? `${formatNumber(s.measuredExamplesPerSecond)} examples/s` : '–'],
    ['Last batch loss', s.lastLoss !== null ? s.lastLoss.toFixed(4) : '–'],
    ['Parameters version', s.parametersVersion !== null ? String(s.parametersVersion) : '–'],
    ['Credit (verified receipts)', `${formatNumber(s.credit.receipts)} tasks, ${formatNumber(s.credit.examples)} examples${s.credit.failed ? ` · ${s.credit.failed} receipts did NOT verify` : ''}`],
    ['Log head seen', s.credit.lastHead ? `${formatNumber(s.credit.lastHead.size)} entries, root ${s.credit.lastHead.rootHash.slice(0, 16)}…` : '–'],
  ]);
  downloadReceipts.disabled = s.credit.receipts === 0;
  if (s.backend) {
    const facts = describeDevice(s.backend);
    if (s.backend.selection) facts.push(['Why this backend', s.backend.selection.reason]);
    setFacts(byId('device-facts'), facts);
  }
  const finished = s.phase === 'stopped' || s.phase === 'done' || s.phase === 'failed';
  pause.disabled = finished;
  stop.disabled = finished;
  if (finished) {
    donate.disabled = false;
    donate.textContent = 'Donate my GPU again';
    backendChoice.disabled = false;
    contributor = null;
  }
}

function log(line: string): void {
  activity.prepend(el('li', {}, `${new Date().toLocaleTimeString()} ${line}`));
  while (activity.children.length > 20) activity.lastElementChild!.remove();
}

function startContributing(): void {
  if (!job) return;
  donate.disabled = true;
  backendChoice.disabled = true;
  paused = false;
  pause.textContent = 'Pause';
  contributor = new Contributor({ job, backend: backendChoice.value as BackendChoice, onState: render, onLog: log });
  lastContributor = contributor;
  void contributor.start();
}

/** The job's progress from the coordinator, every few seconds while the tab is visible. */
async function watchProgress(): Promise<void> {
  const facts = byId('progress-facts');
  for (;;) {
    if (!document.hidden) {
      try {
        const response = await fetch('/api/status');
        if (!response.ok) throw new Error(`HTTP ${response.status}`);
        const s = (await response.json()) as RunStatusSnapshot;
        setFacts(facts, progressFacts(s, window.swarmgradContributor?.contributorId ?? null));
      } catch (error) {
        setFacts(facts, [['Progress', `not available (${(error as Error).message})`]]);
      }
    }
    await new Promise((r) => setTimeout(r, PROGRESS_POLL_MS));
  }
}

async function main(): Promise<void> {
  job = await loadJob();
  if (!job) return;
  showJob(job);
  void watchProgress();
  donate.disabled = false;
  donate.addEventListener('click', startContributing);
  // The visitor was shown both fingerprints and chose to trust the key the coordinator now announces.
  trustNewKey.addEventListener('click', async () => {
    if (!job) return;
    trustNewKey.disabled = true;
    await trustCoordinatorKey(location.origin, job.id, job.coordinatorKey);
    log('Trusted the coordinator’s new key.');
    keyConflict.hidden = true;
    trustNewKey.disabled = false;
    startContributing();
  });
  pause.addEventListener('click', () => {
    if (!contributor) return;
    paused = !paused;
    pause.textContent = paused ? 'Resume' : 'Pause';
    void (paused ? contributor.pause() : contributor.resume());
  });
  stop.addEventListener('click', () => void contributor?.stop());
  downloadReceipts.addEventListener('click', () => {
    if (lastContributor) downloadJson(`swarmgrad-receipts-${job?.id ?? 'job'}.json`, lastContributor.receiptsFile());
  });
}

void main();
