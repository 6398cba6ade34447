import type { FastifyInstance } from "fastify";
import type { Metrics } from "../../observability/metrics.js";

/** Counts every request and its latency by route pattern (never the raw URL: ids would explode labels). */
export function registerRequestMetrics(app: FastifyInstance, metrics: Metrics): void {
  app.addHook("onResponse", (request, reply, done) => {
    metrics.requests.record(
      request.routeOptions.url ?? "unmatched",
      request.method,
      reply.statusCode,
      reply.elapsedTime / 1000,
    );
    done();
  });
}
