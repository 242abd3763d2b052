// Words a contributor understands for each way connecting to the coordinator can fail. Pure,
// so every message is unit-tested; browserPeer.ts maps PeerJS errors through it.

export interface CoordinatorWhereabouts {
  /** e.g. "ws://example.org:8080/peerjs" */
  readonly relayUrl: string;
  readonly coordinatorId: string;
  /** The job's TURN URLs this page was given (none: only direct paths can work). */
  readonly turn?: readonly string[];
}

/** PeerJS error types (PeerErrorType and BaseConnectionErrorType) plus our own timeout. */
export type ConnectFailureKind =
  | 'browser-incompatible'
  | 'network'
  | 'server-error'
  | 'socket-error'
  | 'socket-closed'
  | 'ssl-unavailable'
  | 'peer-unavailable'
  | 'unavailable-id'
  | 'invalid-id'
  | 'invalid-key'
  | 'webrtc'
  | 'negotiation-failed'
  | 'connection-closed'
  | 'no-path'
  | 'timeout';

export function explainConnectFailure(kind: string, detail: string, where: CoordinatorWhereabouts, timeoutMs?: number): string {
  const suffix = detail ? ` (${detail})` : '';
  switch (kind as ConnectFailureKind) {
    case 'browser-incompatible':
      return 'This browser cannot open WebRTC data channels, which contributing needs. Try a current Chrome, Edge or Firefox.';
    case 'network':
    case 'server-error':
    case 'socket-error':
    case 'socket-closed':
    case 'ssl-unavailable':
      return `Cannot reach the coordinator's signaling relay at ${where.relayUrl}${suffix}. The server may be restarting or offline; this page keeps retrying.`;
    case 'peer-unavailable':
      return `The relay is up, but the coordinator "${where.coordinatorId}" is not connected to it. It may be restarting; this page keeps retrying.`;
    case 'unavailable-id':
    case 'invalid-id':
      return `The relay refused this contributor's id${suffix}. Reload the page to get a new one.`;
    case 'invalid-key':
      return `The relay refused this page's API key${suffix}: the page and the server disagree on their configuration. Reload the page.`;
    case 'negotiation-failed':
      return `Could not open a direct connection to the coordinator${suffix}. A firewall or VPN may be blocking WebRTC (UDP) traffic.`;
    case 'webrtc':
      return `The browser's WebRTC stack failed while connecting to the coordinator${suffix}.`;
    case 'connection-closed':
      return `The connection to the coordinator closed while it was being set up${suffix}.`;
    case 'no-path':
      return where.turn?.length
        ? `Reached the coordinator's relay, but no network path for the data connection, not even through the job's TURN relay (${where.turn.join(', ')})${suffix}. ` +
            'A firewall here may block it, or the TURN server is down: try another network, or tell the job\'s owner. This page keeps retrying.'
        : `Reached the coordinator's relay, but no network path for the data connection${suffix}: a firewall or NAT here blocks WebRTC (UDP), and this job has no TURN relay. ` +
            'Try another network, or ask the job\'s owner to add one (npm start -- --ice-server turn:…). This page keeps retrying.';
    case 'timeout':
      return `The coordinator did not answer within ${Math.round((timeoutMs ?? 0) / 1000)} s. It may be overloaded or restarting; this page keeps retrying.`;
    default:
      return `Connecting to the coordinator failed: ${kind}${suffix}.`;
  }
}
