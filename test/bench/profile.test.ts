import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { summarizeProfile, writeFoldedStacks } from "../../bench/lib/profile.js";

/** root → handler → { query, (idle) }; root → (idle). */
const PROFILE = {
  nodes: [
    { id: 1, callFrame: { functionName: "(root)", url: "", lineNumber: -1 }, children: [2, 5] },
    {
      id: 2,
      callFrame: { functionName: "handler", url: "file:///app/routes/auth.js", lineNumber: 9 },
      children: [3, 4],
    },
    { id: 3, callFrame: { functionName: "query", url: "file:///app/store/sessions.js", lineNumber: 41 } },
    { id: 4, callFrame: { functionName: "", url: "file:///app/store/sessions.js", lineNumber: 99 } },
    { id: 5, callFrame: { functionName: "(idle)", url: "", lineNumber: -1 } },
  ],
  samples: [3, 3, 2, 4, 5, 5, 5, 3],
  timeDeltas: [100, 100, 100, 100, 100, 100, 100, 300],
};

describe("bench profile reading", () => {
  let dir: string;
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function write(): string {
    dir = mkdtempSync(join(tmpdir(), "lk-profile-"));
    const file = join(dir, "server.cpuprofile");
    writeFileSync(file, JSON.stringify(PROFILE));
    return file;
  }

  it("ranks functions by their own time and with their callees, and reports idle time", () => {
    const summary = summarizeProfile(write());
    // 1 000 µs sampled: query 500, handler 100 own, the anonymous function 100, idle 300.
    expect(summary.idle).toBeCloseTo(0.3);
    expect(summary.self).toEqual([
      { frame: "query store/sessions.js:42", share: 0.5 },
      { frame: "handler routes/auth.js:10", share: 0.1 },
      { frame: "(anonymous) store/sessions.js:100", share: 0.1 },
    ]);
    expect(summary.inclusive[0]).toEqual({ frame: "handler routes/auth.js:10", share: 0.7 });
  });

  it("writes folded stacks for a flame graph, one line per stack with its time", () => {
    const folded = writeFoldedStacks(write());
    expect(folded.endsWith("server.folded")).toBe(true);
    const lines = readFileSync(folded, "utf8").trim().split("\n").sort();
    expect(lines).toEqual([
      "(idle) 300",
      "handler routes/auth.js:10 100",
      "handler routes/auth.js:10;(anonymous) store/sessions.js:100 100",
      "handler routes/auth.js:10;query store/sessions.js:42 500",
    ]);
  });
});
