// The job owner's dashboard: live loss and accuracy, contributors with their throughput and
// tasks, rounds per minute, a next-token job's text samples; all from the coordinator's status stream.

import '../styles.css';
import { headSigned } from '../../ledger/receipt.ts';
import type { SignedTreeHead } from '../../protocol/messages.ts';
import { webVerify } from '../../protocol/signing.ts';
import type { JobAnnouncement } from '../../server/httpApi.ts';
import { computeShareText, etaText, type RunStatusSnapshot } from '../../server/runStatus.ts';
import type { Leaderboard } from '../../ledger/credit.ts';
import { byId, el, formatNumber, setFacts } from '../dom.ts';
import { LineChart } from '../lineChart.ts';

const lossChart = new LineChart(byId('loss-chart'), 'round', [
  { label: 'training loss', color: '#d9822b' },
  { label: 'training accuracy', color: '#8a63d2', scale: 'y2' },
]);
/** Made at the first status, when it is known whether the job's test split is a text's validation part. */
let accuracyChart: LineChart | null = null;

function evaluationChart(tokens: boolean): LineChart {
  byId('accuracy-title').textContent = tokens ? 'Training and validation loss' : 'Test loss and accuracy';
  return new LineChart(byId('accuracy-chart'), 'parameter version (rounds done)', [
    { label: tokens ? 'validation loss' : 'test loss', color: '#2f6fde' },
    { label: 'training loss', color: '#d9822b' },
    { label: tokens ? 'next-character accuracy' : 'test accuracy', color: '#8a63d2', scale: 'y2' },
  ]);
}
const statusLine = byId('run-status');

declare global {
  interface Window {
    swarmgradDashboard?: RunStatusSnapshot;
  }
}

/** The status stream also carries the transparency log's newest signed head. */
type Status = RunStatusSnapshot & { ledger?: { size: number; head: SignedTreeHead | null } | null };

const job: Promise<JobAnnouncement | null> = fetch('/api/job').then((r) => (r.ok ? (r.json() as Promise<JobAnnouncement>) : null), () => null);
/** The head whose signature was last checked here, and the verdict. */
let checkedHead: { head: SignedTreeHead; verified: boolean } | null = null;

async function checkHead(head: SignedTreeHead): Promise<void> {
  if (checkedHead?.head.signature === head.signature) return;
  const j = await job;
  const verified = j ? await headSigned(head, { jobId: j.id, coordinatorKey: j.coordinatorKey }, { verify: webVerify }) : false;
  checkedHead = { head, verified };
  showHead();
}

function showHead(): void {
  const h = checkedHead?.head;
  setFacts(byId('ledger-facts'), [
    ['Entries signed', h ? formatNumber(h.size) : '–'],
    ['Root hash', h ? h.rootHash : '–'],
    ['Signed at', h ? new Date(h.timestamp).toLocaleTimeString() : '–'],
    ['Signature', !h ? '–' : checkedHead!.verified ? 'verified in this browser with the coordinator key' : 'DOES NOT VERIFY with the coordinator key'],
  ]);
}

function render(s: Status): void {
  window.swarmgradDashboard = s;
  const connected = s.contributors.filter((c) => c.connected);
  const last = s.evaluations.at(-1);
  statusLine.textContent =
    s.state === 'running' ? `Training "${s.job.name}": round ${s.round}.` : `${s.state === 'done' ? 'Done' : 'Failed'}: ${s.message ?? ''}`;
  statusLine.className = s.state === 'failed' ? 'bad' : s.state === 'done' ? 'good' : '';
  // A next-token job's test split is the text's held-out part: its loss is the figure that matters.
  setFacts(byId('run-facts'), [
    ['Job', `${s.job.name} (${s.job.id})`],
    ['Round', String(s.round)],
    s.job.tokens
      ? ['Latest validation loss', last ? `${last.loss.toFixed(4)} at version ${last.version}${s.job.targetLoss != null ? ` (target ${s.job.targetLoss})` : ''}` : '–']
      : ['Latest test accuracy', last ? `${(100 * last.accuracy).toFixed(2)}% at version ${last.version}` : '–'],
    ['Contributors connected', `${connected.length} (relay peers: ${s.relay?.connectedPeers ?? '–'})`],
    ['Examples/s (last minute)', formatNumber(s.examplesPerSecond)],
    ['Rounds per minute', s.roundsPerMinute.toFixed(1)],
    ['Estimated time left', etaText(s.eta)],
    [
      'Contributors computing',
      s.computeShare === null ? '–' : `${computeShareText(s.computeShare)} (network, rounds closing)`,
    ],
    ['Running for', `${Math.round((s.now - s.startedAt) / 1000)} s`],
  ]);
  if (s.ledger?.head) void checkHead(s.ledger.head);
  lossChart.set(s.rounds.map((r) => r.round), [s.rounds.map((r) => r.loss), s.rounds.map((r) => r.trainAccuracy)]);
  accuracyChart ??= evaluationChart(s.job.tokens ?? false);
  accuracyChart.set(s.evaluations.map((e) => e.version), [s.evaluations.map((e) => e.loss), s.evaluations.map((e) => e.trainLoss ?? null), s.evaluations.map((e) => e.accuracy)]);
  showSample(s);
  byId('contributors').querySelector('tbody')!.replaceChildren(
    ...s.contributors.map((c) =>
      el(
        'tr',
        {},
        el('td', {}, c.id),
        el('td', {}, c.device),
        el('td', {}, c.backend),
        el('td', {}, c.connected ? (c.paused ? 'paused' : 'connected') : 'gone'),
        el('td', {}, formatNumber(c.tasks)),
        el('td', {}, formatNumber(c.examples)),
        el('td', {}, formatNumber(c.examplesPerSecond)),
        el('td', {}, formatNumber(c.uncounted)),
      ),
    ),
  );
}

/** A next-token job's newest text, with what it was written from. */
function showSample(s: Status): void {
  const sample = s.samples.at(-1);
  const settings = s.job.sample;
  byId('sample-panel').hidden = !settings;
  if (!settings) return;
  byId('sample-facts').textContent = sample
    ? `Written by the coordinator's CPU model from version ${sample.version}: ${settings.length} characters after the prompt ${JSON.stringify(settings.prompt)}, temperature ${settings.temperature}.`
    : 'The first sample comes with the first evaluation.';
  const pre = byId('sample');
  if (!sample) {
    pre.replaceChildren();
    return;
  }
  pre.replaceChildren(el('span', { class: 'prompt' }, settings.prompt), sample.text);
}

const LEADERBOARD_POLL_MS = 5000;
/** Rows shown; the API has them all. */
const LEADERBOARD_ROWS = 50;

/** The leaderboard, every few seconds while the tab is visible (it changes once a round). */
async function watchLeaderboard(): Promise<void> {
  for (;;) {
    if (!document.hidden) {
      try {
        const response = await fetch('/api/leaderboard');
        if (response.ok) showLeaderboard((await response.json()) as Leaderboard);
      } catch {
        // The status line already says when the coordinator is gone.
      }
    }
    await new Promise((r) => setTimeout(r, LEADERBOARD_POLL_MS));
  }
}

function showLeaderboard(board: Leaderboard): void {
  byId('leaderboard').querySelector('tbody')!.replaceChildren(
    ...board.contributors.slice(0, LEADERBOARD_ROWS).map((p) =>
      el(
        'tr',
        {},
        el('td', {}, String(p.rank)),
        el('td', { title: p.keys.join('\n') }, `${p.key.slice(0, 20)}…${p.keys.length > 1 ? ` (+${p.keys.length - 1} linked)` : ''}`),
        el('td', {}, p.contributorIds.join(', ')),
        el('td', {}, p.team ?? '–'),
        el('td', {}, formatNumber(p.examples)),
        el('td', {}, formatNumber(p.leases)),
      ),
    ),
  );
  byId('team-leaderboard').querySelector('tbody')!.replaceChildren(
    ...board.teams.slice(0, LEADERBOARD_ROWS).map((t) =>
      el('tr', {}, el('td', {}, String(t.rank)), el('td', {}, t.team), el('td', {}, formatNumber(t.members)), el('td', {}, formatNumber(t.examples)), el('td', {}, formatNumber(t.leases))),
    ),
  );
}
void watchLeaderboard();

const events = new EventSource('/api/events');
events.addEventListener('status', (e) => render(JSON.parse((e as MessageEvent).data) as RunStatusSnapshot));
events.onerror = () => {
  statusLine.textContent = 'Lost the coordinator; reconnecting…';
  statusLine.className = 'warn';
};
