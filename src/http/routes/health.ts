import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { Type } from "@sinclair/typebox";
import { AppError } from "../../core/errors.js";
import type { Deps } from "../../deps.js";
import { DATABASE_RETRY_SECONDS } from "../plugins/errors.js";
import { errors } from "../schemas/common.js";

const Status = Type.Object({ status: Type.String() });
const tags = ["Operations"];

/** Liveness and readiness (the database answers). Metrics have a listener of their own (http/metrics-app.ts). */
export function healthRoutes(deps: Deps): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get(
      "/health/live",
      { schema: { summary: "The process is up", tags, response: { 200: Status } } },
      async () => ({ status: "ok" }),
    );
    app.get(
      "/health/ready",
      {
        schema: {
          summary: "The node can serve: its database answers",
          tags,
          response: { 200: Status, ...errors(503) },
        },
      },
      async (request) => {
        try {
          await deps.store.ping();
        } catch (error) {
          request.log.warn({ err: error }, "database does not answer");
          throw new AppError("SERVICE_UNAVAILABLE", { retryAfterSeconds: DATABASE_RETRY_SECONDS });
        }
        return { status: "ready" };
      },
    );
  };
}
