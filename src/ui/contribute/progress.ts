// The job's progress as the contributor page shows it, from the coordinator's /api/status:
// where the run is, when it should end at the current rate, who else is computing, and this
// visitor's share of the examples counted.

import { etaText, type RunStatusSnapshot } from '../../server/runStatus.ts';
import { formatNumber } from '../dom.ts';

type Progress = Pick<RunStatusSnapshot, 'state' | 'message' | 'round' | 'evaluations' | 'contributors' | 'examplesPerSecond' | 'eta'> & {
  job: Pick<RunStatusSnapshot['job'], 'tokens' | 'targetLoss'>;
};

const others = (n: number) => `${n} other${n === 1 ? '' : 's'}`;

/** Facts for the page; `me` is this visitor's contributor id (null before it joined). */
export function progressFacts(s: Progress, me: string | null): [string, string][] {
  const last = s.evaluations.at(-1);
  const connected = s.contributors.filter((c) => c.connected && !c.banned);
  const mine = me !== null && connected.some((c) => c.id === me);
  const counted = s.contributors.reduce((n, c) => n + c.examples, 0);
  const myExamples = s.contributors.find((c) => c.id === me)?.examples ?? 0;
  const facts: [string, string][] = [
    ['Round', s.state === 'running' ? String(s.round) : `${s.state === 'done' ? 'done' : 'failed'} at round ${s.round}${s.message ? `: ${s.message}` : ''}`],
    s.job.tokens
      ? ['Latest validation loss', last ? `${last.loss.toFixed(4)} at version ${last.version}${s.job.targetLoss != null ? ` (target ${s.job.targetLoss})` : ''}` : '–']
      : ['Latest test accuracy', last ? `${(100 * last.accuracy).toFixed(2)}% at version ${last.version}` : '–'],
    ['Estimated time left', s.state === 'running' ? `${etaText(s.eta)} at ${formatNumber(s.examplesPerSecond)} examples/s` : '–'],
    ['Contributing now', mine ? (connected.length === 1 ? 'you alone' : `you and ${others(connected.length - 1)}`) : String(connected.length)],
  ];
  if (me !== null) facts.push(['Your share', counted > 0 ? `${((100 * myExamples) / counted).toFixed(1)}% of the ${formatNumber(counted)} examples counted in this run` : '–']);
  return facts;
}
