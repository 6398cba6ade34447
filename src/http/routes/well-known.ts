import type { FastifyPluginAsyncTypebox } from "@fastify/type-provider-typebox";
import { JWKS_MAX_AGE_SECONDS } from "../../core/tokens/signing-keys.js";
import type { Deps } from "../../deps.js";

/** Public keys and discovery, so other services verify access tokens offline (§2). */
export function wellKnownRoutes(deps: Deps): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.get(
      "/.well-known/jwks.json",
      { schema: { summary: "The public keys that verify Latchkey's tokens", tags: ["Discovery"] } },
      async (_request, reply) => {
        // A rotated key is published this long (and a reload) before it signs: see SigningKeys.
        reply.header("cache-control", `public, max-age=${JWKS_MAX_AGE_SECONDS}`);
        return deps.keys.jwks();
      },
    );
    // With the OpenID provider on, it answers discovery (src/oidc/routes.ts): the same issuer and keys, and its endpoints.
    if (deps.config.oidc.enabled) return;
    app.get(
      "/.well-known/openid-configuration",
      { schema: { summary: "Issuer and key set location", tags: ["Discovery"] } },
      async () => ({
        issuer: deps.config.issuer,
        jwks_uri: `${deps.config.issuer}/.well-known/jwks.json`,
        id_token_signing_alg_values_supported: ["EdDSA"],
        token_endpoint_auth_methods_supported: ["none"],
        response_types_supported: ["token"],
        subject_types_supported: ["public"],
      }),
    );
  };
}
