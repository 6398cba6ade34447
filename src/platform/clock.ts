/**
 * The clock seam. Everything that needs the time takes a Clock; only this folder reads the real one.
 * Times are milliseconds since the Unix epoch.
 */
export interface Clock {
  now(): number;
  /** Waits `ms` milliseconds (a manual clock moves instead of waiting). */
  sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms))),
};

/** A clock that moves only when told to: for tests and for replaying a decision. */
export class ManualClock implements Clock {
  #nowMs: number;
  constructor(startMs = Date.UTC(2026, 0, 1)) {
    this.#nowMs = startMs;
  }
  now(): number {
    return this.#nowMs;
  }
  async sleep(ms: number): Promise<void> {
    this.#nowMs += Math.max(0, ms);
  }
  advanceSeconds(seconds: number): void {
    this.#nowMs += seconds * 1000;
  }
  set(ms: number): void {
    this.#nowMs = ms;
  }
}
