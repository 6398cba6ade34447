import { describe, expect, it } from "vitest";
import { RecentMap } from "./recent-map.js";

describe("RecentMap", () => {
  it("never holds more than its bound, odd or even", () => {
    for (const max of [1, 2, 3, 4, 7, 10]) {
      const map = new RecentMap<number, number>(max);
      for (let i = 0; i < 50; i++) {
        map.set(i, i);
        expect(map.size).toBeLessThanOrEqual(max);
        // The entry just set is always there.
        expect(map.get(i)).toBe(i);
      }
      expect(map.size).toBeGreaterThanOrEqual(Math.ceil(max / 2));
    }
  });

  it("keeps an entry that is used while others come and go, and forgets the unused", () => {
    const map = new RecentMap<string, number>(10);
    map.set("kept", 0);
    map.set("unused", 1);
    for (let i = 0; i < 1000; i++) {
      map.set(`k${i}`, i);
      expect(map.get("kept")).toBe(0);
    }
    expect(map.get("unused")).toBeUndefined();
    expect(map.has("kept")).toBe(true);
  });

  it("drops an entry unused over two generations, keeps one used in the second", () => {
    const map = new RecentMap<string, number>(4);
    map.set("a", 1);
    map.set("b", 2);
    // The young generation is full: c starts a new one, a and b are the old.
    map.set("c", 3);
    expect(map.get("a")).toBe(1); // a moves to the young generation
    map.set("d", 4); // the young generation (c, a) is full: it becomes the old one, b is dropped
    expect(map.has("b")).toBe(false);
    expect([map.get("a"), map.get("c"), map.get("d")]).toEqual([1, 3, 4]);
  });

  it("replaces a value in either generation without growing", () => {
    const map = new RecentMap<string, string>(4);
    map.set("a", "1");
    map.set("b", "1");
    map.set("c", "1"); // a, b old; c young
    map.set("a", "2");
    map.set("c", "2");
    expect(map.size).toBe(3);
    expect([map.get("a"), map.get("b"), map.get("c")]).toEqual(["2", "1", "2"]);
  });

  it("deletes from either generation, clears, and lists every entry", () => {
    const map = new RecentMap<string, number>(4);
    for (const [i, key] of ["a", "b", "c"].entries()) map.set(key, i);
    expect(new Map(map.entries())).toEqual(
      new Map([
        ["a", 0],
        ["b", 1],
        ["c", 2],
      ]),
    );
    expect(map.delete("a")).toBe(true);
    expect(map.delete("c")).toBe(true);
    expect(map.delete("missing")).toBe(false);
    expect([...map.entries()]).toEqual([["b", 1]]);
    map.clear();
    expect(map.size).toBe(0);
    expect(map.get("b")).toBeUndefined();
  });

  it("stores nothing with a bound of zero and refuses a bound that is not a whole number ≥ 0", () => {
    const map = new RecentMap<string, number>(0);
    map.set("a", 1);
    expect(map.size).toBe(0);
    expect(map.get("a")).toBeUndefined();
    for (const bad of [-1, 1.5, Number.NaN]) expect(() => new RecentMap(bad)).toThrow(RangeError);
  });
});
