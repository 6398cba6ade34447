import type { Metric, MetricValue, MetricValueWithName, Registry } from "prom-client";

/** One route, method and status: its requests and their latencies. */
interface Tally {
  count: number;
  sum: number;
  /** Requests per bucket (not cumulative), the last one past the largest bound (+Inf). */
  buckets: number[];
}

type Labels = { route: string; method: string; status: string };

/**
 * Every request counted and timed by route pattern, method and status, for the two metrics
 * `<name>_requests_total` (a counter) and `<name>_request_duration_seconds` (a histogram).
 *
 * prom-client's own counter and histogram build a string of the labels to find the series on every
 * call, which at tens of thousands of requests a second is a measurable share of a node's time; this
 * finds it by route, method and status in nested maps (the route pattern and method are the same
 * strings every time) and formats the labels only when the metrics are read. What `/metrics` shows
 * is what prom-client's would: the same names, types, labels and buckets.
 */
export class RequestTally {
  readonly #tallies = new Map<string, Map<string, Map<number, Tally>>>();

  constructor(
    readonly prefix: string,
    readonly bounds: readonly number[],
  ) {}

  record(route: string, method: string, status: number, seconds: number): void {
    let byMethod = this.#tallies.get(route);
    if (byMethod === undefined) {
      byMethod = new Map();
      this.#tallies.set(route, byMethod);
    }
    let byStatus = byMethod.get(method);
    if (byStatus === undefined) {
      byStatus = new Map();
      byMethod.set(method, byStatus);
    }
    let tally = byStatus.get(status);
    if (tally === undefined) {
      tally = { count: 0, sum: 0, buckets: new Array<number>(this.bounds.length + 1).fill(0) };
      byStatus.set(status, tally);
    }
    tally.count += 1;
    tally.sum += seconds;
    let bucket = 0;
    while (bucket < this.bounds.length && seconds > (this.bounds[bucket] as number)) bucket++;
    tally.buckets[bucket] = (tally.buckets[bucket] as number) + 1;
  }

  /** Registers the counter and the histogram with `registry`. */
  register(registry: Registry): void {
    const counterName = `${this.prefix}_requests_total`;
    const histogramName = `${this.prefix}_request_duration_seconds`;
    const metric = (
      name: string,
      help: string,
      type: "counter" | "histogram",
      values: () => Array<MetricValue<string> | MetricValueWithName<string>>,
    ): Metric => {
      // What prom-client's registry reads of a metric: its name, help, type, aggregator and values.
      const get = async () => ({ name, help, type, aggregator: "sum", values: values() });
      return { name, help, type, aggregator: "sum", get, reset: () => this.#tallies.clear() } as unknown as Metric;
    };
    registry.registerMetric(
      metric(counterName, "HTTP requests by route, method and status.", "counter", () =>
        [...this.#series()].map(([labels, tally]) => ({ labels, value: tally.count })),
      ),
    );
    registry.registerMetric(
      metric(histogramName, "HTTP request latency by route, method and status.", "histogram", () => {
        const values: MetricValueWithName<string>[] = [];
        for (const [labels, tally] of this.#series()) {
          let cumulative = 0;
          for (const [index, count] of tally.buckets.entries()) {
            cumulative += count;
            const le = index < this.bounds.length ? (this.bounds[index] as number) : "+Inf";
            values.push({ metricName: `${histogramName}_bucket`, labels: { le, ...labels }, value: cumulative });
          }
          values.push({ metricName: `${histogramName}_sum`, labels, value: tally.sum });
          values.push({ metricName: `${histogramName}_count`, labels, value: tally.count });
        }
        return values;
      }),
    );
  }

  *#series(): Generator<[Labels, Tally]> {
    for (const [route, byMethod] of this.#tallies) {
      for (const [method, byStatus] of byMethod) {
        for (const [status, tally] of byStatus) yield [{ route, method, status: String(status) }, tally];
      }
    }
  }
}
