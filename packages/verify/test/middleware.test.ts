import type { AddressInfo } from "node:net";
import express from "express";
import Fastify, { type FastifyInstance } from "fastify";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { post, signIn } from "../../../test/support/http.js";
import { createVerifier, expressLatchkey, fastifyLatchkey, latchkeyPreHandler, type Verifier } from "../src/index.js";
import { ISSUER, type Service, startService } from "./support.js";

const envelope = (message: string) => ({ statusCode: 401, error: "Unauthorized", message });

describe("the Fastify plugin and the Express middleware", () => {
  let service: Service;
  let verifier: Verifier;
  let access: string;
  let refresh: string;

  beforeEach(async () => {
    service = await startService();
    await service.t.createUser("alice@example.com");
    verifier = createVerifier({ issuer: ISSUER, url: service.url, clock: service.t.clock });
    ({ access, refresh } = await signIn(service.t, "alice@example.com"));
  });
  afterEach(async () => {
    await service.close();
  });

  /** The answers a protected route gives: none, garbage, the wrong kind, a good token. */
  async function expectProtected(call: (authorization?: string) => Promise<{ status: number; body: unknown }>) {
    expect(await call()).toEqual({ status: 401, body: envelope("NO_TOKEN_PROVIDED") });
    expect(await call("Basic YWxpY2U6cHc=")).toEqual({ status: 401, body: envelope("INVALID_TOKEN") });
    expect(await call("Bearer not-a-jwt")).toEqual({ status: 401, body: envelope("INVALID_TOKEN") });
    expect(await call(`Bearer ${refresh}`)).toEqual({ status: 401, body: envelope("WRONG_TOKEN_TYPE") });
    const userId = (await verifier.verify(access)).userId;
    expect(await call(`Bearer ${access}`)).toEqual({ status: 200, body: { userId } });
  }

  describe("fastifyLatchkey", () => {
    let api: FastifyInstance;
    beforeEach(async () => {
      api = Fastify();
      api.get("/health", async () => ({ ok: true }));
      await api.register(async (scope) => {
        await scope.register(fastifyLatchkey, { verifier });
        scope.get("/me", async (request) => ({ userId: request.latchkeyUser?.userId }));
      });
      await api.register(async (scope) => {
        await scope.register(fastifyLatchkey, { verifier, protect: false });
        scope.get("/open", async (request) => ({ user: request.latchkeyUser }));
        scope.get("/online", { preHandler: latchkeyPreHandler(verifier, { online: true }) }, async (request) => ({
          userId: request.latchkeyUser?.userId,
        }));
      });
      await api.ready();
    });
    afterEach(async () => {
      await api.close();
    });

    const inject = (url: string) => async (authorization?: string) => {
      const res = await api.inject({ method: "GET", url, headers: authorization ? { authorization } : {} });
      return { status: res.statusCode, body: res.json() };
    };

    it("protects the routes of the scope it is registered in, and only those", async () => {
      await expectProtected(inject("/me"));
      expect(await inject("/health")()).toEqual({ status: 200, body: { ok: true } });
      expect(await inject("/open")()).toEqual({ status: 200, body: { user: null } });
    });

    it("protects a single route with the preHandler, online: a logout is refused at once", async () => {
      await expectProtected(inject("/online"));
      expect((await post(service.t, "/auth/logout", refresh)).statusCode).toBe(204);
      expect(await inject("/online")(`Bearer ${access}`)).toEqual({ status: 401, body: envelope("TOKEN_REVOKED") });
      // The scope checked offline still lets the token through until it expires.
      expect((await inject("/me")(`Bearer ${access}`)).status).toBe(200);
    });

    it("answers 503 in the envelope when the key set is down", async () => {
      const down = createVerifier({
        issuer: ISSUER,
        url: service.url,
        fetch: () => Promise.reject(new TypeError("down")),
      });
      const app = Fastify();
      await app.register(fastifyLatchkey, { verifier: down });
      app.get("/me", async () => ({}));
      const res = await app.inject({ method: "GET", url: "/me", headers: { authorization: `Bearer ${access}` } });
      expect(res.statusCode).toBe(503);
      expect(res.json()).toEqual({ statusCode: 503, error: "Service unavailable", message: "JWKS_UNAVAILABLE" });
      await app.close();
    });
  });

  describe("expressLatchkey", () => {
    let base: string;
    let close: () => Promise<void>;
    beforeEach(async () => {
      const app = express();
      app.get("/health", (_req, res) => {
        res.json({ ok: true });
      });
      app.get("/me", expressLatchkey(verifier), (req, res) => {
        res.json({ userId: req.latchkeyUser?.userId });
      });
      const server = app.listen(0, "127.0.0.1");
      await new Promise<void>((resolve) => server.once("listening", () => resolve()));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      close = () => new Promise<void>((resolve, reject) => server.close((e) => (e ? reject(e) : resolve())));
    });
    afterEach(async () => {
      await close();
    });

    it("protects a route, leaving the others public", async () => {
      await expectProtected(async (authorization) => {
        const res = await fetch(`${base}/me`, { headers: authorization ? { authorization } : {} });
        return { status: res.status, body: await res.json() };
      });
      const health = await fetch(`${base}/health`);
      expect(await health.json()).toEqual({ ok: true });
    });
  });
});
