import type { FastifyInstance } from "fastify";
import type { Config } from "../../config/config.js";

/**
 * What the server logs of each request. Fastify's own two lines a request (on arrival and on
 * answer) are off: at the default level they halved the requests a node served. Instead:
 * - with `LATCHKEY_ACCESS_LOG=on`, one line when the answer has gone: method, the route's pattern
 *   (never the path's values or the query), status, milliseconds, client address — nothing a caller
 *   sent in a header or body;
 * - at `debug` and `trace`, a line on arrival too, to follow a request that never finishes.
 * Errors (5xx) keep their own line with the request id, whatever these settings.
 */
export function registerAccessLog(app: FastifyInstance, config: Pick<Config, "accessLog" | "logLevel">): void {
  if (config.logLevel === "debug" || config.logLevel === "trace") {
    app.addHook("onRequest", (request, _reply, done) => {
      request.log.debug({ method: request.method, route: request.routeOptions.url ?? null }, "incoming request");
      done();
    });
  }
  if (!config.accessLog) return;
  app.addHook("onResponse", (request, reply, done) => {
    request.log.info(
      {
        method: request.method,
        route: request.routeOptions.url ?? null,
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime * 10) / 10,
        ip: request.ip,
      },
      "request",
    );
    done();
  });
}
