import type { FastifyInstance } from "fastify";
import { AppError } from "../../core/errors.js";
import { constantTimeEqual } from "../../platform/crypto.js";

/**
 * Every /admin call carries `Authorization: Bearer <LATCHKEY_ADMIN_TOKEN>`. The comparison hashes
 * both sides first, so its time does not depend on how much of the token was right.
 */
export function requireAdminToken(app: FastifyInstance, adminToken: string): void {
  app.addHook("onRequest", async (request) => {
    const header = request.headers.authorization ?? "";
    const match = /^Bearer[ ]+(\S+)[ ]*$/i.exec(header);
    const presented = match?.[1] ?? "";
    if (!constantTimeEqual(presented, adminToken)) throw new AppError("ADMIN_TOKEN_INVALID");
  });
}
