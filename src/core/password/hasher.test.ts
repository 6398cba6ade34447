import { describe, expect, it } from "vitest";
import { ConcurrencyLimit, createArgon2Hasher, MIN_ARGON2_PARAMS, parsePhcParams } from "./hasher.js";

describe("argon2id hasher", () => {
  const hasher = createArgon2Hasher(MIN_ARGON2_PARAMS);

  it("makes a PHC string with the configured parameters that verifies", async () => {
    const phc = await hasher.hash("Correct7Horse");
    expect(phc.startsWith("$argon2id$v=19$m=19456,t=2,p=1$")).toBe(true);
    expect(await hasher.verify(phc, "Correct7Horse")).toBe(true);
    expect(await hasher.verify(phc, "correct7horse")).toBe(false);
  });

  it("never throws on a broken hash", async () => {
    expect(await hasher.verify("not-a-hash", "x")).toBe(false);
  });

  it("asks for a re-hash when the parameters change", async () => {
    const phc = await hasher.hash("Correct7Horse");
    expect(hasher.needsRehash(phc)).toBe(false);
    const stronger = createArgon2Hasher({ ...MIN_ARGON2_PARAMS, iterations: 3 });
    expect(stronger.needsRehash(phc)).toBe(true);
    expect(parsePhcParams(phc)).toEqual(MIN_ARGON2_PARAMS);
    expect(stronger.needsRehash("garbage")).toBe(true);
  });
});

describe("ConcurrencyLimit", () => {
  it("runs at most `limit` tasks at once, the rest in order of arrival, and frees a slot on failure", async () => {
    const limit = new ConcurrencyLimit(2);
    let running = 0;
    let most = 0;
    const started: number[] = [];
    const releases: Array<() => void> = [];
    const task = (n: number) =>
      limit.run(async () => {
        started.push(n);
        running += 1;
        most = Math.max(most, running);
        await new Promise<void>((resolve) => releases.push(resolve));
        running -= 1;
        if (n === 1) throw new Error("task 1 failed");
        return n;
      });
    const results = [0, 1, 2, 3, 4].map((n) => task(n));
    const settled = Promise.allSettled(results);
    // Let the first two start; the others wait.
    await new Promise((resolve) => setImmediate(resolve));
    expect(started).toEqual([0, 1]);
    expect(limit.waiting).toBe(3);
    while (releases.length > 0) {
      releases.shift()?.();
      await new Promise((resolve) => setImmediate(resolve));
    }
    const outcome = await settled;
    expect(outcome.map((o) => (o.status === "fulfilled" ? o.value : "failed"))).toEqual([0, "failed", 2, 3, 4]);
    expect(started).toEqual([0, 1, 2, 3, 4]);
    expect(most).toBe(2);
    expect(limit.waiting).toBe(0);
    // Every slot is free again: two tasks start at once.
    const again = [limit.run(async () => running), limit.run(async () => running)];
    expect(await Promise.all(again)).toEqual([0, 0]);
  });

  it("refuses a limit below one", () => {
    expect(() => new ConcurrencyLimit(0)).toThrow(RangeError);
  });

  it("answers concurrent verifications each with its own result through a limit of one", async () => {
    const one = createArgon2Hasher(MIN_ARGON2_PARAMS, 1);
    const phc = await one.hash("Correct7Horse");
    const answers = await Promise.all(
      ["Correct7Horse", "wrong", "Correct7Horse", "also wrong"].map((p) => one.verify(phc, p)),
    );
    expect(answers).toEqual([true, false, true, false]);
  });
});
