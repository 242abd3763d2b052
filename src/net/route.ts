// Which way a WebRTC link actually goes, from the browser's stats (RTCPeerConnection.getStats):
// the selected candidate pair's two ends. "relay" on either end means a TURN server carries
// the traffic; host, srflx and prflx are direct paths (through a NAT or not). Pure, so the
// reading of a stats report is unit-tested; the page and the tests show it.

export type CandidateType = 'host' | 'srflx' | 'prflx' | 'relay';

export interface LinkRoute {
  local: { type: CandidateType; protocol: string; address: string | null; relayProtocol: string | null };
  remote: { type: CandidateType; address: string | null };
}

interface StatLike {
  id: string;
  type: string;
  [key: string]: unknown;
}

/** The selected pair of a stats report (an RTCStatsReport, a Map, or a list of stats), or null before one is selected. */
export function selectedRoute(report: { values(): Iterable<StatLike> }): LinkRoute | null {
  const stats = new Map<string, StatLike>();
  // An RTCStatsReport is map-like, not a Map: iterate its values, as for a Map or an array.
  for (const s of report.values()) stats.set(s.id, s);
  let pair: StatLike | undefined;
  // The transport names the selected pair where the browser says it (Chromium does); else the nominated, succeeded one.
  for (const s of stats.values()) if (s.type === 'transport' && typeof s.selectedCandidatePairId === 'string') pair = stats.get(s.selectedCandidatePairId);
  pair ??= [...stats.values()].find((s) => s.type === 'candidate-pair' && s.state === 'succeeded' && s.nominated === true);
  if (!pair) return null;
  const local = stats.get(String(pair.localCandidateId));
  const remote = stats.get(String(pair.remoteCandidateId));
  if (!local || !remote) return null;
  return {
    local: {
      type: candidateType(local.candidateType),
      protocol: String(local.protocol ?? 'udp'),
      address: typeof local.address === 'string' ? local.address : null,
      relayProtocol: typeof local.relayProtocol === 'string' ? local.relayProtocol : null,
    },
    remote: { type: candidateType(remote.candidateType), address: typeof remote.address === 'string' ? remote.address : null },
  };
}

function candidateType(value: unknown): CandidateType {
  if (value === 'host' || value === 'srflx' || value === 'prflx' || value === 'relay') return value;
  throw new Error(`unknown ICE candidate type ${JSON.stringify(value)}`);
}

/** Whether a TURN server carries the link. */
export function isRelayed(route: LinkRoute): boolean {
  return route.local.type === 'relay' || route.remote.type === 'relay';
}

/** In words, for the contributor page. */
export function describeRoute(route: LinkRoute): string {
  const protocol = route.local.protocol.toUpperCase();
  if (isRelayed(route)) return `through the job's TURN relay (${route.local.relayProtocol ? `${route.local.relayProtocol.toUpperCase()} to the relay, ` : ''}${protocol})`;
  return `direct (${route.local.type} ↔ ${route.remote.type}, ${protocol})`;
}
