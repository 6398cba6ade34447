import cookie from "@fastify/cookie";
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { TypeBoxTypeProvider } from "@fastify/type-provider-typebox";
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
import type { Deps } from "./deps.js";
import { registerErrorHandling } from "./http/plugins/errors.js";
import { authRoutes } from "./http/routes/auth.js";
import { wellKnownRoutes } from "./http/routes/well-known.js";
import { ErrorResponse } from "./http/schemas/common.js";


/** Builds the HTTP application on top of ready dependencies. Never reads process.env. */
export async function buildApp(deps: Deps): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    bodyLimit: 64 * 1024,
    genReqId: () => deps.random.uuid(),
    ajv: {
      // Unknown body properties are rejected (§1), not silently dropped.
      customOptions: { removeAdditional: false, coerceTypes: "array", useDefaults: true },
    },
  }).withTypeProvider<TypeBoxTypeProvider>();

  // JSON only (§1): any other body type is refused with UNSUPPORTED_CONTENT_TYPE.
  app.removeContentTypeParser(["text/plain"]);
  app.addSchema(ErrorResponse);
  registerErrorHandling(app);
  await app.register(cookie);
  await app.register(swagger, {
    openapi: {
      openapi: "3.1.0",
      info: { title: "Latchkey", version: "0.1.0", description: "Self-hosted authentication service." },
      servers: [{ url: deps.config.issuer }],
      tags: [
        { name: "Authentication", description: "Login, token rotation and validation." },
        { name: "User", description: "Two-factor methods, password and email." },
        { name: "Discovery", description: "Public keys for offline verification." },
      ],
      components: {
        securitySchemes: {
          refreshToken: { type: "http", scheme: "bearer", bearerFormat: "JWT", description: "A refresh token." },
          accessToken: { type: "http", scheme: "bearer", bearerFormat: "JWT", description: "An access token." },
          sudoToken: { type: "http", scheme: "bearer", bearerFormat: "JWT", description: "A sudo token." },
          partialToken: { type: "http", scheme: "bearer", bearerFormat: "JWT", description: "A partial token." },
        },
      },
    },
  });
  await app.register(swaggerUi, { routePrefix: "/docs" });
  app.get("/openapi.json", { schema: { hide: true } }, async () => app.swagger());
  await app.register(wellKnownRoutes(deps));
  await app.register(authRoutes(deps));
  return app;
}
