import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { systemScheduler } from "./scheduler.js";

describe("systemScheduler", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("runs the task every interval until stopped, on a timer that does not hold the process", async () => {
    const setIntervalSpy = vi.spyOn(globalThis, "setInterval");
    let runs = 0;
    const job = systemScheduler.every(1000, async () => {
      runs++;
    });
    const timer = setIntervalSpy.mock.results[0]?.value as NodeJS.Timeout;
    expect(timer.hasRef()).toBe(false);
    await vi.advanceTimersByTimeAsync(2500);
    expect(runs).toBe(2);
    job.stop();
    await vi.advanceTimersByTimeAsync(5000);
    expect(runs).toBe(2);
  });
});
