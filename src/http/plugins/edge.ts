import cors from "@fastify/cors";
import rateLimit from "@fastify/rate-limit";
import type { FastifyInstance } from "fastify";
import { Redis } from "ioredis";
import type { Config } from "../../config/config.js";
import { AppError } from "../../core/errors.js";
import type { Metrics } from "../../observability/metrics.js";
import type { Clock } from "../../platform/clock.js";
import { UNAUTHENTICATED_PAGE_ROUTES } from "../pages/plugin.js";
import { rateLimitStore } from "./rate-limit-store.js";

/** The endpoints anyone can call without a token: the per-address limit stands in front of them (§4). */
export const UNAUTHENTICATED_ROUTES: ReadonlySet<string> = new Set([
  "POST /auth/login",
  "POST /user/password/reset/send",
  "POST /user/password/reset/validate",
  "PUT /user/password/otp",
  "POST /user/invitation/accept",
  "POST /user/signup",
  "POST /user/signup/confirm",
  "POST /auth/passkey/challenge",
  "POST /auth/passkey/login",
  ...UNAUTHENTICATED_PAGE_ROUTES,
]);

/**
 * CORS and the per-client-address rate limit. With LATCHKEY_REDIS_URL the limit's counters live in
 * Redis and hold across nodes; while Redis does not answer, each node counts alone (rate-limit-store.ts).
 */
export async function registerEdge(
  app: FastifyInstance,
  config: Config,
  metrics: Metrics,
  clock: Clock,
): Promise<void> {
  if (config.corsOrigins.length > 0) {
    await app.register(cors, {
      origin: config.corsOrigins,
      credentials: true,
      // PATCH: a passkey's rename.
      methods: ["GET", "POST", "PUT", "PATCH", "DELETE"],
      allowedHeaders: ["authorization", "content-type"],
      exposedHeaders: ["retry-after"],
      maxAge: 600,
    });
  }
  const redis = config.redisUrl
    ? new Redis(config.redisUrl, {
        connectTimeout: 2000,
        maxRetriesPerRequest: 1,
        // A Redis that stops answering must not hold requests: the limit then counts on the node.
        commandTimeout: 500,
        enableOfflineQueue: false,
        lazyConnect: true,
      })
    : undefined;
  redis?.on("error", (error) => app.log.warn({ err: error }, "redis error"));
  // Connect before serving so the first requests are counted; a Redis that is down is reported and
  // retried in the background while the node serves.
  await redis?.connect().catch((error: unknown) => app.log.warn({ err: error }, "redis is not reachable"));
  if (redis) app.addHook("onClose", async () => void (await redis.quit().catch(() => redis.disconnect())));
  // Only the public endpoints get the limit's hook. Every other route is marked before the plugin sees
  // it, so a request there pays nothing for the limit (no key, allow-list call or awaits).
  app.addHook("onRoute", (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    if (methods.some((method) => UNAUTHENTICATED_ROUTES.has(`${method} ${route.url}`))) return;
    route.config = { ...route.config, rateLimit: false };
  });
  await app.register(rateLimit, {
    global: true,
    max: config.rateLimit.perMinute,
    timeWindow: 60_000,
    store: rateLimitStore(redis, clock, app.log),
    errorResponseBuilder: (_request, context) => {
      metrics.throttleRefusals.inc({ kind: "TOO_MANY_REQUESTS" });
      const error = new AppError("TOO_MANY_REQUESTS", {
        retryAfterSeconds: Math.max(1, Math.ceil(context.ttl / 1000)),
      });
      return Object.assign(error, { statusCode: 429 });
    },
  });
}
