/** Drives load with autocannon from the runner process (a process of its own, apart from the server). */
import autocannon from "autocannon";

export interface RequestShape {
  headers?: Record<string, string>;
  body?: string;
}

export interface LoadSpec {
  url: string;
  method: "GET" | "POST";
  path: string;
  connections: number;
  durationSeconds: number;
  warmupSeconds: number;
  /** Called for every request: the varying part (token, body). */
  next: () => RequestShape;
}

export interface LoadResult {
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  /** Responses by status code. */
  statuses: Record<string, number>;
  errors: number;
  timeouts: number;
}

async function run(spec: LoadSpec, durationSeconds: number): Promise<autocannon.Result> {
  return autocannon({
    url: spec.url,
    connections: spec.connections,
    duration: durationSeconds,
    requests: [
      {
        method: spec.method,
        path: spec.path,
        setupRequest: (request) => {
          const shape = spec.next();
          const headers = { ...request.headers, ...shape.headers };
          return shape.body === undefined ? { ...request, headers } : { ...request, headers, body: shape.body };
        },
      },
    ],
  });
}

export async function load(spec: LoadSpec): Promise<LoadResult> {
  if (spec.warmupSeconds > 0) await run(spec, spec.warmupSeconds);
  const result = await run(spec, spec.durationSeconds);
  const statuses: Record<string, number> = {};
  for (const [code, stats] of Object.entries(
    (result as unknown as { statusCodeStats: Record<string, { count: number }> }).statusCodeStats ?? {},
  )) {
    statuses[code] = stats.count;
  }
  const requests = Object.values(statuses).reduce((a, b) => a + b, 0);
  return {
    requestsPerSecond: requests / result.duration,
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    requests,
    statuses,
    errors: result.errors,
    timeouts: result.timeouts,
  };
}
