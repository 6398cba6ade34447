import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { afterEach, describe, expect, it } from "vitest";
import { createTestApp, createTestDatabase, type TestApp, type TestDatabase, testDialects } from "./support/harness.js";
import { capturingLogger } from "./support/logs.js";
import { closedPort } from "./support/smtp.js";

const [sqlite] = testDialects();
const EMAIL = "alice@example.com";

const attempt = (t: TestApp, remoteAddress: string) =>
  t.app.inject({
    method: "POST",
    url: "/auth/login",
    remoteAddress,
    payload: { username: EMAIL, password: "Wrong7Horse" },
  });

async function statuses(t: TestApp, address: string, count: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < count; i++) out.push((await attempt(t, address)).statusCode);
  return out;
}

/** A Redis of the test's own, on a free loopback port, that the test can kill. */
async function startRedis(): Promise<{ url: string; process: ChildProcess }> {
  const port = await closedPort();
  const child = spawn(
    "redis-server",
    ["--bind", "127.0.0.1", "--port", String(port), "--save", "", "--appendonly", "no"],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  let output = "";
  await new Promise<void>((resolve, reject) => {
    child.stdout?.on("data", (chunk) => {
      output += String(chunk);
      if (output.includes("Ready to accept connections")) resolve();
    });
    child.once("exit", (code) => reject(new Error(`redis-server exited with ${code}: ${output}`)));
  });
  return { url: `redis://127.0.0.1:${port}`, process: child };
}

describe.runIf(sqlite !== undefined)("the per-address limit while Redis does not answer", () => {
  const apps: TestApp[] = [];
  let database: TestDatabase | undefined;
  let redis: ChildProcess | undefined;
  afterEach(async () => {
    for (const t of apps.splice(0)) await t.close();
    await database?.drop();
    database = undefined;
    redis?.kill("SIGKILL");
    redis = undefined;
  });

  async function node(env: Record<string, string>, logger = capturingLogger("info")) {
    if (!sqlite) throw new Error("no dialect");
    const t = await createTestApp(sqlite, {
      env: { LATCHKEY_RATE_LIMIT_PER_MINUTE: "3", LATCHKEY_THROTTLE_FREE_FAILURES: "100", ...env },
      logger: logger.logger,
      ...(database ? { database } : {}),
    });
    apps.push(t);
    return { t, logger };
  }

  it("counts on the node when Redis cannot be reached, and says so once", async () => {
    const { t, logger } = await node({ LATCHKEY_REDIS_URL: `redis://127.0.0.1:${await closedPort()}` });
    await t.createUser(EMAIL);
    expect(await statuses(t, "10.9.0.1", 5)).toEqual([401, 401, 401, 429, 429]);
    // Another address has a window of its own.
    expect(await statuses(t, "10.9.0.2", 1)).toEqual([401]);
    const warnings = logger.lines().filter((line) => String(line.msg).startsWith("redis is not answering"));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]?.level).toBe(40);
  });

  it("shares the limit through Redis, and each node counts alone once Redis is killed", async () => {
    if (!sqlite) throw new Error("no dialect");
    const server = await startRedis();
    redis = server.process;
    database = await createTestDatabase(
      sqlite,
      `${process.env.TMPDIR ?? "/tmp"}/lk-limit-${randomBytes(6).toString("hex")}.db`,
    );
    const a = await node({ LATCHKEY_REDIS_URL: server.url });
    const b = await node({ LATCHKEY_REDIS_URL: server.url });
    await a.t.createUser(EMAIL);
    const address = "10.9.1.1";
    // Shared: three attempts in all, whichever node takes them.
    expect([...(await statuses(a.t, address, 2)), ...(await statuses(b.t, address, 2))]).toEqual([401, 401, 401, 429]);

    const exited = once(server.process, "exit");
    server.process.kill("SIGKILL");
    await exited;
    redis = undefined;
    // Alone: each node's own window, from nothing; still limited, never unlimited.
    expect(await statuses(a.t, address, 4)).toEqual([401, 401, 401, 429]);
    expect(await statuses(b.t, address, 4)).toEqual([401, 401, 401, 429]);
    for (const { logger } of [a, b]) {
      expect(logger.lines().filter((line) => String(line.msg).startsWith("redis is not answering"))).toHaveLength(1);
    }
  });
});
