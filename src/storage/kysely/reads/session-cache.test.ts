import { describe, expect, it } from "vitest";
import { cachedSessionStatus, SESSION_CACHE_SIZE, SessionStatusCache } from "./postgres.js";
import type { SessionStatusRow } from "./sql.js";

const row = (userId: number): SessionStatusRow => ({
  user_id: userId,
  revoked_at: null,
  expires_at: 10,
  disabled_at: null,
});

/** A loader whose answers the test releases, counting the reads that reach it. */
function controlledLoader() {
  const pending: { id: string; resolve: (row: SessionStatusRow | undefined) => void }[] = [];
  return {
    reads: () => pending.length,
    load: (id: string) =>
      new Promise<SessionStatusRow | undefined>((resolve) => {
        pending.push({ id, resolve });
      }),
    answer(index: number, value: SessionStatusRow | undefined) {
      pending[index]?.resolve(value);
    },
  };
}

describe("session statuses kept on revocation notices", () => {
  it("keeps a status read while the feed listens, and answers it again without a read", async () => {
    const feed = { trusted: true, generation: 0 };
    const cache = new SessionStatusCache();
    const loader = controlledLoader();
    const status = cachedSessionStatus(loader.load, feed, cache);
    const first = status("s1");
    loader.answer(0, row(7));
    expect(await first).toEqual(row(7));
    expect(await status("s1")).toEqual(row(7));
    expect(loader.reads()).toBe(1);
  });

  it("hands the answers kept in memory out together on the next turn, one scheduled turn for all", async () => {
    const feed = { trusted: true, generation: 0 };
    const cache = new SessionStatusCache();
    cache.set("s1", row(1));
    cache.set("s2", row(2));
    const turns: Array<() => void> = [];
    const status = cachedSessionStatus(controlledLoader().load, feed, cache, (callback) => turns.push(callback));
    const answered: string[] = [];
    const asks = ["s1", "s2", "s1"].map((id) => status(id).then((value) => answered.push(`${id}:${value?.user_id}`)));
    await Promise.resolve();
    await Promise.resolve();
    expect(answered).toEqual([]);
    expect(turns).toHaveLength(1);
    turns[0]?.();
    await Promise.all(asks);
    expect(answered).toEqual(["s1:1", "s2:2", "s1:1"]);
    // The next ask waits for a turn of its own.
    const later = status("s2");
    expect(turns).toHaveLength(2);
    turns[1]?.();
    expect(await later).toEqual(row(2));
  });

  it("answers what the cache holds when the turn comes: a notice that arrived meanwhile is not overlooked", async () => {
    const feed = { trusted: true, generation: 0 };
    const cache = new SessionStatusCache();
    cache.set("s1", row(1));
    const turns: Array<() => void> = [];
    const loader = controlledLoader();
    const status = cachedSessionStatus(loader.load, feed, cache, (callback) => turns.push(callback));
    const asked = status("s1");
    // The session is revoked elsewhere while the answer waits for its turn.
    cache.notice({ kind: "session", id: "s1" });
    turns[0]?.();
    await Promise.resolve();
    await Promise.resolve();
    expect(loader.reads()).toBe(1);
    loader.answer(0, { ...row(1), revoked_at: 5 });
    expect(await asked).toEqual({ ...row(1), revoked_at: 5 });
  });

  it("does not keep a status whose read raced a notice or a reset (the generation moved)", async () => {
    const feed = { trusted: true, generation: 0 };
    const cache = new SessionStatusCache();
    const loader = controlledLoader();
    const status = cachedSessionStatus(loader.load, feed, cache);
    const raced = status("s1");
    feed.generation++; // a notice arrived while the read was out
    loader.answer(0, row(7));
    expect(await raced).toEqual(row(7));
    expect(cache.size).toBe(0);
    const again = status("s1");
    expect(loader.reads()).toBe(2);
    loader.answer(1, row(7));
    await again;
    expect(cache.size).toBe(1);
  });

  it("reads every time while the feed does not listen, and keeps nothing", async () => {
    const feed = { trusted: false, generation: 0 };
    const cache = new SessionStatusCache();
    const loader = controlledLoader();
    const status = cachedSessionStatus(loader.load, feed, cache);
    const answers = [status("s1"), status("s1")];
    loader.answer(0, row(7));
    loader.answer(1, row(7));
    await Promise.all(answers);
    expect(loader.reads()).toBe(2);
    expect(cache.size).toBe(0);
  });

  it("does not keep an unknown session, so that one made later is read", async () => {
    const feed = { trusted: true, generation: 0 };
    const cache = new SessionStatusCache();
    const loader = controlledLoader();
    const status = cachedSessionStatus(loader.load, feed, cache);
    const unknown = status("s9");
    loader.answer(0, undefined);
    expect(await unknown).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it("drops a session on its notice, a user's sessions on the user's, everything on a reset", () => {
    const cache = new SessionStatusCache();
    cache.set("a1", row(1));
    cache.set("a2", row(1));
    cache.set("b1", row(2));
    cache.notice({ kind: "session", id: "a1" });
    expect([cache.get("a1"), cache.size]).toEqual([undefined, 2]);
    cache.notice({ kind: "user", id: 1 });
    expect([cache.get("a2"), cache.get("b1"), cache.size]).toEqual([undefined, row(2), 1]);
    cache.clear();
    expect(cache.size).toBe(0);
  });

  it("holds at most SESSION_CACHE_SIZE statuses, those not asked for lately going first", () => {
    const cache = new SessionStatusCache();
    cache.set("asked", row(2));
    for (let i = 0; i < 2 * SESSION_CACHE_SIZE; i++) {
      cache.set(`s${i}`, row(1));
      if (i % 1000 === 0) expect(cache.get("asked")).toEqual(row(2));
      expect(cache.size).toBeLessThanOrEqual(SESSION_CACHE_SIZE);
    }
    expect(cache.get("s0")).toBeUndefined();
    expect(cache.get(`s${2 * SESSION_CACHE_SIZE - 1}`)).toEqual(row(1));
    expect(cache.get("asked")).toEqual(row(2));
  });
});
