// A small API behind Latchkey: `GET /me` answers the caller's user id, for an access token only.
//
//   LATCHKEY_URL=http://127.0.0.1:8080 PORT=3001 npx tsx examples/protected-api/server.ts
//   curl -H "Authorization: Bearer $ACCESS_TOKEN" http://127.0.0.1:3001/me
//
// In an application of your own, import from "@latchkey/verify" instead of the package's source.
import { pathToFileURL } from "node:url";
import Fastify, { type FastifyInstance } from "fastify";
import { createVerifier, fastifyLatchkey, type VerifierOptions } from "../../packages/verify/src/index.js";

export interface ProtectedApiOptions {
  /** Where Latchkey answers: its key set and, with `online`, its validate endpoint. */
  latchkeyUrl: string;
  /** The issuer in Latchkey's tokens (its LATCHKEY_ISSUER); the URL unless given. */
  issuer?: string;
  /** Ask Latchkey on every request, so a logout counts at once. */
  online?: boolean;
  /** Anything else the verifier takes (a clock, a fetch, a clock tolerance). */
  verifier?: Partial<VerifierOptions>;
}

export async function buildProtectedApi(options: ProtectedApiOptions): Promise<FastifyInstance> {
  const verifier = createVerifier({
    issuer: options.issuer ?? options.latchkeyUrl,
    url: options.latchkeyUrl,
    online: options.online ?? false,
    ...options.verifier,
  });
  const app = Fastify();
  app.get("/health", async () => ({ ok: true }));
  // Every route registered in this scope needs an access token; the others stay public.
  await app.register(async (scope) => {
    await scope.register(fastifyLatchkey, { verifier });
    scope.get("/me", async (request) => ({ userId: request.latchkeyUser?.userId }));
  });
  return app;
}

async function main(): Promise<void> {
  const latchkeyUrl = process.env.LATCHKEY_URL ?? "http://127.0.0.1:8080";
  const app = await buildProtectedApi({
    latchkeyUrl,
    ...(process.env.LATCHKEY_ISSUER ? { issuer: process.env.LATCHKEY_ISSUER } : {}),
    online: process.env.LATCHKEY_ONLINE === "true",
  });
  const address = await app.listen({ host: process.env.HOST ?? "127.0.0.1", port: Number(process.env.PORT ?? 3001) });
  console.log(`protected API listening on ${address} (Latchkey at ${latchkeyUrl})`);
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      void app.close();
    });
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
