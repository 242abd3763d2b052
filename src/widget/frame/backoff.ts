// Why compute is paused: each reason is set and cleared on its own, and compute runs only
// when none is left. Waiters are released when the last reason goes.

import type { PauseReason } from '../messages.ts';

export class PauseReasons {
  private readonly reasons = new Set<PauseReason>();
  private waiters: (() => void)[] = [];

  constructor(private readonly onChange: (paused: boolean) => void) {}

  get list(): PauseReason[] {
    return [...this.reasons];
  }

  get paused(): boolean {
    return this.reasons.size > 0;
  }

  set(reason: PauseReason, on: boolean): void {
    const was = this.paused;
    if (on) this.reasons.add(reason);
    else this.reasons.delete(reason);
    if (!this.paused) for (const release of this.waiters.splice(0)) release();
    if (was !== this.paused) this.onChange(this.paused);
  }

  /** Resolves at once when not paused, else when the last reason is cleared. */
  whenRunning(): Promise<void> {
    return this.paused ? new Promise((resolve) => this.waiters.push(resolve)) : Promise.resolve();
  }
}
