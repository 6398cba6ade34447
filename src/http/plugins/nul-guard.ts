import type { FastifyInstance } from "fastify";
import { AppError } from "../../core/errors.js";

/** How deep a body is searched; the body limit keeps bodies small, the schemas keep them shallow. */
const MAX_DEPTH = 16;

function carriesNul(value: unknown, depth: number): boolean {
  if (typeof value === "string") return value.includes("\u0000");
  if (depth >= MAX_DEPTH || typeof value !== "object" || value === null) return false;
  if (Array.isArray(value)) return value.some((item) => carriesNul(item, depth + 1));
  for (const [key, item] of Object.entries(value)) {
    if (key.includes("\u0000") || carriesNul(item, depth + 1)) return true;
  }
  return false;
}

/**
 * No address, password, code, name or id needs the NUL character, and PostgreSQL's text cannot hold
 * it: a request with one in its path parameters, query or body is 400 INVALID_REQUEST before any
 * route sees it (the pages answer their own 400 page), on both databases alike.
 */
export function refuseNulCharacters(app: FastifyInstance): void {
  // A callback, not an async function: this runs on every request, and a promise a request costs.
  app.addHook("preValidation", (request, _reply, done) => {
    if (carriesNul(request.params, 0) || carriesNul(request.query, 0) || carriesNul(request.body, 0)) {
      done(new AppError("INVALID_REQUEST"));
      return;
    }
    done();
  });
}
