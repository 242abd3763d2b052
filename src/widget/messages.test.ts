import { describe, expect, it } from 'vitest';
import { FrameMessageSchema, HostMessageSchema, normalizeOrigin, receive } from './messages.ts';

const HOST = 'https://game.example';
const status = {
  type: 'swarmgrad:status', v: 1, phase: 'computing', computing: true, consent: true, pausedBy: [],
  dutyCycle: 0.3, usageLimit: 0.5, tasks: 2, examples: 512, message: 'Computing.',
  computeMs: 1500, verified: { results: 1, examples: 256 },
  device: { kind: 'cpu', detail: 'WebAssembly, 1 thread of 2 cores, relaxed SIMD' },
};

describe('widget postMessage schema', () => {
  it('accepts well-formed messages from the expected origin and window', () => {
    const source = {};
    const r = receive(HostMessageSchema, { origin: HOST, source, data: { type: 'swarmgrad:frames', v: 1, frames: 60, dropped: 1, p95Ms: 17, hidden: false } }, HOST, source);
    expect(r).toEqual({ kind: 'message', message: { type: 'swarmgrad:frames', v: 1, frames: 60, dropped: 1, p95Ms: 17, hidden: false } });
    expect(receive(FrameMessageSchema, { origin: HOST, data: status }, HOST).kind).toBe('message');
  });

  it('ignores other origins, other windows and other libraries traffic', () => {
    const msg = { type: 'swarmgrad:pause', v: 1 };
    expect(receive(HostMessageSchema, { origin: 'https://evil.example', data: msg }, HOST)).toMatchObject({ kind: 'ignored', reason: expect.stringContaining('evil.example') });
    expect(receive(HostMessageSchema, { origin: HOST, data: msg, source: {} }, HOST, {}).kind).toBe('ignored');
    expect(receive(HostMessageSchema, { origin: HOST, data: 'hello' }, HOST).kind).toBe('ignored');
    expect(receive(HostMessageSchema, { origin: HOST, data: { type: 'webpackOk' } }, HOST).kind).toBe('ignored');
  });

  it('rejects malformed messages of ours with an error that names the field', () => {
    const bad = receive(HostMessageSchema, { origin: HOST, data: { type: 'swarmgrad:frames', v: 1, frames: -1, dropped: 0, p95Ms: 16, hidden: false } }, HOST);
    expect(bad.kind).toBe('invalid');
    expect(bad.kind === 'invalid' && bad.error).toMatch(/swarmgrad:frames.*frames/);
    expect(receive(HostMessageSchema, { origin: HOST, data: { type: 'swarmgrad:pause', v: 2 } }, HOST).kind).toBe('invalid');
    expect(receive(FrameMessageSchema, { origin: HOST, data: { ...status, usageLimit: 0.05 } }, HOST).kind).toBe('invalid');
    expect(receive(FrameMessageSchema, { origin: HOST, data: { ...status, device: { kind: 'tpu', detail: '' } } }, HOST).kind).toBe('invalid');
    expect(receive(FrameMessageSchema, { origin: HOST, data: { ...status, device: null } }, HOST).kind).toBe('message');
    expect(receive(FrameMessageSchema, { origin: HOST, data: { ...status, verified: { results: -1, examples: 0 } } }, HOST).kind).toBe('invalid');
  });

  it('has no way for the host to start compute, and status carries no key', () => {
    expect(receive(HostMessageSchema, { origin: HOST, data: { type: 'swarmgrad:start', v: 1 } }, HOST).kind).toBe('invalid');
    expect(receive(FrameMessageSchema, { origin: HOST, data: { ...status, publicKey: 'abc' } }, HOST).kind).toBe('invalid');
  });

  it('normalizes origins and explains bad ones', () => {
    expect(normalizeOrigin('http://127.0.0.1:8080/some/path')).toBe('http://127.0.0.1:8080');
    expect(() => normalizeOrigin('coordinator')).toThrow(/not a URL/);
    expect(() => normalizeOrigin('ftp://x')).toThrow(/http/);
  });
});
