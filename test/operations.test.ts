import { afterEach, describe, expect, it } from "vitest";
import { buildMetricsApp } from "../src/http/metrics-app.js";
import { createTestApp, createTestDatabase, type TestApp, testDialects } from "./support/harness.js";
import { attemptLogin, get, login as login2fa, post } from "./support/http.js";
import { startSmtpSink } from "./support/smtp.js";
import { authenticateTotp, codeAt, enrolTotp } from "./two-factor/support.js";

const login = (t: TestApp, remoteAddress: string) =>
  t.app.inject({
    method: "POST",
    url: "/auth/login",
    remoteAddress,
    payload: { username: "alice@example.com", password: "Wrong7Horse" },
  });

/** A client address no other test uses, so counters in a shared Redis never mix. */
function freshAddress(): string {
  const n = () => Math.floor(Math.random() * 250) + 1;
  return `10.${n()}.${n()}.${n()}`;
}

/** A scrape of the node's metrics listener (the API's listener does not serve them). */
async function scrape(t: TestApp) {
  const metrics = await buildMetricsApp(t.deps.metrics, t.deps.logger);
  try {
    return await metrics.inject({ method: "GET", url: "/metrics" });
  } finally {
    await metrics.close();
  }
}

function redisUrl(): string | undefined {
  const url = process.env.LATCHKEY_TEST_REDIS_URL;
  if (!url && process.env.CI === "true") throw new Error("CI=true but LATCHKEY_TEST_REDIS_URL is not set");
  return url;
}

describe.each(testDialects())("operations on $name", (dialect) => {
  const apps: TestApp[] = [];
  const start = async (env: Record<string, string> = {}, database?: Awaited<ReturnType<typeof createTestDatabase>>) => {
    const t = await createTestApp(dialect, { env, ...(database ? { database } : {}) });
    apps.push(t);
    return t;
  };
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((t) => t.close()));
  });

  it("answers liveness, and readiness only while the database answers", async () => {
    const t = await start();
    expect((await get(t, "/health/live")).json()).toEqual({ status: "ok" });
    expect((await get(t, "/health/ready")).json()).toEqual({ status: "ready" });
    await t.deps.store.close();
    const down = await get(t, "/health/ready");
    expect(down.statusCode).toBe(503);
    expect(down.json()).toEqual({
      statusCode: 503,
      error: "Service unavailable",
      message: "SERVICE_UNAVAILABLE",
      retryAfter: 5,
    });
    expect(down.headers["retry-after"]).toBe("5");
  });

  it("answers 500 in the envelope, without detail, when the database is gone", async () => {
    const t = await start();
    await t.createUser("alice@example.com");
    await t.deps.store.close();
    const res = await login(t, freshAddress());
    expect(res.statusCode).toBe(500);
    expect(res.json()).toEqual({ statusCode: 500, error: "Internal server error", message: "INTERNAL_SERVER_ERROR" });
  });

  it("exposes Prometheus metrics: requests by route and status, logins, throttle refusals", async () => {
    const t = await start();
    await t.createUser("alice@example.com");
    const address = freshAddress();
    for (let i = 0; i < 6; i++) await login(t, address);
    await t.createUser("bob@example.com");
    expect((await attemptLogin(t, "bob@example.com")).statusCode).toBe(200);
    const res = await scrape(t);
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toMatch(/^text\/plain/);
    const text = res.body;
    expect(text).toMatch(/latchkey_http_requests_total\{route="\/auth\/login",method="POST",status="401"\} 5/);
    expect(text).toMatch(/latchkey_http_requests_total\{route="\/auth\/login",method="POST",status="429"\} 1/);
    expect(text).toMatch(/latchkey_throttle_refusals_total\{kind="TOO_MANY_FAILED_PASSWORD_CHECKS"\} 1/);
    expect(text).toMatch(/latchkey_logins_total\{outcome="succeeded"\} 1/);
    expect(text).toMatch(/latchkey_http_request_duration_seconds_bucket/);
  });

  it("counts mails by template and outcome, and second-factor checks by method", async () => {
    const smtp = await startSmtpSink();
    try {
      const t = await start({ LATCHKEY_SMTP_URL: smtp.url });
      const enrolled = await enrolTotp(t);
      await post(t, "/user/password/reset/send", undefined, { email: "alice@example.com" });
      await smtp.next();
      const partial = await login2fa(t, "alice@example.com");
      await authenticateTotp(t, partial, "000000");
      await authenticateTotp(t, partial, codeAt(enrolled.totp, t.clock.now()));
      const text = (await scrape(t)).body;
      expect(text).toMatch(/latchkey_mails_total\{template="password-reset",outcome="sent"\} 1/);
      expect(text).toMatch(/latchkey_second_factor_checks_total\{method="totp",outcome="failed"\} 1/);
      expect(text).toMatch(/latchkey_second_factor_checks_total\{method="totp",outcome="succeeded"\} 1/);
      expect(text).toMatch(/latchkey_logins_total\{outcome="partial"\} 1/);
    } finally {
      await Promise.all(apps.splice(0).map((t) => t.close()));
      await smtp.stop();
    }
  });

  it("limits each client address in front of the unauthenticated endpoints", async () => {
    const t = await start({ LATCHKEY_RATE_LIMIT_PER_MINUTE: "3", LATCHKEY_THROTTLE_FREE_FAILURES: "100" });
    const address = freshAddress();
    for (let i = 0; i < 3; i++) expect((await login(t, address)).statusCode).toBe(401);
    const refused = await login(t, address);
    expect(refused.statusCode).toBe(429);
    expect(refused.json()).toMatchObject({ statusCode: 429, error: "Too many requests", message: "TOO_MANY_REQUESTS" });
    expect(refused.json().retryAfter).toBeGreaterThan(0);
    expect(refused.headers["retry-after"]).toBe(String(refused.json().retryAfter));
    // Another address, and endpoints that need a token, are not limited by it.
    expect((await login(t, freshAddress())).statusCode).toBe(401);
    for (let i = 0; i < 5; i++) {
      const res = await t.app.inject({ method: "GET", url: "/auth/accesstoken/validate", remoteAddress: address });
      expect(res.statusCode).toBe(401);
    }
  });

  it("shares the per-address limit across two nodes through Redis", async () => {
    const url = redisUrl();
    if (!url) return expect(url).toBeUndefined(); // no Redis configured outside CI
    const database = await createTestDatabase(
      dialect,
      dialect.name === "sqlite" ? `${process.env.TMPDIR ?? "/tmp"}/lk-${freshAddress()}.db` : undefined,
    );
    try {
      const env = {
        LATCHKEY_RATE_LIMIT_PER_MINUTE: "4",
        LATCHKEY_THROTTLE_FREE_FAILURES: "100",
        LATCHKEY_REDIS_URL: url,
      };
      const a = await start(env, database);
      const b = await start(env, database);
      const address = freshAddress();
      expect((await login(a, address)).statusCode).toBe(401);
      expect((await login(b, address)).statusCode).toBe(401);
      expect((await login(a, address)).statusCode).toBe(401);
      expect((await login(b, address)).statusCode).toBe(401);
      expect((await login(a, address)).statusCode).toBe(429);
      expect((await login(b, address)).statusCode).toBe(429);
    } finally {
      await Promise.all(apps.splice(0).map((t) => t.close()));
      await database.drop();
    }
  });

  it("answers CORS preflights for the configured origins only", async () => {
    const t = await start({ LATCHKEY_CORS_ORIGINS: "https://app.example.com" });
    const preflight = (origin: string) =>
      t.app.inject({
        method: "OPTIONS",
        url: "/auth/login",
        headers: { origin, "access-control-request-method": "POST" },
      });
    const allowed = await preflight("https://app.example.com");
    expect(allowed.headers["access-control-allow-origin"]).toBe("https://app.example.com");
    expect(allowed.headers["access-control-allow-credentials"]).toBe("true");
    const other = await preflight("https://evil.example.com");
    expect(other.headers["access-control-allow-origin"]).toBeUndefined();
  });
});
