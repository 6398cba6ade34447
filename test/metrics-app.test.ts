import { Writable } from "node:stream";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { buildMetricsApp } from "../src/http/metrics-app.js";
import { Metrics } from "../src/observability/metrics.js";

describe("the metrics listener's app", () => {
  it("serves a scrape without a log line for it, and without a deprecation warning", async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.message);
    process.on("warning", onWarning);
    try {
      const app = await buildMetricsApp(new Metrics(), pino({ level: "info" }, sink));
      const res = await app.inject({ method: "GET", url: "/metrics" });
      expect(res.statusCode).toBe(200);
      expect(res.body).toContain("latchkey_");
      await app.close();
      // Process warnings are emitted on the next tick.
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off("warning", onWarning);
    }
    expect(lines.filter((line) => line.includes("/metrics"))).toEqual([]);
    expect(warnings.filter((message) => message.includes("disableRequestLogging"))).toEqual([]);
  });
});
