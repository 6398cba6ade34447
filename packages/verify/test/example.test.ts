import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { buildProtectedApi } from "../../../examples/protected-api/server.js";
import { ManualClock } from "../../../src/platform/clock.js";
import { post, signIn } from "../../../test/support/http.js";
import { ISSUER, type Service, startService } from "./support.js";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

describe("examples/protected-api", () => {
  let service: Service;
  let child: ChildProcessWithoutNullStreams | undefined;

  afterEach(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child?.once("exit", resolve));
      child.kill("SIGTERM");
      await exited;
    }
    child = undefined;
    await service.close();
  });

  describe("in-process", () => {
    beforeEach(async () => {
      service = await startService();
      await service.t.createUser("alice@example.com");
    });

    it("answers /me with the user id for an access token, 401 otherwise", async () => {
      const api = await buildProtectedApi({
        latchkeyUrl: service.url,
        issuer: ISSUER,
        online: true,
        verifier: { clock: service.t.clock },
      });
      const me = (token?: string) =>
        api.inject({ method: "GET", url: "/me", headers: token ? { authorization: `Bearer ${token}` } : {} });
      const { refresh, access } = await signIn(service.t, "alice@example.com");
      const ok = await me(access);
      expect(ok.statusCode).toBe(200);
      expect(ok.json()).toEqual({ userId: 1 });
      expect((await me()).json()).toEqual({ statusCode: 401, error: "Unauthorized", message: "NO_TOKEN_PROVIDED" });
      expect((await me(refresh)).json()).toEqual({
        statusCode: 401,
        error: "Unauthorized",
        message: "WRONG_TOKEN_TYPE",
      });
      expect((await post(service.t, "/auth/logout", refresh)).statusCode).toBe(204);
      expect((await me(access)).json()).toEqual({ statusCode: 401, error: "Unauthorized", message: "TOKEN_REVOKED" });
      expect((await api.inject({ method: "GET", url: "/health" })).json()).toEqual({ ok: true });
      await api.close();
    });
  });

  describe("as a child process run with tsx", () => {
    beforeEach(async () => {
      // The child checks expiry on the system clock: the service's clock starts there (and stays).
      service = await startService(new ManualClock(Date.now()));
      await service.t.createUser("alice@example.com");
    });

    it("listens on PORT and protects /me", async () => {
      child = spawn(process.execPath, ["--import", "tsx", "examples/protected-api/server.ts"], {
        cwd: ROOT,
        env: { ...process.env, PORT: "0", LATCHKEY_URL: service.url, LATCHKEY_ISSUER: ISSUER },
      });
      const running = child;
      const base = await new Promise<string>((resolve, reject) => {
        let out = "";
        running.stdout.on("data", (chunk: Buffer) => {
          out += chunk.toString("utf8");
          const match = /listening on (\S+) /.exec(out);
          if (match?.[1]) resolve(match[1]);
        });
        running.once("exit", (code) => reject(new Error(`example exited with ${code}: ${out}`)));
      });
      const { access } = await signIn(service.t, "alice@example.com");
      const ok = await fetch(`${base}/me`, { headers: { authorization: `Bearer ${access}` } });
      expect(ok.status).toBe(200);
      expect(await ok.json()).toEqual({ userId: 1 });
      const refused = await fetch(`${base}/me`, { headers: { authorization: "Bearer garbage" } });
      expect(refused.status).toBe(401);
      expect(await refused.json()).toEqual({ statusCode: 401, error: "Unauthorized", message: "INVALID_TOKEN" });
    });
  });
});
