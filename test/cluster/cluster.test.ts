import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { testDialects } from "../support/harness.js";
import { codeOf, type SmtpSink, startSmtpSink } from "../support/smtp.js";
import { authenticatorFrom, codeAt } from "../two-factor/support.js";
import {
  ADMIN_TOKEN,
  buildServer,
  call,
  createSchema,
  eventually,
  type Node,
  runCommand,
  startNginx,
  startNode,
  startRelay,
  throughRelay,
} from "./nodes.js";

/**
 * Three nodes started from the build, as `npm start` starts them, on one PostgreSQL schema and one
 * Redis, driven over HTTP only: what one node does holds on the others.
 */
const postgres = testDialects().find((d) => d.name === "postgres");
const redisUrl = process.env.LATCHKEY_TEST_REDIS_URL;
if (process.env.CI === "true" && !redisUrl) throw new Error("CI=true but LATCHKEY_TEST_REDIS_URL is not set");
const PASSWORD = "Correct7Horse";
/** Debian's nginx, for the sample configuration of docs/operations.md (.ci/run installs it). */
const nginx = process.env.LATCHKEY_TEST_NGINX;
if (process.env.CI === "true" && !nginx) throw new Error("CI=true but LATCHKEY_TEST_NGINX is not set");
/** How often the nodes read the signing keys again (LATCHKEY_KEY_RELOAD_SECONDS): the bound a rotation meets. */
const KEY_RELOAD_SECONDS = 2;

describe.runIf(postgres !== undefined && redisUrl !== undefined)("three nodes, one database", () => {
  let nodes: Node[] = [];
  let schema: Awaited<ReturnType<typeof createSchema>>;
  let smtp: SmtpSink;
  let users = 0;

  beforeAll(async () => {
    if (!postgres || !redisUrl) throw new Error("no database");
    await buildServer();
    schema = await createSchema(postgres.url);
    smtp = await startSmtpSink();
    const env = {
      LATCHKEY_DATABASE_URL: schema.url,
      LATCHKEY_REDIS_URL: redisUrl,
      LATCHKEY_SMTP_URL: smtp.url,
      LATCHKEY_RATE_LIMIT_PER_MINUTE: "1000",
      LATCHKEY_KEY_RELOAD_SECONDS: String(KEY_RELOAD_SECONDS),
    };
    // Started at the same moment on an empty schema: the migrations run once, every node serves.
    nodes = await Promise.all(["a", "b", "c"].map((name) => startNode(name, env)));
  }, 240_000);
  afterAll(async () => {
    await Promise.all(nodes.map((node) => node.stop()));
    await smtp?.stop();
    await schema?.drop();
  });

  const node = (i: number): Node => {
    const found = nodes[i % nodes.length];
    if (!found) throw new Error("no node");
    return found;
  };

  /** A new account, made through the admin API of one node. */
  async function newUser(): Promise<{ email: string; id: number }> {
    users++;
    const email = `user${users}@example.com`;
    const res = await call(node(users), "POST", "/admin/users", {
      token: ADMIN_TOKEN,
      body: { email, password: PASSWORD },
    });
    expect(res.status, res.body).toBe(201);
    return { email, id: Number(res.json().id ?? res.json().userId) };
  }

  async function signIn(on: Node, email: string, password = PASSWORD): Promise<{ refresh: string; access: string }> {
    const login = await call(on, "POST", "/auth/login", { body: { username: email, password } });
    expect(login.status, login.body).toBe(200);
    const access = await call(on, "GET", "/auth/accesstoken", { token: login.body });
    expect(access.status, access.body).toBe(200);
    return { refresh: login.body, access: access.body };
  }

  const validate = (on: Node, access: string) => call(on, "GET", "/auth/accesstoken/validate", { token: access });

  it("migrated once though the three started together, and each has the same signing keys", async () => {
    const client = new pg.Client({ connectionString: schema.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ name: string; n: string }>(
        "select name, count(*) as n from kysely_migration group by name having count(*) > 1",
      );
      expect(rows).toEqual([]);
      const keys = await client.query<{ n: string }>("select count(*) as n from signing_keys");
      expect(Number(keys.rows[0]?.n)).toBeGreaterThanOrEqual(1);
    } finally {
      await client.end();
    }
    const jwks = await Promise.all(nodes.map((n) => call(n, "GET", "/.well-known/jwks.json")));
    expect(new Set(jwks.map((res) => res.body)).size).toBe(1);
  });

  it("validates on every node the tokens another signed", async () => {
    const { email } = await newUser();
    for (const signer of nodes) {
      const { access } = await signIn(signer, email);
      for (const checker of nodes) expect((await validate(checker, access)).status).toBe(200);
    }
  });

  /** Asks `on` until it refuses `access` (nodes keeping statuses refuse once the notice is in). */
  async function refusedBy(on: Node, access: string): Promise<{ message: string }> {
    const res = await eventually(async () => {
      const answer = await validate(on, access);
      return answer.status === 200 ? undefined : answer;
    }, 2_000);
    expect(res.status).toBe(401);
    return res.json() as { message: string };
  }

  it("refuses on the others a logout, an admin's disable and a password change made on one", async () => {
    // The nodes run at the default: they keep the statuses they read, here all of them, and drop
    // them on the database's notices.
    const { email, id } = await newUser();
    const first = await signIn(node(0), email);
    for (const each of nodes) expect((await validate(each, first.access)).status).toBe(200);
    expect((await call(node(0), "POST", "/auth/logout", { token: first.refresh })).status).toBe(204);
    for (const other of [node(1), node(2)])
      expect((await refusedBy(other, first.access)).message).toBe("TOKEN_REVOKED");

    const second = await signIn(node(1), email);
    for (const each of nodes) expect((await validate(each, second.access)).status).toBe(200);
    const disabled = await call(node(1), "POST", `/admin/users/${id}/disable`, { token: ADMIN_TOKEN, body: {} });
    expect(disabled.status, disabled.body).toBeLessThan(300);
    for (const other of [node(0), node(2)])
      expect((await refusedBy(other, second.access)).message).toBe("ACCOUNT_DISABLED");
    expect(
      (await call(node(2), "POST", `/admin/users/${id}/enable`, { token: ADMIN_TOKEN, body: {} })).status,
    ).toBeLessThan(300);

    const kept = await signIn(node(2), email);
    const ended = await signIn(node(0), email);
    for (const each of nodes) expect((await validate(each, ended.access)).status).toBe(200);
    const change = await call(node(2), "PUT", "/user/password/old-password", {
      token: kept.access,
      body: { oldPassword: PASSWORD, newPassword: "Fresh9Lantern" },
    });
    expect(change.status, change.body).toBe(204);
    for (const other of [node(0), node(1)]) {
      expect((await refusedBy(other, ended.access)).message).toBe("TOKEN_REVOKED");
      expect((await validate(other, kept.access)).status).toBe(200);
    }
  });

  it("gives one refresh token's rotation, raced on three nodes, one successor", async () => {
    const { email } = await newUser();
    const { refresh } = await signIn(node(0), email);
    const answers = await Promise.all(nodes.map((n) => call(n, "GET", "/auth/refreshtoken", { token: refresh })));
    const ok = answers.filter((res) => res.status === 200);
    expect(ok.length).toBeGreaterThanOrEqual(1);
    // Concurrent rotations within the grace get the same successor: one chain.
    expect(new Set(ok.map((res) => res.body)).size).toBe(1);
    const client = new pg.Client({ connectionString: schema.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ n: string }>(
        `select count(*) as n from refresh_tokens r join sessions s on s.id = r.session_id
         join users u on u.id = s.user_id where u.email = $1 and r.used_at is null`,
        [email],
      );
      expect(Number(rows[0]?.n)).toBe(1);
    } finally {
      await client.end();
    }
  });

  it("accepts one TOTP code, one recovery code and one mailed code once, raced on three nodes", async () => {
    const { email } = await newUser();
    const { access } = await signIn(node(0), email);
    const setup = await call(node(0), "POST", "/user/2fa/totp/setup", { token: access, body: {} });
    const totp = authenticatorFrom(String(setup.json().url));
    const enable = await call(node(1), "POST", "/user/2fa/totp/enable", {
      token: access,
      body: { totp: codeAt(totp, Date.now()) },
    });
    expect(enable.status, enable.body).toBe(200);
    const recoveryCodes = enable.json().recoveryCodes as string[];

    const partial = async () => {
      const res = await call(node(2), "POST", "/auth/login", { body: { username: email, password: PASSWORD } });
      expect(res.status, res.body).toBe(200);
      return res.body;
    };
    // The next step's code, unused: sent to every node at once, for three sign-ins.
    const code = codeAt(totp, Date.now() + 30_000);
    const tokens = await Promise.all(nodes.map(() => partial()));
    const totpRace = await Promise.all(
      nodes.map((n, i) => call(n, "POST", "/user/2fa/totp/authenticate", { token: tokens[i], body: { totp: code } })),
    );
    expect(totpRace.map((res) => res.status).sort()).toEqual([200, 401, 401]);

    const recovery = recoveryCodes[0];
    const more = await Promise.all(nodes.map(() => partial()));
    const recoveryRace = await Promise.all(
      nodes.map((n, i) =>
        call(n, "POST", "/user/2fa/recovery-code/authenticate", { token: more[i], body: { recoveryCode: recovery } }),
      ),
    );
    expect(recoveryRace.map((res) => res.status).sort()).toEqual([200, 401, 401]);

    // A password reset code, mailed once, checked by all three at once.
    const other = await newUser();
    const sent = await call(node(0), "POST", "/user/password/reset/send", { body: { email: other.email } });
    expect(sent.status, sent.body).toBe(204);
    // The mail that answered it (notices of the earlier tests come first).
    let mail = await smtp.next();
    while (!mail.to.includes(other.email)) mail = await smtp.next();
    const mailed = codeOf(mail);
    const resetRace = await Promise.all(
      nodes.map((n, i) =>
        call(n, "PUT", "/user/password/otp", {
          body: { userEmail: other.email, otp: mailed, newPassword: `Fresh9Lantern${i}` },
        }),
      ),
    );
    expect(resetRace.filter((res) => res.status === 204)).toHaveLength(1);
  });

  it("loses nothing it acknowledged when a node is killed under load; the others answer meanwhile; it restarts and serves", async () => {
    const env = {
      LATCHKEY_DATABASE_URL: schema.url,
      LATCHKEY_REDIS_URL: redisUrl ?? "",
      LATCHKEY_SMTP_URL: smtp.url,
      LATCHKEY_RATE_LIMIT_PER_MINUTE: "100000",
    };
    let victim = await startNode("d", env);
    const accounts = await Promise.all([1, 2, 3, 4, 5, 6].map(() => newUser()));
    const claims = (token: string) =>
      JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString("utf8")) as { sid: string; jti: string };
    const acked = { sessions: [] as string[], refreshJtis: [] as string[], totpUsers: [] as number[] };
    const passwords = new Map(accounts.map((a) => [a.email, { acked: PASSWORD, sent: PASSWORD }]));
    let dead = false;
    let done = 0;
    let killed: Promise<void> | undefined;

    // Each account's loop on the victim: login, refresh, TOTP setup, password change — until the node dies.
    const work = async (account: { email: string; id: number }) => {
      const password = passwords.get(account.email);
      if (!password) throw new Error("no password");
      for (let round = 0; !dead; round++) {
        try {
          const login = await call(victim, "POST", "/auth/login", {
            body: { username: account.email, password: password.acked },
          });
          if (login.status !== 200) throw new Error(`login ${login.status} ${login.body}`);
          acked.sessions.push(claims(login.body).sid);
          const rotated = await call(victim, "GET", "/auth/refreshtoken", { token: login.body });
          if (rotated.status !== 200) throw new Error(`refresh ${rotated.status}`);
          acked.refreshJtis.push(claims(rotated.body).jti);
          const access = await call(victim, "GET", "/auth/accesstoken", { token: rotated.body });
          const setup = await call(victim, "POST", "/user/2fa/totp/setup", { token: access.body, body: {} });
          if (setup.status === 200) acked.totpUsers.push(account.id);
          password.sent = `Fresh9Lantern${round}`;
          const change = await call(victim, "PUT", "/user/password/old-password", {
            token: access.body,
            body: { oldPassword: password.acked, newPassword: password.sent },
          });
          if (change.status === 204) password.acked = password.sent;
          done++;
          if (done >= 12 && killed === undefined) killed = victim.stop("SIGKILL");
        } catch (error) {
          // Once the kill is on its way, a request cut off is expected (and was not acknowledged).
          if (killed === undefined) throw error;
          return;
        }
      }
    };
    // The other nodes, asked all along: every question answered.
    const watch = async () => {
      const answers: number[] = [];
      while (!dead) {
        for (const other of nodes) answers.push((await call(other, "GET", "/health/ready")).status);
      }
      return answers;
    };
    victim.process.once("exit", () => {
      dead = true;
    });
    const watching = watch();
    await Promise.all(accounts.map((account) => work(account)));
    await killed;
    const answers = await watching;
    expect(answers.length).toBeGreaterThan(0);
    expect(new Set(answers)).toEqual(new Set([200]));

    const client = new pg.Client({ connectionString: schema.url });
    await client.connect();
    try {
      const sessions = await client.query<{ id: string }>("select id from sessions where id = any($1)", [
        acked.sessions,
      ]);
      expect(sessions.rows.length).toBe(new Set(acked.sessions).size);
      const jtis = await client.query<{ jti: string }>("select jti from refresh_tokens where jti = any($1)", [
        acked.refreshJtis,
      ]);
      expect(jtis.rows.length).toBe(new Set(acked.refreshJtis).size);
      const totp = await client.query<{ user_id: number }>(
        "select user_id from user_totp where user_id = any($1) and pending_secret_enc is not null",
        [acked.totpUsers],
      );
      expect(totp.rows.length).toBe(new Set(acked.totpUsers).size);
      const forked = await client.query(
        "select session_id from refresh_tokens where used_at is null group by session_id having count(*) > 1",
      );
      expect(forked.rows).toEqual([]);
    } finally {
      await client.end();
    }
    expect(acked.sessions.length).toBeGreaterThanOrEqual(12);
    // Every acknowledged password works (or, for a change cut off, the one sent).
    const working = new Map<string, string>();
    for (const account of accounts) {
      const password = passwords.get(account.email);
      const tries = [...new Set([password?.acked, password?.sent])];
      const results = [];
      for (const tried of tries) {
        results.push(
          (await call(node(0), "POST", "/auth/login", { body: { username: account.email, password: tried } })).status,
        );
      }
      expect(results, account.email).toContain(200);
      working.set(account.email, tries[results.indexOf(200)] ?? PASSWORD);
      if (password && password.acked === password.sent) expect(results[0]).toBe(200);
    }

    victim = await startNode("d", env, victim.port);
    try {
      const email = accounts[0]?.email ?? "";
      const again = await signIn(victim, email, working.get(email));
      for (const other of nodes) expect((await validate(other, again.access)).status).toBe(200);
    } finally {
      await victim.stop();
    }
  });

  it("refuses at the first ask, on a node that reads every session, a revocation made on another", async () => {
    const reader = await startNode("f", {
      LATCHKEY_DATABASE_URL: schema.url,
      LATCHKEY_REDIS_URL: redisUrl ?? "",
      LATCHKEY_SMTP_URL: smtp.url,
      LATCHKEY_SESSION_CACHE: "off",
    });
    try {
      const { email, id } = await newUser();
      const first = await signIn(node(0), email);
      const second = await signIn(node(1), email);
      expect((await validate(reader, first.access)).status).toBe(200);
      expect((await validate(reader, second.access)).status).toBe(200);
      // A logout elsewhere (the session's row), then an admin's disable elsewhere (the user's row):
      // refused on the very next request, no notice waited for.
      expect((await call(node(1), "POST", "/auth/logout", { token: first.refresh })).status).toBe(204);
      expect((await validate(reader, first.access)).json().message).toBe("TOKEN_REVOKED");
      expect((await validate(reader, second.access)).status).toBe(200);
      const disabled = await call(node(2), "POST", `/admin/users/${id}/disable`, { token: ADMIN_TOKEN, body: {} });
      expect(disabled.status, disabled.body).toBeLessThan(300);
      const refused = await validate(reader, second.access);
      expect(refused.status).toBe(401);
      expect(refused.json().message).toBe("ACCOUNT_DISABLED");
    } finally {
      await reader.stop();
    }
  });

  it("publishes a key rotated from the command line on every node within the reload interval", async () => {
    const before = await call(node(0), "GET", "/.well-known/jwks.json");
    const rotated = await runCommand(["keys", "rotate"], { LATCHKEY_DATABASE_URL: schema.url });
    const rotatedAt = performance.now();
    const kid = String(rotated.kid);
    expect(before.body).not.toContain(kid);
    const published = await Promise.all(
      nodes.map((each) =>
        eventually(async () => {
          const jwks = await call(each, "GET", "/.well-known/jwks.json", { as: "10.88.0.1" });
          const kids = (jwks.json().keys as { kid: string }[]).map((key) => key.kid);
          return kids.includes(kid) ? performance.now() - rotatedAt : undefined;
        }, 10_000),
      ),
    );
    // Each node's timer runs at its own phase: within one interval, and the time a reload takes.
    for (const elapsed of published) expect(elapsed).toBeLessThan(KEY_RELOAD_SECONDS * 1000 + 1000);
    // Published, not signing yet: tokens are still signed with the key in force, on every node.
    const { email } = await newUser();
    const { access } = await signIn(node(1), email);
    const header = JSON.parse(Buffer.from(access.split(".")[0] ?? "", "base64url").toString("utf8")) as { kid: string };
    expect(header.kid).not.toBe(kid);
    expect(new Date(String(rotated.activatesAt)).getTime()).toBeGreaterThan(Date.now() + 5 * 60_000);
  });

  it("answers 503 with a time to retry while its database is away, changes nothing meanwhile, and recovers by itself", async () => {
    if (!postgres) throw new Error("no database");
    const database = new URL(postgres.url);
    const relay = await startRelay({ host: database.hostname, port: Number(database.port || 5432) });
    const env = {
      LATCHKEY_DATABASE_URL: throughRelay(schema.url, relay.port),
      LATCHKEY_REDIS_URL: redisUrl ?? "",
      LATCHKEY_SMTP_URL: smtp.url,
      LATCHKEY_RATE_LIMIT_PER_MINUTE: "100000",
    };
    const cutOff = await startNode("e", env);
    try {
      const { email } = await newUser();
      const { access } = await signIn(cutOff, email);
      expect((await call(cutOff, "GET", "/health/ready")).status).toBe(200);

      await relay.cut();
      const ready = await call(cutOff, "GET", "/health/ready");
      expect(ready.status).toBe(503);
      expect(ready.json()).toEqual({
        statusCode: 503,
        error: "Service unavailable",
        message: "SERVICE_UNAVAILABLE",
        retryAfter: 5,
      });
      const login = await call(cutOff, "POST", "/auth/login", { body: { username: email, password: PASSWORD } });
      expect(login.status, login.body).toBe(503);
      expect(login.json().message).toBe("SERVICE_UNAVAILABLE");
      const change = await call(cutOff, "PUT", "/user/password/old-password", {
        token: access,
        body: { oldPassword: PASSWORD, newPassword: "Fresh9Lantern" },
      });
      expect(change.status, change.body).toBe(503);
      // The other nodes have their database, and serve.
      for (const other of nodes) expect((await call(other, "GET", "/health/ready")).status).toBe(200);
      expect((await validate(node(0), access)).status).toBe(200);

      await relay.restore();
      await eventually(
        async () => ((await call(cutOff, "GET", "/health/ready")).status === 200 ? true : undefined),
        15_000,
      );
      // Nothing changed while it was away: the old password still opens the account, here and elsewhere.
      const again = await signIn(cutOff, email);
      expect((await validate(node(2), again.access)).status).toBe(200);
      expect((await validate(cutOff, access)).status).toBe(200);
    } finally {
      await cutOff.stop();
      await relay.close();
    }
  });

  it.runIf(nginx !== undefined)(
    "serves through nginx with the sample configuration: both nodes answer, the client's address is nginx's peer, not what it wrote",
    async () => {
      const proxy = await startNginx(nginx ?? "", [node(0).port, node(1).port]);
      try {
        const { email, id } = await newUser();
        const spoofed = { "content-type": "application/json", "x-forwarded-for": "203.0.113.9" };
        const login = await fetch(`${proxy.url}/auth/login`, {
          method: "POST",
          headers: spoofed,
          body: JSON.stringify({ username: email, password: PASSWORD }),
        });
        expect(login.status).toBe(200);
        const refresh = await login.text();
        const before = proxy.upstreams().length;
        const access = await fetch(`${proxy.url}/auth/accesstoken`, {
          headers: { authorization: `Bearer ${refresh}` },
        });
        expect(access.status).toBe(200);
        const token = await access.text();
        for (let i = 0; i < 6; i++) {
          const res = await fetch(`${proxy.url}/auth/accesstoken/validate`, {
            headers: { authorization: `Bearer ${token}` },
          });
          expect(res.status).toBe(200);
        }
        // Round robin: the seven requests went to both nodes.
        const used = new Set(proxy.upstreams().slice(before));
        expect(used).toEqual(new Set([`127.0.0.1:${node(0).port}`, `127.0.0.1:${node(1).port}`]));
        // The login's audit event has the address nginx saw (the test's, on the loopback), not the header's.
        const events = await call(node(2), "GET", `/admin/users/${id}/events`, { token: ADMIN_TOKEN });
        const logins = (events.json().events as { type: string; ip: string | null }[]).filter((e) =>
          e.type.startsWith("login"),
        );
        expect(logins.length).toBeGreaterThan(0);
        for (const event of logins) expect(event.ip).toBe("127.0.0.1");
        // A logout through nginx counts on every node.
        const logout = await fetch(`${proxy.url}/auth/logout`, {
          method: "POST",
          headers: { authorization: `Bearer ${refresh}` },
        });
        expect(logout.status).toBe(204);
        for (const each of nodes) expect((await validate(each, token)).status).toBe(401);
      } finally {
        await proxy.stop();
      }
    },
  );

  it("shares the guess throttle and the per-address limit between nodes", async () => {
    const { email } = await newUser();
    // Wrong passwords spread over the nodes count as one account's failures.
    const wrong = [];
    for (let i = 0; i < 8; i++) {
      wrong.push(await call(node(i), "POST", "/auth/login", { body: { username: email, password: "Wrong7Horse" } }));
    }
    const throttled = wrong.filter((res) => res.status === 429);
    expect(throttled.length).toBeGreaterThan(0);
    expect(throttled[0]?.json().message).toBe("TOO_MANY_FAILED_PASSWORD_CHECKS");

    // One address, over the nodes: the limit of 1 000 a minute counts across all of them.
    const address = `10.77.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}`;
    let first429 = -1;
    for (let i = 0; i < 1005 && first429 < 0; i++) {
      const res = await call(node(i), "POST", "/user/password/reset/validate", {
        as: address,
        body: { email: "nobody@example.com", otp: "000000" },
      });
      if (res.status === 429 && res.json().message === "TOO_MANY_REQUESTS") first429 = i;
    }
    expect(first429).toBe(1000);
  });
});
