import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "../../../src/platform/clock.js";
import { closedPort } from "../../../test/support/smtp.js";
import {
  LatchkeyClient,
  LatchkeyError,
  MemoryStore,
  NetworkError,
  type StoredSession,
  UnexpectedResponseError,
} from "../src/index.js";
import { clientOf, PASSWORD, startService } from "./support.js";

/** A JWT-shaped token with the given claims; the signature is never checked client-side. */
function fakeToken(claims: Record<string, unknown>): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${part({ alg: "EdDSA" })}.${part(claims)}.c2ln`;
}

const clock = new ManualClock();
const nowSeconds = () => Math.floor(clock.now() / 1000);
/** A session whose access token has expired: the next call must renew it. */
const session = (): StoredSession => ({
  refreshToken: fakeToken({ typ: "refresh", iat: nowSeconds() - 600, exp: nowSeconds() + 86_400 }),
  accessToken: fakeToken({ typ: "access", iat: nowSeconds() - 600, exp: nowSeconds() - 300 }),
});

describe("bad answers and broken networks", () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => unhandled.push(reason);
  let server: Server;
  let base: string;
  let handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.end();
  const requests: string[] = [];

  beforeAll(async () => {
    process.on("unhandledRejection", onUnhandled);
    server = createServer((req, res) => {
      requests.push(`${req.method} ${req.url}`);
      handler(req, res);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    requests.length = 0;
    // Let any stray rejection reach the listener before checking it.
    await new Promise((resolve) => setImmediate(resolve));
    expect(unhandled).toEqual([]);
  });
  afterAll(async () => {
    process.off("unhandledRejection", onUnhandled);
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  async function clientWithSession(baseUrl: string) {
    const store = new MemoryStore();
    const stored = session();
    await store.save(stored);
    return { client: new LatchkeyClient({ baseUrl, store, clock }), store, stored };
  }

  it("a refused connection is a NetworkError and the stored session stays", async () => {
    const { client, store, stored } = await clientWithSession(`http://127.0.0.1:${await closedPort()}`);
    const error = await client.validateAccessToken().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NetworkError);
    expect(await store.load()).toEqual(stored);
    await expect(client.signIn("a@example.com", PASSWORD)).rejects.toBeInstanceOf(NetworkError);
  });

  it("a 5xx without the envelope is an UnexpectedResponseError and the stored session stays", async () => {
    handler = (_req, res) => {
      res.writeHead(502, { "content-type": "text/html" });
      res.end("<html><body>Bad Gateway</body></html>");
    };
    const { client, store, stored } = await clientWithSession(base);
    const error = await client.validateAccessToken().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnexpectedResponseError);
    expect(error).toMatchObject({ status: 502 });
    expect(await store.load()).toEqual(stored);
    expect(requests).toEqual(["GET /auth/refreshtoken"]);
  });

  it("a 500 in the envelope is a LatchkeyError with its code, and the stored session stays", async () => {
    handler = (_req, res) => {
      res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ statusCode: 500, error: "Internal server error", message: "INTERNAL_ERROR" }));
    };
    const { client, store, stored } = await clientWithSession(base);
    await expect(client.accessToken()).rejects.toMatchObject({ name: "LatchkeyError", code: "INTERNAL_ERROR" });
    expect(await store.load()).toEqual(stored);
  });

  it("a 200 that is not JSON is an UnexpectedResponseError", async () => {
    handler = (req, res) => {
      res.writeHead(200, { "content-type": "text/html" });
      // Tokens for the renewal, then a page where JSON was due.
      if (req.url === "/auth/refreshtoken") res.end(session().refreshToken);
      else if (req.url === "/auth/accesstoken")
        res.end(fakeToken({ typ: "access", iat: nowSeconds(), exp: nowSeconds() + 300 }));
      else res.end("<html>maintenance</html>");
    };
    const { client } = await clientWithSession(base);
    const error = await client.listSessions().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnexpectedResponseError);
    expect((error as Error).message).toContain("not JSON");
  });

  it("a token answer that is not a JWT is refused and nothing is stored", async () => {
    handler = (_req, res) => {
      res.writeHead(200, { "content-type": "text/plain" });
      res.end("definitely-not-a-jwt");
    };
    const store = new MemoryStore();
    const client = new LatchkeyClient({ baseUrl: base, store, clock });
    await expect(client.signIn("a@example.com", PASSWORD)).rejects.toBeInstanceOf(UnexpectedResponseError);
    expect(await store.load()).toBeUndefined();

    // A renewal answered so keeps the session it had.
    const withSession = await clientWithSession(base);
    await expect(withSession.client.accessToken()).rejects.toBeInstanceOf(UnexpectedResponseError);
    expect(await withSession.store.load()).toEqual(withSession.stored);
  });

  it("retries a 429 on a safe call once after retryAfter, and never on one that changes something", async () => {
    const waits: number[] = [];
    let throttled = true;
    handler = (req, res) => {
      if (throttled || req.method !== "GET") {
        throttled = false;
        res.writeHead(429, { "content-type": "application/json", "retry-after": "2" });
        res.end(
          JSON.stringify({ statusCode: 429, error: "Too many requests", message: "TOO_MANY_REQUESTS", retryAfter: 2 }),
        );
        return;
      }
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ duration: 0 }));
    };
    const client = new LatchkeyClient({
      baseUrl: base,
      store: new MemoryStore(),
      clock,
      sleep: async (ms) => {
        waits.push(ms);
      },
    });
    await client.store.save({
      refreshToken: session().refreshToken,
      accessToken: fakeToken({ typ: "access", iat: nowSeconds(), exp: nowSeconds() + 300 }),
    });
    expect(await client.totpNextGuess()).toEqual({ duration: 0 });
    expect(waits).toEqual([2000]);
    const error = await client.sendPasswordReset("a@example.com").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LatchkeyError);
    expect(error).toMatchObject({ code: "TOO_MANY_REQUESTS", status: 429, retryAfter: 2 });
    expect(waits).toEqual([2000]);
    expect(requests.filter((r) => r.startsWith("POST"))).toHaveLength(1);
  });

  it("a stored refresh token that is not a JWT is refused by the service; the session is kept", async () => {
    const service = await startService();
    try {
      const store = new MemoryStore();
      const stored = { refreshToken: "not-a-jwt" };
      await store.save(stored);
      const client = clientOf(service, { store });
      await expect(client.accessToken()).rejects.toMatchObject({ code: "INVALID_TOKEN", status: 401 });
      expect(await store.load()).toEqual(stored);
    } finally {
      await service.close();
    }
  });

  it("a session ended on the server leaves the store on the next renewal", async () => {
    const service = await startService();
    try {
      await service.t.createUser("ended@example.com", PASSWORD);
      const store = new MemoryStore();
      const client = clientOf(service, { store });
      await client.signIn("ended@example.com", PASSWORD);
      const other = clientOf(service, { store: new MemoryStore() });
      await other.store.save((await store.load()) ?? { refreshToken: "" });
      await other.signOut();
      await expect(client.accessToken()).rejects.toMatchObject({ code: "TOKEN_REVOKED" });
      expect(await store.load()).toBeUndefined();
    } finally {
      await service.close();
    }
  });
});
