// The contributor page: what the job is, an explicit "donate" start (nothing computes
// before it), live status, pause and stop.

import '../styles.css';
import { Contributor, type ContributorState } from '../../contributor/contributor.ts';
import { loadOrCreateIdentity, trustCoordinatorKey } from '../../contributor/identity.ts';
import { handCreditOn } from '../../contributor/keyLink.ts';
import { parseTeamName } from '../../protocol/team.ts';
import { describeRoute } from '../../net/route.ts';
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
const teamInput = byId<HTMLInputElement>('team');
const teamError = byId('team-error');
/** The team is remembered in this origin's storage for the next visit (it is no secret: it goes in the public log). */
const TEAM_ENTRY = 'swarmgrad.team';
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
    ['Connection', s.route ? describeRoute(s.route) : '–'],
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
    teamInput.disabled = false;
    contributor = null;
  }
}

function log(line: string): void {
  activity.prepend(el('li', {}, `${new Date().toLocaleTimeString()} ${line}`));
  while (activity.children.length > 20) activity.lastElementChild!.remove();
}

/** The team typed, checked: null for none, undefined (with the reason shown) when it is refused. */
function chosenTeam(): string | null | undefined {
  try {
    const team = parseTeamName(teamInput.value);
    teamError.textContent = '';
    teamInput.removeAttribute('aria-invalid');
    try {
      if (team) localStorage.setItem(TEAM_ENTRY, team);
      else localStorage.removeItem(TEAM_ENTRY);
    } catch {
      // No storage here: the team is sent, just not remembered.
    }
    return team;
  } catch (error) {
    teamError.textContent = `Not started: ${(error as Error).message}.`;
    teamInput.setAttribute('aria-invalid', 'true');
    teamInput.focus();
    return undefined;
  }
}

function startContributing(): void {
  if (!job) return;
  const team = chosenTeam();
  if (team === undefined) return;
  donate.disabled = true;
  teamInput.disabled = true;
  backendChoice.disabled = true;
  paused = false;
  pause.textContent = 'Pause';
  contributor = new Contributor({ job, backend: backendChoice.value as BackendChoice, team, onState: render, onLog: log });
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

/** "Your credit in other browsers": the key code to copy, and the signed link to send. */
function setUpCarry(job: JobAnnouncement): void {
  const carry = byId<HTMLDetailsElement>('carry');
  const keyCode = byId('key-code');
  const copy = byId<HTMLButtonElement>('copy-key-code');
  const linkTo = byId<HTMLInputElement>('link-to');
  const send = byId<HTMLButtonElement>('link-send');
  const result = byId('link-result');
  // The key is made (or read) only when the visitor opens this, never on page load.
  carry.addEventListener('toggle', async () => {
    if (!carry.open || copy.disabled === false) return;
    try {
      keyCode.textContent = (await loadOrCreateIdentity()).publicKey;
      copy.disabled = false;
    } catch (error) {
      keyCode.textContent = `none: this browser keeps no storage here (${(error as Error).message})`;
    }
  });
  copy.addEventListener('click', () => void navigator.clipboard?.writeText(keyCode.textContent ?? '').then(() => (result.textContent = 'Key code copied.'), () => (result.textContent = 'Select the code and copy it by hand.')));
  send.addEventListener('click', async () => {
    send.disabled = true;
    result.className = '';
    try {
      const { toKey, taken } = await handCreditOn(await loadOrCreateIdentity(), job.id, linkTo.value);
      result.textContent = `Done: this browser's credit now counts for ${toKey.slice(0, 20)}… (log entry ${taken.entry}, covered by the signed head of ${formatNumber(taken.treeHead.size)} entries).`;
      log('Handed this browser’s credit on to another key.');
    } catch (error) {
      result.textContent = `Not linked: ${(error as Error).message}`;
      result.className = 'bad';
    } finally {
      send.disabled = false;
    }
  });
}

async function main(): Promise<void> {
  job = await loadJob();
  if (!job) return;
  showJob(job);
  setUpCarry(job);
  try {
    teamInput.value = localStorage.getItem(TEAM_ENTRY) ?? '';
  } catch {
    // No storage: the field starts empty.
  }
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
