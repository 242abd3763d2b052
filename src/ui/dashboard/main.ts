// The job owner's dashboard: live loss and accuracy, contributors with their throughput and
// tasks, rounds per minute; all from the coordinator's status stream.

import '../styles.css';
import { headSigned } from '../../ledger/receipt.ts';
import type { SignedTreeHead } from '../../protocol/messages.ts';
import { webVerify } from '../../protocol/signing.ts';
import type { JobAnnouncement } from '../../server/httpApi.ts';
import { computeShareText, etaText, type RunStatusSnapshot } from '../../server/runStatus.ts';
import { byId, el, formatNumber, setFacts } from '../dom.ts';
import { LineChart } from '../lineChart.ts';

const lossChart = new LineChart(byId('loss-chart'), 'round', [
  { label: 'training loss', color: '#d9822b' },
  { label: 'training accuracy', color: '#8a63d2', scale: 'y2' },
]);
const accuracyChart = new LineChart(byId('accuracy-chart'), 'parameter version (rounds done)', [{ label: 'test accuracy', color: '#2f6fde' }]);
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
  setFacts(byId('run-facts'), [
    ['Job', `${s.job.name} (${s.job.id})`],
    ['Round', String(s.round)],
    ['Latest test accuracy', last ? `${(100 * last.accuracy).toFixed(2)}% at version ${last.version}` : '–'],
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
  accuracyChart.set(s.evaluations.map((e) => e.version), [s.evaluations.map((e) => e.accuracy)]);
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

const events = new EventSource('/api/events');
events.addEventListener('status', (e) => render(JSON.parse((e as MessageEvent).data) as RunStatusSnapshot));
events.onerror = () => {
  statusLine.textContent = 'Lost the coordinator; reconnecting…';
  statusLine.className = 'warn';
};
