import { afterEach, describe, expect, it } from "vitest";
import { createTestApp, type TestApp, testDialects } from "./support/harness.js";
import { bearer, PASSWORD } from "./support/http.js";
import { capturingLogger } from "./support/logs.js";

describe.each(testDialects())("what a request logs on $name", (dialect) => {
  let t: TestApp | undefined;
  afterEach(async () => {
    await t?.close();
    t = undefined;
  });

  async function traffic(app: TestApp): Promise<{ sessionId: string }> {
    await app.createUser("alice@example.com", PASSWORD);
    const refresh = (
      await app.app.inject({
        method: "POST",
        url: "/auth/login?cookie=false",
        payload: { username: "alice@example.com", password: PASSWORD },
      })
    ).body;
    const access = (await app.app.inject({ method: "GET", url: "/auth/accesstoken", headers: bearer(refresh) })).body;
    await app.app.inject({ method: "GET", url: "/auth/accesstoken/validate", headers: bearer(access) });
    const sessions = await app.app.inject({ method: "GET", url: "/user/sessions", headers: bearer(access) });
    const sessionId: string = sessions.json().sessions[0].sessionId;
    await app.app.inject({ method: "DELETE", url: `/user/sessions/${sessionId}`, headers: bearer(access) });
    await app.app.inject({ method: "GET", url: "/nothing/here?secret=1" });
    return { sessionId };
  }

  it("writes no line for a request at the defaults (info, access log off), and Fastify warns of nothing", async () => {
    const captured = capturingLogger("info");
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.message);
    process.on("warning", onWarning);
    try {
      t = await createTestApp(dialect, { env: { LATCHKEY_LOG_LEVEL: "info" }, logger: captured.logger });
      // Process warnings are emitted on the next tick.
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off("warning", onWarning);
    }
    expect(warnings.filter((message) => message.includes("disableRequestLogging"))).toEqual([]);
    const before = captured.lines().length;
    await traffic(t);
    expect(captured.lines().slice(before)).toEqual([]);
  });

  it("with LATCHKEY_ACCESS_LOG=on, writes one line per answered request: method, route pattern, status, time, address", async () => {
    const captured = capturingLogger("info");
    t = await createTestApp(dialect, {
      env: { LATCHKEY_LOG_LEVEL: "info", LATCHKEY_ACCESS_LOG: "on" },
      logger: captured.logger,
    });
    const before = captured.lines().length;
    const { sessionId } = await traffic(t);
    const lines = captured.lines().slice(before);
    expect(lines.map((line) => [line.msg, line.method, line.route, line.status])).toEqual([
      ["request", "POST", "/auth/login", 200],
      ["request", "GET", "/auth/accesstoken", 200],
      ["request", "GET", "/auth/accesstoken/validate", 200],
      ["request", "GET", "/user/sessions", 200],
      ["request", "DELETE", "/user/sessions/:sessionId", 204],
      ["request", "GET", null, 404],
    ]);
    for (const line of lines) {
      expect(line.reqId).toMatch(/^[0-9a-f-]{36}$/);
      expect(line.ip).toBe("127.0.0.1");
      expect(typeof line.ms).toBe("number");
      expect(line.level).toBe(30);
    }
    // Neither the path's values nor the query are written.
    const text = JSON.stringify(lines);
    expect(text).not.toContain(sessionId);
    expect(text).not.toContain("secret");
    expect(text).not.toContain("cookie=false");
  });

  it("at debug, also writes a line when a request arrives", async () => {
    const captured = capturingLogger("debug");
    t = await createTestApp(dialect, { env: { LATCHKEY_LOG_LEVEL: "debug" }, logger: captured.logger });
    const before = captured.lines().length;
    await t.app.inject({ method: "GET", url: "/health/live" });
    const lines = captured.lines().slice(before);
    expect(lines.map((line) => [line.msg, line.method, line.route])).toEqual([
      ["incoming request", "GET", "/health/live"],
    ]);
  });
});
