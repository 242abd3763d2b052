// The job owner's dashboard: live loss and accuracy, contributors with their throughput and
// tasks, rounds per minute; all from the coordinator's status stream.

import '../styles.css';
import type { RunStatusSnapshot } from '../../server/runStatus.ts';
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

function render(s: RunStatusSnapshot): void {
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
    ['Running for', `${Math.round((s.now - s.startedAt) / 1000)} s`],
  ]);
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
