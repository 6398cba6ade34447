import { Counter, Histogram, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { RequestTally } from "./request-tally.js";

const BOUNDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/** The same requests through prom-client's own counter and histogram, as the reference. */
function reference(requests: Array<[string, string, number, number]>): Registry {
  const registry = new Registry();
  const labelNames = ["route", "method", "status"] as const;
  const counter = new Counter({
    name: "latchkey_http_requests_total",
    help: "HTTP requests by route, method and status.",
    labelNames,
    registers: [registry],
  });
  const histogram = new Histogram({
    name: "latchkey_http_request_duration_seconds",
    help: "HTTP request latency by route, method and status.",
    labelNames,
    buckets: BOUNDS,
    registers: [registry],
  });
  for (const [route, method, status, seconds] of requests) {
    counter.inc({ route, method, status: String(status) });
    histogram.observe({ route, method, status: String(status) }, seconds);
  }
  return registry;
}

describe("RequestTally", () => {
  it("exposes exactly what prom-client's counter and histogram expose for the same requests", async () => {
    const requests: Array<[string, string, number, number]> = [
      ["/auth/login", "POST", 200, 0.0123],
      ["/auth/login", "POST", 401, 0.0009],
      ["/auth/login", "POST", 200, 0.001], // on a bound: counted in that bucket (le)
      ["/user/2fa", "GET", 200, 0.0004],
      ["unmatched", "GET", 404, 3.2], // past the largest bound: +Inf only
      ["/auth/login", "GET", 405, 0.05],
    ];
    const registry = new Registry();
    const tally = new RequestTally("latchkey_http", BOUNDS);
    tally.register(registry);
    for (const [route, method, status, seconds] of requests) tally.record(route, method, status, seconds);
    const sorted = (text: string) => text.split("\n").filter(Boolean).sort();
    expect(sorted(await registry.metrics())).toEqual(sorted(await reference(requests).metrics()));
    // And as JSON, which is what a cluster aggregation reads.
    expect(await registry.getMetricsAsJSON()).toHaveLength(2);
  });

  it("forgets every series when the registry is reset", async () => {
    const registry = new Registry();
    const tally = new RequestTally("latchkey_http", BOUNDS);
    tally.register(registry);
    tally.record("/auth/login", "POST", 200, 0.01);
    expect(await registry.metrics()).toContain(
      'latchkey_http_requests_total{route="/auth/login",method="POST",status="200"} 1',
    );
    registry.resetMetrics();
    expect(await registry.metrics()).not.toContain("/auth/login");
  });
});
