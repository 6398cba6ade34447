/**
 * The timer seam. Work that repeats on its own (a node reloading its signing keys) takes a
 * Scheduler; tests hand in a ManualScheduler and fire the work themselves instead of waiting.
 */
export interface Scheduler {
  /** Runs `task` every `intervalMs` until stopped. The timer never keeps the process alive. */
  every(intervalMs: number, task: () => Promise<void>): { stop(): void };
}

export const systemScheduler: Scheduler = {
  every(intervalMs, task) {
    const timer = setInterval(() => void task(), intervalMs);
    timer.unref();
    return { stop: () => clearInterval(timer) };
  },
};

/** A scheduler whose tasks run only when told to: for tests. */
export class ManualScheduler implements Scheduler {
  readonly #tasks = new Set<{ intervalMs: number; task: () => Promise<void> }>();

  every(intervalMs: number, task: () => Promise<void>): { stop(): void } {
    const entry = { intervalMs, task };
    this.#tasks.add(entry);
    return { stop: () => this.#tasks.delete(entry) };
  }

  /** The intervals of the tasks not stopped. */
  intervals(): number[] {
    return [...this.#tasks].map((entry) => entry.intervalMs);
  }

  /** Runs every task not stopped once, as their timers would, and waits for them. */
  async fire(): Promise<void> {
    await Promise.all([...this.#tasks].map((entry) => entry.task()));
  }
}
