import { describe, expect, it } from "vitest";
import { shareOf } from "../../bench/lib/load.js";

describe("the load generator's fixed requests", () => {
  it("deals every request to exactly one connection when there are more requests than connections", () => {
    const list = Array.from({ length: 10 }, (_, k) => k);
    const shares = [0, 1, 2].map((c) => shareOf(list, c, 3));
    expect(shares).toEqual([
      [0, 3, 6, 9],
      [1, 4, 7],
      [2, 5, 8],
    ]);
    expect(shares.flat().sort((a, b) => a - b)).toEqual(list);
  });

  it("gives every connection at least one request when there are fewer requests than connections", () => {
    const shares = [0, 1, 2, 3, 4].map((c) => shareOf(["a", "b"], c, 5));
    expect(shares).toEqual([["a"], ["b"], ["a"], ["b"], ["a"]]);
  });

  it("refuses an empty list", () => {
    expect(() => shareOf([], 0, 4)).toThrow("no requests");
  });
});
