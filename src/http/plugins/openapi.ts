import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import type { FastifyInstance } from "fastify";
import type { Config } from "../../config/config.js";

/** The OpenAPI 3.1 document, generated from the route schemas, at /openapi.json, and Swagger UI at /docs. */
export async function registerOpenApi(app: FastifyInstance, config: Config): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: "3.1.0",
      info: { title: "Latchkey", version: "0.1.0", description: "Self-hosted authentication service." },
      servers: [{ url: config.issuer }],
      tags: [
        { name: "Authentication", description: "Login, token rotation and validation." },
        { name: "User", description: "Two-factor methods, password and email, and the user's own sessions." },
        { name: "Discovery", description: "Public keys for offline verification." },
        { name: "Operations", description: "Health and readiness." },
        { name: "Admin", description: "User and OAuth client administration (Bearer LATCHKEY_ADMIN_TOKEN)." },
      ],
      components: {
        securitySchemes: {
          refreshToken: { type: "http", scheme: "bearer", bearerFormat: "JWT", description: "A refresh token." },
          accessToken: { type: "http", scheme: "bearer", bearerFormat: "JWT", description: "An access token." },
          sudoToken: { type: "http", scheme: "bearer", bearerFormat: "JWT", description: "A sudo token." },
          partialToken: { type: "http", scheme: "bearer", bearerFormat: "JWT", description: "A partial token." },
          adminToken: { type: "http", scheme: "bearer", description: "LATCHKEY_ADMIN_TOKEN." },
        },
      },
    },
  });
  await app.register(swaggerUi, { routePrefix: "/docs" });
  app.get("/openapi.json", { schema: { hide: true } }, async () => app.swagger());
}
