import { describe, expect, it } from "vitest";
import { targetTable } from "../../bench/lib/targets.js";

describe("bench targets", () => {
  it("says per database which target was met, which was not, and which was not measured", () => {
    const table = targetTable([
      { database: "sqlite", validateRatio: 0.9012, validateP99Ms: 4, loginRatio: 0.8499, peakRssMb: 190.4 },
      { database: "postgres", validateRatio: 0.47, validateP99Ms: 5, peakRssMb: 200 },
    ]);
    expect(table).toEqual([
      "| target | sqlite | postgres |",
      "|---|---|---|",
      "| validate ≥ 0.6 × the bare route | 0.901 × (met) | 0.470 × (NOT met) |",
      "| validate p99 < 5 ms | 4 ms (met) | 5 ms (NOT met) |",
      "| login ≥ 0.85 × raw argon2id | 0.850 × (NOT met) | not measured |",
      "| server RSS < 200 MB under load | 190 MB (met) | 200 MB (NOT met) |",
    ]);
  });
});
