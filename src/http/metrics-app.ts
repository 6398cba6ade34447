import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
import type { Logger } from "pino";
import type { Metrics } from "../observability/metrics.js";
import { registerErrorHandling } from "./plugins/errors.js";

/**
 * The operators' listener: `GET /metrics` (Prometheus text) and nothing else. It stays off the API's
 * listener (§4) because some counters move only for known accounts (a reset mail is sent to a known
 * address only), which would tell a caller whether an account exists.
 */
export async function buildMetricsApp(metrics: Metrics, logger: Logger): Promise<FastifyInstance> {
  const app = Fastify({ loggerInstance: logger.child({ listener: "metrics" }) as FastifyBaseLogger });
  registerErrorHandling(app, () => {});
  // Scrapes come every few seconds: a request line for each would bury the API's requests, so the
  // route logs warnings and errors only.
  app.get("/metrics", { logLevel: "warn" }, async (_request, reply) => {
    const body = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(body);
  });
  return app;
}
