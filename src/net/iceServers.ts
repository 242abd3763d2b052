// The STUN and TURN servers a job owner configures, as both ends use them. The job owner
// names them on the command line (`--ice-server stun:…`, `--ice-server turn:…`) with, for
// TURN, the shared secret of coturn's REST scheme (`use-auth-secret`, `static-auth-secret`):
// the coordinator then hands every page credentials of its own that expire, so no password
// that lasts is ever in a page.
//
// TURN REST credentials (draft-uberti-behave-turn-rest, as coturn implements it): the
// username is "<expiry, Unix seconds>:<a user label>", the password base64(HMAC-SHA1(secret,
// username)); coturn recomputes the HMAC and refuses a username whose time has passed.

/** A STUN or TURN server as the W3C RTCIceServer has it (browsers take it as it is). */
export interface IceServerSpec {
  urls: string[];
  username?: string;
  credential?: string;
}

export interface IceUrl {
  scheme: 'stun' | 'turn' | 'turns';
  host: string;
  port: number;
  transport: 'udp' | 'tcp' | null;
}

const DEFAULT_PORTS = { stun: 3478, turn: 3478, turns: 5349 } as const;
const URL_PATTERN = /^(stun|turn|turns):(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?(?:\?transport=(udp|tcp))?$/;

/** Parses an ICE server URL (RFC 7064 / 7065), or throws an Error saying what is wrong with it. */
export function parseIceUrl(url: string): IceUrl {
  const m = URL_PATTERN.exec(url);
  if (!m) {
    throw new Error(`"${url}" is not a STUN or TURN URL: write stun:HOST[:PORT], turn:HOST[:PORT][?transport=udp|tcp] or turns:HOST[:PORT] (no user or password in it: TURN credentials come from the shared secret)`);
  }
  const scheme = m[1] as IceUrl['scheme'];
  const port = m[3] === undefined ? DEFAULT_PORTS[scheme] : Number(m[3]);
  if (port < 1 || port > 65535) throw new Error(`"${url}": port ${port} is not from 1 to 65535`);
  const transport = (m[4] as 'udp' | 'tcp' | undefined) ?? null;
  if (scheme === 'stun' && transport) throw new Error(`"${url}": a STUN URL takes no transport`);
  if (scheme === 'turns' && transport === 'udp') throw new Error(`"${url}": turns: runs over TLS, which is TCP`);
  return { scheme, host: m[2], port, transport };
}

/** What the coordinator knows of its ICE servers: the URLs, and the TURN secret when there are TURN URLs. */
export interface IceConfig {
  stun: string[];
  turn: string[];
  /** coturn's static-auth-secret. */
  turnSecret: string | null;
  /** How long handed-out TURN credentials last, in seconds. */
  turnTtlSeconds: number;
}

export const DEFAULT_TURN_TTL_SECONDS = 12 * 3600;

/** The configuration from the command line's URLs and secret; a TURN URL without a secret, or a secret without one, is an Error. */
export function iceConfig(urls: readonly string[], turnSecret: string | null, turnTtlSeconds = DEFAULT_TURN_TTL_SECONDS): IceConfig {
  const parsed = urls.map((url) => [url, parseIceUrl(url)] as const);
  const stun = parsed.filter(([, u]) => u.scheme === 'stun').map(([url]) => url);
  const turn = parsed.filter(([, u]) => u.scheme !== 'stun').map(([url]) => url);
  if (turn.length && !turnSecret) throw new Error('a TURN server needs its shared secret (coturn\'s static-auth-secret, with use-auth-secret): pass --turn-secret-file');
  if (!turn.length && turnSecret) throw new Error('a TURN secret was given but no turn: or turns: server');
  if (turnSecret !== null && turnSecret.length < 16) throw new Error('the TURN secret is shorter than 16 characters: use a long random one (openssl rand -hex 32)');
  if (!Number.isInteger(turnTtlSeconds) || turnTtlSeconds < 60) throw new Error(`TURN credentials must last a whole number of seconds, at least 60; got ${turnTtlSeconds}`);
  return { stun, turn, turnSecret, turnTtlSeconds };
}

/** HMAC-SHA1 as both Node and WebCrypto can give it; injected so that this module stays pure. */
export type HmacSha1 = (key: string, message: string) => Uint8Array;

/** TURN REST credentials for `user`, valid until now + ttl. */
export function turnCredentials(secret: string, user: string, nowMs: number, ttlSeconds: number, hmacSha1: HmacSha1): { username: string; credential: string } {
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(user)) throw new Error(`a TURN user label is 1–64 letters, digits and . _ -; got ${JSON.stringify(user)}`);
  const username = `${Math.floor(nowMs / 1000) + ttlSeconds}:${user}`;
  return { username, credential: base64(hmacSha1(secret, username)) };
}

/** The servers for one page (or the coordinator itself), with TURN credentials of its own. */
export function iceServersFor(config: IceConfig, user: string, nowMs: number, hmacSha1: HmacSha1): IceServerSpec[] {
  const out: IceServerSpec[] = [];
  if (config.stun.length) out.push({ urls: [...config.stun] });
  if (config.turn.length) out.push({ urls: [...config.turn], ...turnCredentials(config.turnSecret!, user, nowMs, config.turnTtlSeconds, hmacSha1) });
  return out;
}

/** libdatachannel's form of the same servers (node-datachannel's IceServer objects). */
export interface LibDataChannelIceServer {
  hostname: string;
  port: number;
  username?: string;
  password?: string;
  relayType?: 'TurnUdp' | 'TurnTcp' | 'TurnTls';
}

export function toLibDataChannel(servers: readonly IceServerSpec[]): LibDataChannelIceServer[] {
  return servers.flatMap((server) =>
    server.urls.map((url) => {
      const u = parseIceUrl(url);
      const hostname = u.host.replace(/^\[|\]$/g, '');
      if (u.scheme === 'stun') return { hostname, port: u.port };
      const relayType = u.scheme === 'turns' ? 'TurnTls' : u.transport === 'tcp' ? 'TurnTcp' : 'TurnUdp';
      return { hostname, port: u.port, username: server.username, password: server.credential, relayType } as const;
    }),
  );
}

function base64(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}
