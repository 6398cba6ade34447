import type { FastifyRequest } from "fastify";
import type { RequestMeta } from "../core/request-meta.js";

const MAX_USER_AGENT = 512;

export function requestMeta(request: FastifyRequest): RequestMeta {
  const userAgent = request.headers["user-agent"];
  return { ip: request.ip ?? null, userAgent: userAgent ? userAgent.slice(0, MAX_USER_AGENT) : null };
}
