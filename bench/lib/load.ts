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
  /**
   * The varying part of each request (token, body): either a fixed list, built into request buffers
   * before the run and dealt out to the connections (request k goes to connection k mod connections,
   * which cycles over its share), or a function called for every request (for bodies that depend on
   * the moment, such as TOTP codes).
   */
  requests: readonly RequestShape[] | (() => RequestShape);
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

/** The share of a fixed list that connection `connection` of `connections` cycles over (never empty). */
export function shareOf<T>(list: readonly T[], connection: number, connections: number): T[] {
  if (list.length === 0) throw new Error("no requests");
  const share: T[] = [];
  for (let k = connection; k < Math.max(list.length, connections); k += connections) {
    share.push(list[k % list.length] as T);
  }
  return share;
}

async function run(spec: LoadSpec, durationSeconds: number): Promise<autocannon.Result> {
  const { method, path, requests } = spec;
  const common = { url: spec.url, connections: spec.connections, duration: durationSeconds };
  if (typeof requests === "function") {
    return autocannon({
      ...common,
      requests: [
        {
          method,
          path,
          setupRequest: (request) => {
            const shape = requests();
            const headers = { ...request.headers, ...shape.headers };
            return shape.body === undefined ? { ...request, headers } : { ...request, headers, body: shape.body };
          },
        },
      ],
    });
  }
  // A fixed list costs the load generator nothing per request: autocannon builds each connection's
  // requests once and then only writes the buffers. What it saves is taken off every measured
  // latency, on the baseline as on the scenarios.
  let connection = 0;
  return autocannon({
    ...common,
    setupClient: (client) => {
      const share = shareOf(requests, connection++, spec.connections);
      client.setRequests(share.map((shape) => ({ method, path, ...shape })));
    },
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
