import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { AppError, BadRequestError, type ErrorBody, type ErrorCode } from "../../core/errors.js";
import { isDatabaseUnreachable } from "../../storage/kysely/faults.js";

/** What a request the database could not answer is told: try again in a few seconds. */
export const DATABASE_RETRY_SECONDS = 5;

/** Fastify's own request-shape errors, mapped onto registry codes. */
const FASTIFY_CODES: Record<string, ErrorCode> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: "UNSUPPORTED_CONTENT_TYPE",
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: "INVALID_REQUEST",
  FST_ERR_CTP_EMPTY_JSON_BODY: "MALFORMED_JSON",
  FST_ERR_CTP_INVALID_JSON_BODY: "MALFORMED_JSON",
  FST_ERR_CTP_BODY_TOO_LARGE: "BODY_TOO_LARGE",
};

function send(reply: FastifyReply, body: ErrorBody): FastifyReply {
  if (body.retryAfter !== undefined) reply.header("retry-after", String(body.retryAfter));
  return reply.code(body.statusCode).type("application/json; charset=utf-8").send(body);
}

/**
 * What Fastify answers before any route or hook is found (its `frameworkErrors`): a path that is not
 * valid percent-encoding, or with a parameter over the router's limit (app.ts). Without this they
 * would leave in a shape of Fastify's own (the second as 414); they are 400 INVALID_REQUEST.
 */
export function answerFrameworkError(_error: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  send(reply, new AppError("INVALID_REQUEST").toBody());
}

/**
 * Every error leaves in the contract's envelope. 4xx say what was wrong; 5xx say only their code and
 * are logged with the request id (which the log line carries), never with a stack in the response.
 */
export function registerErrorHandling(app: FastifyInstance, onThrottled: (code: ErrorCode) => void): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof AppError) {
      // The rate limit counts its own refusals where it builds them.
      if (error.status === 429 && error.code !== "TOO_MANY_REQUESTS") onThrottled(error.code);
      if (error.status >= 500) request.log.error({ err: error.cause ?? error, code: error.code }, "request failed");
      return send(reply, error.toBody());
    }
    if (error instanceof BadRequestError) return send(reply, error.toBody());
    if (error.validation) {
      return send(reply, new BadRequestError(error.message).toBody());
    }
    const mapped = error.code ? FASTIFY_CODES[error.code] : undefined;
    if (mapped) return send(reply, new AppError(mapped).toBody());
    if (error instanceof SyntaxError && error.statusCode === 400)
      return send(reply, new AppError("MALFORMED_JSON").toBody());
    if (typeof error.statusCode === "number" && error.statusCode >= 400 && error.statusCode < 500) {
      request.log.info({ code: error.code }, "request refused");
      return send(reply, new AppError("INVALID_REQUEST").toBody());
    }
    if (isDatabaseUnreachable(error)) {
      request.log.error({ err: error }, "database does not answer");
      return send(reply, new AppError("SERVICE_UNAVAILABLE", { retryAfterSeconds: DATABASE_RETRY_SECONDS }).toBody());
    }
    request.log.error({ err: error }, "unexpected fault");
    return send(reply, new AppError("INTERNAL_SERVER_ERROR").toBody());
  });
}

/** The API's 404 (the hosted pages, when on, answer browsers with a page of their own instead). */
export function registerNotFound(app: FastifyInstance): void {
  app.setNotFoundHandler((_request, reply) => send(reply, new AppError("ROUTE_NOT_FOUND").toBody()));
}
