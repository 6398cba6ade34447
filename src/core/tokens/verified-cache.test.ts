import { describe, expect, it } from "vitest";
import { VerifiedTokenCache } from "./verified-cache.js";

const NOW_MS = 1_800_000_000_000;
const NOW_S = NOW_MS / 1000;

describe("VerifiedTokenCache", () => {
  it("answers a remembered token until its exp, and never at or after it", () => {
    const cache = new VerifiedTokenCache<{ exp: number }>(10);
    cache.set("a.b.c", "k1", { exp: NOW_S + 300 });
    expect(cache.get("a.b.c", NOW_MS)).toMatchObject({ kid: "k1", claims: { exp: NOW_S + 300 } });
    expect(cache.get("a.b.c", (NOW_S + 299) * 1000 + 999)).toBeDefined();
    // exp ≤ now (whole seconds) is expired: the rule of the full verification.
    expect(cache.get("a.b.c", (NOW_S + 300) * 1000)).toBeUndefined();
    // An expired entry is dropped, so it cannot come back with a clock that goes backwards.
    expect(cache.size).toBe(0);
    expect(cache.get("a.b.c", NOW_MS)).toBeUndefined();
  });

  it("matches the exact token string only", () => {
    const cache = new VerifiedTokenCache<{ exp: number }>(10);
    cache.set("header.payload.signature", "k1", { exp: NOW_S + 300 });
    for (const other of ["header.payload.signaturE", "header.payload.signature ", "header.payloaD.signature", ""]) {
      expect(cache.get(other, NOW_MS)).toBeUndefined();
    }
  });

  it("answers a token only when all of it matches, though entries are filed under the signature", () => {
    const cache = new VerifiedTokenCache<{ exp: number }>(10);
    cache.set("header.payload.signature", "k1", { exp: NOW_S + 300 });
    // Same signature, another header or payload: not answered, and not able to remove the entry.
    for (const other of ["header.payloaD.signature", "headeR.payload.signature", "signature", ".signature"]) {
      expect(cache.get(other, NOW_MS)).toBeUndefined();
      cache.delete(other);
    }
    expect(cache.get("header.payload.signature", NOW_MS)).toMatchObject({ kid: "k1" });
    cache.delete("header.payload.signature");
    expect(cache.get("header.payload.signature", NOW_MS)).toBeUndefined();
  });

  it("keeps two tokens whose signatures begin alike apart: each is answered only for itself", () => {
    const cache = new VerifiedTokenCache<{ exp: number }>(10);
    cache.set("h.p1.SIGNone", "k1", { exp: NOW_S + 300 });
    expect(cache.get("h.p1.SIGNone", NOW_MS)).toMatchObject({ kid: "k1" });
    // Filed under the same number: the second replaces the first, which is verified in full again.
    cache.set("h.p2.SIGNtwo", "k2", { exp: NOW_S + 300 });
    expect(cache.get("h.p1.SIGNone", NOW_MS)).toBeUndefined();
    expect(cache.get("h.p2.SIGNtwo", NOW_MS)).toMatchObject({ kid: "k2" });
    expect(cache.get("h.p2.SIGNone", NOW_MS)).toBeUndefined();
  });

  it("keeps at most maxEntries, forgetting the tokens not presented lately", () => {
    const cache = new VerifiedTokenCache<{ exp: number }>(3);
    for (const token of ["t1", "t2", "t3"]) cache.set(token, "k", { exp: NOW_S + 300 });
    expect(cache.get("t1", NOW_MS)).toBeDefined(); // t1 is now the most recent; t2 the oldest
    cache.set("t4", "k", { exp: NOW_S + 300 });
    expect(cache.size).toBe(3);
    expect(cache.get("t2", NOW_MS)).toBeUndefined();
    for (const token of ["t1", "t3", "t4"]) expect(cache.get(token, NOW_MS)).toBeDefined();
    for (let i = 0; i < 100; i++) cache.set(`x${i}`, "k", { exp: NOW_S + 300 });
    expect(cache.size).toBe(3);
  });

  it("stores nothing with a bound of zero, and refuses a negative bound", () => {
    const cache = new VerifiedTokenCache<{ exp: number }>(0);
    cache.set("t", "k", { exp: NOW_S + 300 });
    expect(cache.get("t", NOW_MS)).toBeUndefined();
    expect(() => new VerifiedTokenCache(-1)).toThrow(RangeError);
  });

  it("forgets on delete and clear", () => {
    const cache = new VerifiedTokenCache<{ exp: number }>(10);
    cache.set("t1", "k", { exp: NOW_S + 300 });
    cache.set("t2", "k", { exp: NOW_S + 300 });
    cache.delete("t1");
    expect(cache.get("t1", NOW_MS)).toBeUndefined();
    cache.clear();
    expect(cache.size).toBe(0);
  });
});
