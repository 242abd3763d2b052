// The parameters as contributors hold them, and the messages that bring a contributor up to
// date. With f32 down (the default) that is the exact parameters, sent whole. With a lossy
// down encoding each new version goes out as a delta against the previous broadcast
// (compression/delta.ts): every contributor at version v then holds the same reconstruction
// θ̂_v, bit for bit, which is what they compute from and what spot checks recompute from. Its
// error against the exact θ_v does not accumulate (each delta is taken against θ̂, not θ).
// A contributor that joins, or is more than `keep` versions behind, gets θ̂_v whole, in f32.

import { encodeDelta } from '../compression/index.ts';
import { payloadWords } from '../compression/index.ts';
import type { CoordinatorMessage, EncodingSpec } from '../protocol/messages.ts';
import { encodeOptions } from '../protocol/updates.ts';

type ParametersMessage = Extract<CoordinatorMessage, { type: 'parameters' | 'parameterDelta' }>;

export class ParameterBroadcast {
  private current: Float32Array;
  private currentVersion: number;
  /** The delta messages from version v − 1 to v, for the last `keep` versions, oldest first. */
  private readonly deltas: Extract<CoordinatorMessage, { type: 'parameterDelta' }>[] = [];

  constructor(
    private readonly spec: EncodingSpec,
    private readonly keep: number,
    version: number,
    /** The exact parameters of `version`: the first broadcast is them, whole. */
    params: Float32Array,
  ) {
    this.current = params;
    this.currentVersion = version;
  }

  get version(): number {
    return this.currentVersion;
  }

  /** θ̂ of the current version: what every contributor holding it computes from (shared: never write to it). */
  get params(): Float32Array {
    return this.current;
  }

  /** The model stepped to `version` with exact parameters `params`: the broadcast follows. */
  advance(version: number, params: Float32Array): void {
    if (version !== this.currentVersion + 1) throw new Error(`ParameterBroadcast.advance: from version ${this.currentVersion} to ${version}; versions advance one at a time`);
    if (this.spec.scheme === 'f32') {
      this.current = params;
    } else {
      const { delta, reconstruction } = encodeDelta(this.current, params, encodeOptions(this.spec));
      this.deltas.push({ type: 'parameterDelta', body: { fromVersion: this.currentVersion, version, encoding: delta.header }, tensors: { delta: payloadWords(delta.payload) } });
      if (this.deltas.length > this.keep) this.deltas.shift();
      this.current = reconstruction;
    }
    this.currentVersion = version;
  }

  /** What brings a contributor holding `known` (null: nothing) to the current version: nothing, the deltas since, or θ̂ whole. */
  messagesFor(known: number | null): ParametersMessage[] {
    if (known === this.currentVersion) return [];
    const first = this.deltas.length ? this.deltas[0].body.fromVersion : Infinity;
    if (known !== null && known >= first && known < this.currentVersion) return this.deltas.slice(known - first);
    return [{ type: 'parameters', body: { version: this.currentVersion }, tensors: { params: this.current } }];
  }
}
