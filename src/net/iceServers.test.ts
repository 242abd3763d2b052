// ICE server URLs as the job owner writes them, TURN REST credentials as coturn checks them
// (the HMAC recomputed here with node:crypto), and libdatachannel's form of the same servers.

import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { iceConfig, iceServersFor, parseIceUrl, toLibDataChannel, turnCredentials, type HmacSha1 } from './iceServers.ts';

const hmac: HmacSha1 = (key, message) => new Uint8Array(createHmac('sha1', key).update(message).digest());
const SECRET = 'a-long-shared-secret-0123456789';

describe('ICE server URLs', () => {
  it('reads stun, turn and turns URLs with their default ports and transports', () => {
    expect(parseIceUrl('stun:stun.relay.invalid')).toEqual({ scheme: 'stun', host: 'stun.relay.invalid', port: 3478, transport: null });
    expect(parseIceUrl('turn:198.51.100.7:3479?transport=tcp')).toEqual({ scheme: 'turn', host: '198.51.100.7', port: 3479, transport: 'tcp' });
    expect(parseIceUrl('turns:turn.relay.invalid')).toEqual({ scheme: 'turns', host: 'turn.relay.invalid', port: 5349, transport: null });
    expect(parseIceUrl('turn:[2001:db8::1]:3478')).toMatchObject({ host: '[2001:db8::1]', port: 3478 });
  });

  it('refuses what is not one, with a user or password in it, or a transport that cannot be', () => {
    expect(() => parseIceUrl('http://stun.relay.invalid')).toThrow(/is not a STUN or TURN URL: write stun:HOST/);
    expect(() => parseIceUrl('turn:alice:pw@turn.relay.invalid')).toThrow(/no user or password in it/);
    expect(() => parseIceUrl('turn:turn.relay.invalid:99999')).toThrow('port 99999 is not from 1 to 65535');
    expect(() => parseIceUrl('stun:stun.relay.invalid?transport=udp')).toThrow('a STUN URL takes no transport');
    expect(() => parseIceUrl('turns:turn.relay.invalid?transport=udp')).toThrow('turns: runs over TLS, which is TCP');
  });

  it('needs a long secret for TURN, and no secret without TURN', () => {
    expect(() => iceConfig(['turn:t.relay.invalid'], null)).toThrow(/a TURN server needs its shared secret/);
    expect(() => iceConfig(['stun:s.relay.invalid'], SECRET)).toThrow('a TURN secret was given but no turn: or turns: server');
    expect(() => iceConfig(['turn:t.relay.invalid'], 'short')).toThrow(/shorter than 16 characters/);
    expect(iceConfig([], null)).toEqual({ stun: [], turn: [], turnSecret: null, turnTtlSeconds: 43200 });
  });
});

describe('TURN REST credentials', () => {
  it('are "<expiry>:<label>" and base64(HMAC-SHA1(secret, username)), as coturn recomputes them', () => {
    const c = turnCredentials(SECRET, 'page-1', 1_700_000_000_500, 3600, hmac);
    expect(c.username).toBe('1700003600:page-1');
    expect(c.credential).toBe(createHmac('sha1', SECRET).update('1700003600:page-1').digest('base64'));
    expect(() => turnCredentials(SECRET, 'a:b', 0, 60, hmac)).toThrow(/a TURN user label is 1–64 letters/);
  });

  it('are made fresh for each page, STUN servers without any', () => {
    const config = iceConfig(['stun:s.relay.invalid', 'turn:t.relay.invalid', 'turns:t.relay.invalid'], SECRET, 600);
    const [stun, turn] = iceServersFor(config, 'page-2', 1_000_000, hmac);
    expect(stun).toEqual({ urls: ['stun:s.relay.invalid'] });
    expect(turn).toMatchObject({ urls: ['turn:t.relay.invalid', 'turns:t.relay.invalid'], username: '1600:page-2' });
    expect(iceServersFor(config, 'page-3', 1_000_000, hmac)[1].credential).not.toBe(turn.credential);
    expect(iceServersFor(iceConfig([], null), 'x', 0, hmac)).toEqual([]);
  });

  it('convert to libdatachannel’s servers, one per URL, with the relay type', () => {
    const servers = iceServersFor(iceConfig(['stun:s.relay.invalid:3479', 'turn:10.0.0.1?transport=tcp', 'turn:10.0.0.1', 'turns:[2001:db8::1]'], SECRET), 'coordinator', 0, hmac);
    const { username, credential } = servers[1];
    expect(toLibDataChannel(servers)).toEqual([
      { hostname: 's.relay.invalid', port: 3479 },
      { hostname: '10.0.0.1', port: 3478, username, password: credential, relayType: 'TurnTcp' },
      { hostname: '10.0.0.1', port: 3478, username, password: credential, relayType: 'TurnUdp' },
      { hostname: '2001:db8::1', port: 5349, username, password: credential, relayType: 'TurnTls' },
    ]);
  });
});
