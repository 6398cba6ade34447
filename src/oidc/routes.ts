import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { OIDC_PREFIX } from "./provider.js";
import type { OidcService } from "./service.js";

/**
 * The provider's routes: every path under /oidc but the interaction pages (which the hosted pages
 * answer), and discovery. Bodies reach the provider unread: it parses its own forms and JSON.
 */
export async function registerOidcRoutes(app: FastifyInstance, oidc: OidcService, issuer: string): Promise<void> {
  const { host, protocol } = new URL(issuer);
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser("*", (_request, _payload, done) => done(null, undefined));
    const forward = async (request: FastifyRequest, reply: FastifyReply) => {
      await oidc.ready();
      // The provider builds every URL it answers with from the request: it sees the issuer's host and
      // scheme whatever the Host header said, and the client address Latchkey settled on.
      const headers = request.raw.headers;
      headers.host = host;
      headers["x-forwarded-proto"] = protocol.slice(0, -1);
      headers["x-forwarded-for"] = request.ip;
      delete headers["x-forwarded-host"];
      delete headers["x-forwarded-port"];
      // Built (or rebuilt for new keys) before the reply is handed over, so a fault is answered.
      const handler = oidc.handler();
      reply.hijack();
      await handler(request.raw, reply.raw);
    };
    scope.route({
      method: ["GET", "POST", "OPTIONS"],
      url: `${OIDC_PREFIX}/*`,
      schema: { hide: true },
      handler: forward,
    });
    scope.get(
      "/.well-known/openid-configuration",
      {
        schema: {
          summary: "OpenID Provider metadata: issuer, endpoints, keys, what the provider supports",
          tags: ["Discovery"],
        },
      },
      forward,
    );
  });
}
