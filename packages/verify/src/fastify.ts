import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from "fastify";
import { errorEnvelope, InvalidTokenError, VerifyError } from "./errors.js";
import type { LatchkeyClaims, Verifier, VerifyOptions } from "./verifier.js";

declare module "fastify" {
  interface FastifyRequest {
    /** The verified access token's claims on a protected route; null elsewhere. */
    latchkeyUser: LatchkeyClaims | null;
  }
}

export interface FastifyLatchkeyOptions extends VerifyOptions {
  verifier: Verifier;
  /**
   * Protect every route of the scope the plugin is registered in with an onRequest hook (default
   * true). With false, the plugin only decorates the request: protect routes one by one with
   * `preHandler: latchkeyPreHandler(verifier)`.
   */
  protect?: boolean;
}

/** The answer for a refused token: 401 (503 when the keys or the service cannot be reached) in Latchkey's envelope. */
function refuse(reply: FastifyReply, error: unknown): FastifyReply {
  const refused = error instanceof VerifyError ? error : new InvalidTokenError({ cause: error });
  return reply.code(refused.status).send(errorEnvelope(refused));
}

/**
 * A hook (onRequest or preHandler) that lets through only requests with a good access token in
 * `Authorization: Bearer …`, and puts its claims in `request.latchkeyUser`.
 */
export function latchkeyPreHandler(
  verifier: Verifier,
  options: VerifyOptions = {},
): (request: FastifyRequest, reply: FastifyReply) => Promise<FastifyReply | undefined> {
  return async (request, reply) => {
    try {
      request.latchkeyUser = await verifier.verifyAuthorization(request.headers.authorization, options);
      return undefined;
    } catch (error) {
      return refuse(reply, error);
    }
  };
}

const plugin: FastifyPluginAsync<FastifyLatchkeyOptions> = async (fastify, options) => {
  if (!fastify.hasRequestDecorator("latchkeyUser")) fastify.decorateRequest("latchkeyUser", null);
  if (options.protect ?? true) {
    const { verifier, protect: _protect, ...verifyOptions } = options;
    fastify.addHook("onRequest", latchkeyPreHandler(verifier, verifyOptions));
  }
};

/**
 * The Fastify plugin. It is not encapsulated (as fastify-plugin would make it): registered inside a
 * scope, it protects that scope's routes and leaves the others public.
 */
export const fastifyLatchkey: FastifyPluginAsync<FastifyLatchkeyOptions> = Object.assign(plugin, {
  [Symbol.for("skip-override")]: true,
  [Symbol.for("fastify.display-name")]: "@latchkey/verify",
});
