/**
 * The clock seam. Everything that needs the time takes a Clock; only this folder reads the real one.
 * Times are milliseconds since the Unix epoch.
 */
export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A clock that moves only when told to: for tests and for replaying a decision. */
export class ManualClock implements Clock {
  #nowMs: number;
  constructor(startMs = Date.UTC(2026, 0, 1)) {
    this.#nowMs = startMs;
  }
  now(): number {
    return this.#nowMs;
  }
  advanceSeconds(seconds: number): void {
    this.#nowMs += seconds * 1000;
  }
  set(ms: number): void {
    this.#nowMs = ms;
  }
}
