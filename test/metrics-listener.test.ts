import { rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadConfig } from "../src/config/config.js";
import { ManualClock } from "../src/platform/clock.js";
import { type RunningNode, startNode } from "../src/server.js";
import {
  createTestDatabase,
  TEST_ENCRYPTION_KEYS,
  type TestDatabase,
  tempDir,
  testDialects,
  testHasher,
} from "./support/harness.js";
import { closedPort, type SmtpSink, startSmtpSink } from "./support/smtp.js";

const baseOf = (app: FastifyInstance) => `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;

/**
 * §4: the counters stay off the public listener. A node started as `npm start` starts it, with real
 * listening servers: /metrics on its own port, a 404 on the API's.
 */
describe.each(testDialects())("metrics listener on $name", (dialect) => {
  let dir: string;
  let database: TestDatabase;
  let smtp: SmtpSink;
  let node: RunningNode;
  let api: string;
  let metrics: string;

  beforeEach(async () => {
    dir = tempDir();
    database = await createTestDatabase(dialect, dialect.name === "sqlite" ? join(dir, "latchkey.db") : undefined);
    smtp = await startSmtpSink();
    node = await start({ LATCHKEY_SMTP_URL: smtp.url });
    await node.deps.store.createUser({
      email: "alice@example.com",
      passwordHash: await testHasher.hash("Correct7Horse"),
      createdAt: node.deps.clock.now(),
    });
    api = baseOf(node.app);
    if (!node.metricsApp) throw new Error("the metrics listener is on by default");
    metrics = baseOf(node.metricsApp);
  });
  afterEach(async () => {
    await node.stop();
    await smtp.stop();
    await database.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  const start = (env: Record<string, string>) => {
    const config = loadConfig({
      LATCHKEY_PORT: "0",
      LATCHKEY_METRICS_PORT: "0",
      LATCHKEY_ISSUER: "http://latchkey.test",
      LATCHKEY_LOG_LEVEL: "silent",
      LATCHKEY_ENCRYPTION_KEYS: TEST_ENCRYPTION_KEYS,
      LATCHKEY_DATA_DIR: dir,
      ...env,
    });
    return startNode(config, { store: database.store(), clock: new ManualClock(), hasher: testHasher });
  };
  const resetSend = (email: string) =>
    fetch(`${api}/user/password/reset/send`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ email }),
    });
  /** What a client sees of an answer: status, body and headers but the date and the limit's countdown. */
  const visible = async (res: Response) => {
    const headers = Object.fromEntries(
      [...res.headers].filter(([name]) => !["date", "x-ratelimit-remaining", "x-ratelimit-reset"].includes(name)),
    );
    return { status: res.status, headers, body: await res.text() };
  };

  it("serves the counters on the metrics port and answers 404 for /metrics on the API port", async () => {
    const login = await fetch(`${api}/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "alice@example.com", password: "Correct7Horse" }),
    });
    expect(login.status).toBe(200);
    const onApi = await fetch(`${api}/metrics`);
    expect(onApi.status).toBe(404);
    expect(await onApi.json()).toEqual({ statusCode: 404, error: "Not Found", message: "ROUTE_NOT_FOUND" });
    const scraped = await fetch(`${metrics}/metrics`);
    expect(scraped.status).toBe(200);
    expect(scraped.headers.get("content-type")).toMatch(/^text\/plain/);
    const text = await scraped.text();
    expect(text).toMatch(/latchkey_logins_total\{outcome="succeeded"\} 1/);
    expect(text).toMatch(/latchkey_http_requests_total\{route="\/auth\/login",method="POST",status="200"\} 1/);
    // The metrics listener serves nothing else, and the API's health endpoints stay where they were.
    expect((await fetch(`${metrics}/health/live`)).status).toBe(404);
    expect((await fetch(`${api}/health/live`)).status).toBe(200);
  });

  it("gives a reset/send to a known and to an unknown address the same answer on the API listener", async () => {
    const before = await visible(await fetch(`${api}/metrics`));
    const known = await visible(await resetSend("alice@example.com"));
    expect((await smtp.next()).to).toEqual(["alice@example.com"]);
    const unknown = await visible(await resetSend("nobody@example.com"));
    expect(known.status).toBe(204);
    expect(unknown).toEqual(known);
    const after = await visible(await fetch(`${api}/metrics`));
    expect(after).toEqual(before);
    expect(after.status).toBe(404);
    // The operator still sees the mail, on the listener only the operator reaches.
    const text = await (await fetch(`${metrics}/metrics`)).text();
    expect(text).toMatch(/latchkey_mails_total\{template="password-reset",outcome="sent"\} 1/);
  });

  it("closes both listeners on stop", async () => {
    await node.stop();
    await expect(fetch(`${api}/health/live`)).rejects.toThrow();
    await expect(fetch(`${metrics}/metrics`)).rejects.toThrow();
    node = { ...node, stop: async () => {} };
  });

  it("fails to start when the metrics port is taken, leaving no listener open", async () => {
    const port = await closedPort();
    const taken = new URL(metrics).port;
    await expect(start({ LATCHKEY_PORT: String(port), LATCHKEY_METRICS_PORT: taken })).rejects.toThrow(/EADDRINUSE/);
    await expect(fetch(`http://127.0.0.1:${port}/health/live`)).rejects.toThrow();
  });
});
