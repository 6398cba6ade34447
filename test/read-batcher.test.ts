import { describe, expect, it } from "vitest";
import { ReadBatcher } from "../src/storage/kysely/reads/read-batcher.js";

/** A fetch whose answers the test releases by hand, and a scheduler the test runs by hand. */
function harness(rows: Record<string, number>, options: { maxInFlight: number; maxBatch: number }) {
  const calls: Array<{ keys: string[]; answer(): void; fail(error: Error): void }> = [];
  const scheduled: Array<() => void> = [];
  const batcher = new ReadBatcher<number>(
    (keys) =>
      new Promise((resolve, reject) => {
        // The rows as they are when the query is sent, as a database would read them.
        const found = new Map(keys.filter((k) => k in rows).map((k) => [k, rows[k] as number]));
        calls.push({
          keys,
          answer: () => resolve(found),
          fail: reject,
        });
      }),
    { ...options, schedule: (callback) => scheduled.push(callback) },
  );
  const runScheduled = () => {
    for (const callback of scheduled.splice(0)) callback();
  };
  return { batcher, calls, scheduled, runScheduled };
}

/** Lets settled promises run their callbacks. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("ReadBatcher", () => {
  it("sends the keys asked for in one turn as one query, once each, and answers every caller", async () => {
    const { batcher, calls, runScheduled } = harness({ a: 1, b: 2 }, { maxInFlight: 2, maxBatch: 10 });
    const answers = [batcher.load("a"), batcher.load("b"), batcher.load("a"), batcher.load("missing")];
    expect(calls).toHaveLength(0);
    runScheduled();
    expect(calls.map((c) => c.keys)).toEqual([["a", "b", "missing"]]);
    calls[0]?.answer();
    expect(await Promise.all(answers)).toEqual([1, 2, 1, undefined]);
  });

  it("never answers a key with a query sent before it was asked for", async () => {
    const rows: Record<string, number> = { s: 1 };
    const { batcher, calls, runScheduled } = harness(rows, { maxInFlight: 1, maxBatch: 10 });
    const first = batcher.load("s");
    runScheduled();
    expect(calls).toHaveLength(1);
    // Asked while the first query is in flight (say, after a revocation committed): it must wait
    // for a query of its own, which sees the new row.
    rows.s = 2;
    const second = batcher.load("s");
    runScheduled();
    expect(calls).toHaveLength(1);
    calls[0]?.answer();
    expect(await first).toBe(1);
    await settle();
    expect(calls.map((c) => c.keys)).toEqual([["s"], ["s"]]);
    calls[1]?.answer();
    expect(await second).toBe(2);
  });

  it("gathers the keys that wait while queries are in flight into the next batch, within maxBatch", async () => {
    const rows = Object.fromEntries(Array.from({ length: 7 }, (_, i) => [`k${i}`, i]));
    const { batcher, calls, runScheduled } = harness(rows, { maxInFlight: 1, maxBatch: 3 });
    const first = batcher.load("k0");
    runScheduled();
    const rest = Array.from({ length: 6 }, (_, i) => batcher.load(`k${i + 1}`));
    calls[0]?.answer();
    await settle();
    expect(calls.map((c) => c.keys)).toEqual([["k0"], ["k1", "k2", "k3"]]);
    calls[1]?.answer();
    await settle();
    expect(calls.map((c) => c.keys)).toEqual([["k0"], ["k1", "k2", "k3"], ["k4", "k5", "k6"]]);
    calls[2]?.answer();
    expect([await first, ...(await Promise.all(rest))]).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  it("keeps at most maxInFlight queries out at once", async () => {
    const { batcher, calls, runScheduled } = harness({ a: 1 }, { maxInFlight: 2, maxBatch: 1 });
    const answers = ["a", "a", "a", "a"].map((k) => batcher.load(k));
    runScheduled();
    expect(calls).toHaveLength(2);
    calls[0]?.answer();
    await settle();
    expect(calls).toHaveLength(3);
    for (const call of calls.slice(1)) call.answer();
    await settle();
    calls[3]?.answer();
    expect(await Promise.all(answers)).toEqual([1, 1, 1, 1]);
  });

  it("fails every caller of a failed query, and the next query goes out as usual", async () => {
    const { batcher, calls, runScheduled } = harness({ a: 1 }, { maxInFlight: 1, maxBatch: 10 });
    const failed = [batcher.load("a"), batcher.load("b")];
    runScheduled();
    calls[0]?.fail(new Error("connection lost"));
    for (const answer of failed) await expect(answer).rejects.toThrow("connection lost");
    await settle();
    const next = batcher.load("a");
    runScheduled();
    calls[1]?.answer();
    expect(await next).toBe(1);
  });

  it("turns a fetch that throws into a rejection of its callers", async () => {
    let throwNow = true;
    const batcher = new ReadBatcher<number>(
      (keys) => {
        if (throwNow) throw new Error("bad statement");
        return Promise.resolve(new Map(keys.map((k) => [k, 7])));
      },
      { maxInFlight: 1, maxBatch: 10, schedule: (callback) => queueMicrotask(callback) },
    );
    await expect(batcher.load("a")).rejects.toThrow("bad statement");
    throwNow = false;
    expect(await batcher.load("a")).toBe(7);
  });

  it("refuses bounds below one", () => {
    const fetch = async () => new Map<string, number>();
    expect(() => new ReadBatcher(fetch, { maxInFlight: 0, maxBatch: 1 })).toThrow(RangeError);
    expect(() => new ReadBatcher(fetch, { maxInFlight: 1, maxBatch: 0 })).toThrow(RangeError);
  });
});
