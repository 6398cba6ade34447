import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { insertSession } from "../src/storage/kysely/sessions.js";
import type { KyselyStore } from "../src/storage/kysely/store.js";
import { EmailTakenError } from "../src/storage/store.js";
import { createTestDatabase, type TestDatabase, testDialects } from "./support/harness.js";

const T0 = 1_800_000_000_000;

describe.each(testDialects())("store on $name", (dialect) => {
  let database: TestDatabase;
  let store: KyselyStore;

  beforeEach(async () => {
    database = await createTestDatabase(dialect);
    store = database.store();
    await store.migrate();
  });
  afterEach(async () => {
    await database.drop();
  });

  async function user(email = "alice@example.com"): Promise<number> {
    return store.createUser({ email, passwordHash: "$argon2id$x", createdAt: T0 });
  }
  it("reads the second-factor state in one piece: none, pending, active, and recovery codes left", async () => {
    const alice = await user();
    const bob = await user("bob@example.com");
    expect(await store.twoFactor(alice)).toEqual({ totp: undefined, emailOtp: undefined, recoveryCodes: undefined });

    await store.setPendingTotpSecret(alice, "sealed-pending");
    await store.setPendingEmailOtp(alice, "alice.otp@example.com");
    expect(await store.twoFactor(alice)).toEqual({
      totp: { secretEnc: null, pendingSecretEnc: "sealed-pending", enabledAt: null },
      emailOtp: { email: null, pendingEmail: "alice.otp@example.com", enabledAt: null },
      recoveryCodes: undefined,
    });

    const codes = ["h1", "h2", "h3"];
    expect(
      await store.activateTotp({
        userId: alice,
        pendingSecretEnc: "sealed-pending",
        step: 9,
        now: T0 + 5,
        recoveryCodeHashes: codes,
      }),
    ).toEqual({ activated: true, recoveryCodesCreated: true });
    await store.activateEmailOtp({
      userId: alice,
      email: "alice.otp@example.com",
      now: T0 + 6,
      recoveryCodeHashes: [],
    });
    expect(await store.useRecoveryCode({ userId: alice, codeHashes: ["h2"], now: T0 + 7 })).toBe(true);
    expect(await store.twoFactor(alice)).toEqual({
      totp: { secretEnc: "sealed-pending", pendingSecretEnc: null, enabledAt: T0 + 5 },
      emailOtp: { email: "alice.otp@example.com", pendingEmail: null, enabledAt: T0 + 6 },
      recoveryCodes: { createdAt: T0 + 5, remaining: 2 },
    });
    // Another user's rows are not mixed in.
    expect(await store.twoFactor(bob)).toEqual({ totp: undefined, emailOtp: undefined, recoveryCodes: undefined });
  });

  it("creates a session with its refresh token, or neither when the token id is taken", async () => {
    const alice = await user();
    await session(alice, "s1", "r1");
    expect(await store.refreshTokenStatus("r1")).toMatchObject({ sessionId: "s1", userId: alice, usedAt: null });
    await expect(session(alice, "s2", "r1")).rejects.toThrow();
    expect(await store.sessionStatus("s2")).toBeUndefined();
  });

  /** A session as the store opens one (a login's end, a partial token's completion): in a transaction. */
  async function session(userId: number, id = "s1", jti = "r1"): Promise<void> {
    const row = { id, userId, createdAt: T0, expiresAt: T0 + 1000, ip: "127.0.0.1", userAgent: "ua" };
    await store.db.transaction().execute((trx) => insertSession(trx, row, jti));
  }

  it("keeps what proved a session's sign-in, and answers only while the session lives", async () => {
    const id = await user();
    const row = { id: "s2", userId: id, createdAt: T0, expiresAt: T0 + 1000, ip: null, userAgent: null };
    await store.db.transaction().execute((trx) => insertSession(trx, { ...row, methods: ["password", "totp"] }, "r2"));
    await session(id, "s3", "r3");
    expect(await store.sessionAuthentication("s2", T0)).toEqual({
      userId: id,
      createdAt: T0,
      methods: ["password", "totp"],
    });
    // A session stored without its methods claims none.
    expect(await store.sessionAuthentication("s3", T0)).toEqual({ userId: id, createdAt: T0, methods: [] });
    expect(await store.sessionAuthentication("s2", T0 + 1000)).toBeUndefined();
    await store.revokeSession("s2", T0);
    expect(await store.sessionAuthentication("s2", T0)).toBeUndefined();
    expect(await store.sessionAuthentication("nope", T0)).toBeUndefined();
  });

  describe("the end of a password login", () => {
    const throttle = { subject: "user:x", kind: "password" };
    function end(userId: number, id: string, jti: string) {
      return {
        throttle,
        session: { id, userId, createdAt: T0, expiresAt: T0 + 1000, ip: "127.0.0.1", userAgent: "ua" },
        refreshJti: jti,
        event: { type: "login.succeeded", userId, at: T0, ip: "127.0.0.1", userAgent: "ua" },
      };
    }
    async function counted(): Promise<void> {
      await store.swapThrottle(throttle.subject, throttle.kind, undefined, { failures: 1, nextAllowedAt: 0 });
    }
    async function trail(userId: number): Promise<string[]> {
      const { events } = await store.listAuditEvents({ userId, offset: 0, limit: 10 });
      return events.map((event) => event.type);
    }

    it("clears the throttle, opens the session with its refresh token and records the login", async () => {
      const alice = await user();
      await counted();
      expect(await store.openSessionAfterPassword(end(alice, "s1", "r1"))).toBe(true);
      expect(await store.getThrottle(throttle.subject, throttle.kind)).toBeUndefined();
      expect(await store.refreshTokenStatus("r1")).toMatchObject({ sessionId: "s1", userId: alice, usedAt: null });
      expect(await trail(alice)).toEqual(["login.succeeded"]);
    });

    it("opens nothing while TOTP or email OTP is active, but still clears the throttle", async () => {
      const alice = await user();
      const bob = await user("bob@example.com");
      await store.setPendingTotpSecret(alice, "sealed");
      await store.setPendingEmailOtp(alice, "alice.otp@example.com");
      // Pending setups are not a second factor yet.
      expect(await store.openSessionAfterPassword(end(alice, "s1", "r1"))).toBe(true);

      await store.activateTotp({ userId: alice, pendingSecretEnc: "sealed", step: 1, now: T0, recoveryCodeHashes: [] });
      await counted();
      expect(await store.openSessionAfterPassword(end(alice, "s2", "r2"))).toBe(false);
      expect(await store.sessionStatus("s2")).toBeUndefined();
      expect(await store.getThrottle(throttle.subject, throttle.kind)).toBeUndefined();
      expect(await trail(alice)).toEqual(["login.succeeded"]);

      await store.activateEmailOtp({ userId: bob, email: "bob@example.com", now: T0, recoveryCodeHashes: [] });
      expect(await store.openSessionAfterPassword(end(bob, "s3", "r3"))).toBe(false);
      expect(await store.sessionStatus("s3")).toBeUndefined();
      expect(await trail(bob)).toEqual([]);
    });

    it("changes nothing when any part fails: the throttle keeps its count", async () => {
      const alice = await user();
      await session(alice, "s1", "r1");
      await counted();
      await expect(store.openSessionAfterPassword(end(alice, "s2", "r1"))).rejects.toThrow();
      expect(await store.sessionStatus("s2")).toBeUndefined();
      expect(await store.getThrottle(throttle.subject, throttle.kind)).toEqual({ failures: 1, nextAllowedAt: 0 });
      expect(await trail(alice)).toEqual([]);
    });
  });

  it("drops mail codes past both their expiry and the resend window when another code is issued", async () => {
    const TTL = 600_000;
    const RESEND = 900_000;
    const issue = (address: string, at: number) =>
      store.issueMailCode(
        {
          subject: `email:${address}`,
          purpose: "password-reset",
          id: `${address}-${at}`,
          userId: null,
          target: address,
          origin: null,
          language: null,
          codeHash: "h",
          kid: "k",
          createdAt: at,
          expiresAt: at + TTL,
        },
        at - RESEND,
        at - RESEND,
      );
    await issue("old@example.com", T0);
    await issue("paced@example.com", T0 + 200_000);
    await issue("live@example.com", T0 + 700_000);
    // At T0 + 1 000 000: old is expired and past the window; paced is expired but still paces; live is live.
    const now = T0 + 1_000_000;
    expect(await issue("new@example.com", now)).toEqual({ issued: true });
    expect(await store.mailCodeSentAt("email:old@example.com", "password-reset")).toBeUndefined();
    expect(await store.mailCodeSentAt("email:paced@example.com", "password-reset")).toBe(T0 + 200_000);
    expect(await store.mailCodeSentAt("email:live@example.com", "password-reset")).toBe(T0 + 700_000);
    expect(await issue("paced@example.com", now)).toEqual({ issued: false, lastSentAt: T0 + 200_000 });
  });

  it("migrates once: a second run applies nothing", async () => {
    expect(await store.migrate()).toEqual([]);
  });

  it("creates users with unique, case-insensitive emails", async () => {
    const id = await user("Alice@Example.com");
    expect(id).toBeGreaterThan(0);
    await expect(user("alice@EXAMPLE.com")).rejects.toBeInstanceOf(EmailTakenError);
    const found = await store.findUserByEmail("ALICE@example.COM");
    expect(found).toEqual({
      id,
      email: "Alice@Example.com",
      passwordHash: "$argon2id$x",
      disabledAt: null,
      createdAt: T0,
      tokenGeneration: 0,
    });
    expect(await store.findUserById(id)).toEqual(found);
    expect(await store.findUserByEmail("bob@example.com")).toBeUndefined();
  });

  it("lists users newest first, filtered by substring with LIKE wildcards taken literally", async () => {
    for (const email of ["a_1@x.io", "ab1@x.io", "c%d@y.io"]) await user(email);
    const all = await store.listUsers({ offset: 0, limit: 2 });
    expect(all.total).toBe(3);
    expect(all.users.map((u) => u.email)).toEqual(["c%d@y.io", "ab1@x.io"]);
    expect((await store.listUsers({ emailContains: "a_", offset: 0, limit: 10 })).users.map((u) => u.email)).toEqual([
      "a_1@x.io",
    ]);
    expect((await store.listUsers({ emailContains: "%", offset: 0, limit: 10 })).total).toBe(1);
    expect((await store.listUsers({ emailContains: "X.IO", offset: 1, limit: 10 })).users).toHaveLength(1);
  });

  it("keeps session state in one read, and revokes atomically", async () => {
    const id = await user();
    await session(id);
    expect(await store.sessionStatus("s1")).toEqual({
      userId: id,
      revokedAt: null,
      expiresAt: T0 + 1000,
      userDisabled: false,
    });
    expect(await store.revokeSession("s1", T0 + 5)).toBe(true);
    expect(await store.revokeSession("s1", T0 + 6)).toBe(false);
    expect((await store.sessionStatus("s1"))?.revokedAt).toBe(T0 + 5);
    expect(await store.sessionStatus("nope")).toBeUndefined();
  });

  it("revokes every session of a user but the one kept", async () => {
    const id = await user();
    const other = await user("bob@example.com");
    await session(id, "s1", "r1");
    await session(id, "s2", "r2");
    await session(other, "s3", "r3");
    expect(await store.revokeUserSessions(id, T0, "s2")).toBe(1);
    expect((await store.sessionStatus("s1"))?.revokedAt).toBe(T0);
    expect((await store.sessionStatus("s2"))?.revokedAt).toBeNull();
    expect((await store.sessionStatus("s3"))?.revokedAt).toBeNull();
  });

  it("moves a session's last use on as its refresh token is used, never back, and not once ended", async () => {
    const id = await user();
    await session(id, "s1", "r1");
    await session(id, "s2", "r2");
    const lastUse = async () =>
      Object.fromEntries((await store.listLiveSessions(id, T0)).map((s) => [s.id, s.lastUsedAt] as const));
    expect(await lastUse()).toEqual({ s1: T0, s2: T0 });

    const touch = (jti: string, at: number, step = 1) =>
      store.refreshTokenStatusAndTouch(jti, { at, ifLastUsedBy: at - step });
    expect(await touch("r1", T0 + 10)).toEqual(await store.refreshTokenStatus("r1"));
    expect(await lastUse()).toEqual({ s1: T0 + 10, s2: T0 });
    // An earlier time (another node's clock) does not move it back.
    await touch("r1", T0 + 5);
    expect(await lastUse()).toEqual({ s1: T0 + 10, s2: T0 });
    // Nor does a use sooner than the step asked for.
    await touch("r1", T0 + 14, 5);
    expect(await lastUse()).toEqual({ s1: T0 + 10, s2: T0 });
    await touch("r1", T0 + 15, 5);
    expect(await lastUse()).toEqual({ s1: T0 + 15, s2: T0 });
    // A rotation moves it too.
    await store.rotateRefreshToken({ jti: "r2", newJti: "r2b", sessionId: "s2", now: T0 + 20 });
    expect(await lastUse()).toEqual({ s1: T0 + 15, s2: T0 + 20 });

    // Not for a disabled user, nor a revoked session: the status is read all the same.
    await store.setUserDisabled(id, T0);
    expect((await touch("r1", T0 + 30))?.userDisabled).toBe(true);
    await store.setUserDisabled(id, null);
    expect(await lastUse()).toEqual({ s1: T0 + 15, s2: T0 + 20 });
    await store.revokeSession("s1", T0 + 40);
    expect((await touch("r1", T0 + 50))?.revokedAt).toBe(T0 + 40);
    const [row] = await store.db.selectFrom("sessions").select("last_used_at").where("id", "=", "s1").execute();
    expect(row?.last_used_at).toBe(T0 + 15);
    expect(await touch("nope", T0 + 60)).toBeUndefined();
  });

  it("ends a user's session only for that user, only while live, and once", async () => {
    const id = await user();
    const other = await user("bob@example.com");
    await session(id, "s1", "r1");
    expect(await store.revokeUserSession(other, "s1", T0 + 1)).toBe(false);
    // Past its end (T0 + 1000) it is not live any more.
    expect(await store.revokeUserSession(id, "s1", T0 + 1000)).toBe(false);
    expect((await store.sessionStatus("s1"))?.revokedAt).toBeNull();
    expect(await store.revokeUserSession(id, "s1", T0 + 2)).toBe(true);
    expect(await store.revokeUserSession(id, "s1", T0 + 3)).toBe(false);
    expect((await store.sessionStatus("s1"))?.revokedAt).toBe(T0 + 2);
    expect(await store.listLiveSessions(id, T0)).toEqual([]);
  });

  it("rotates a refresh token: of many concurrent callers one adds its successor, and all get that one", async () => {
    const id = await user();
    await session(id);
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        store.rotateRefreshToken({ jti: "r1", newJti: `n${i}`, sessionId: "s1", now: T0 + 1 + i }),
      ),
    );
    const winner = results[0];
    expect(winner).toMatchObject({ jti: expect.stringMatching(/^n\d$/) });
    expect(results).toEqual(Array.from({ length: 8 }, () => winner));
    expect(await store.refreshTokenSuccessor("r1")).toEqual(winner);
    const status = await store.refreshTokenStatus("r1");
    expect(status?.usedAt).toBe(winner?.issuedAt);
    expect(await store.refreshTokenStatus(winner?.jti ?? "")).toMatchObject({
      sessionId: "s1",
      usedAt: null,
      userId: id,
    });
    // The losers' tokens were never added: the session has one live chain.
    const live = Array.from({ length: 8 }, (_, i) => `n${i}`).filter((jti) => jti !== winner?.jti);
    for (const jti of live) expect(await store.refreshTokenStatus(jti)).toBeUndefined();
    expect(await store.refreshTokenSuccessor(winner?.jti ?? "")).toBeUndefined();
  });

  it("swaps throttle state only from the expected state", async () => {
    const next = { failures: 1, nextAllowedAt: 0 };
    expect(await store.swapThrottle("user:1", "password", undefined, next)).toBe(true);
    expect(await store.swapThrottle("user:1", "password", undefined, next)).toBe(false);
    expect(await store.swapThrottle("user:1", "password", { failures: 0, nextAllowedAt: 0 }, next)).toBe(false);
    expect(await store.swapThrottle("user:1", "password", next, { failures: 2, nextAllowedAt: 9 })).toBe(true);
    expect(await store.getThrottle("user:1", "password")).toEqual({ failures: 2, nextAllowedAt: 9 });
    expect(await store.getThrottle("user:1", "totp")).toBeUndefined();
    await store.resetThrottle("user:1", "password");
    expect(await store.getThrottle("user:1", "password")).toBeUndefined();
  });

  describe("the start of a password login", () => {
    const first = { failures: 1, nextAllowedAt: 0 };
    const start = (email: string, unknownSubject = "unknown:x") =>
      store.startPasswordLogin({ email, userSubjectPrefix: "user:", unknownSubject, kind: "password", next: first });

    it("finds the account case-insensitively and counts the first guess on its throttle", async () => {
      const id = await user("Alice@Example.com");
      const started = await start("ALICE@example.COM");
      expect(started).toEqual({
        user: {
          id,
          email: "Alice@Example.com",
          passwordHash: "$argon2id$x",
          disabledAt: null,
          createdAt: T0,
          tokenGeneration: 0,
        },
        subject: `user:${id}`,
        claimed: true,
      });
      expect(await store.getThrottle(`user:${id}`, "password")).toEqual(first);
      expect(await store.getThrottle("unknown:x", "password")).toBeUndefined();
    });

    it("leaves an existing count as it is and says so", async () => {
      const id = await user();
      const counted = { failures: 4, nextAllowedAt: T0 + 9 };
      await store.swapThrottle(`user:${id}`, "password", undefined, counted);
      await store.swapThrottle(`user:${id}`, "totp", undefined, { failures: 2, nextAllowedAt: 0 });
      const started = await start("alice@example.com");
      expect(started.user?.id).toBe(id);
      expect(started.claimed).toBe(false);
      expect(await store.getThrottle(`user:${id}`, "password")).toEqual(counted);
    });

    it("counts a guess at an unknown email on the subject given for it", async () => {
      await user();
      expect(await start("nobody@example.com", "unknown:nobody")).toEqual({
        user: undefined,
        subject: "unknown:nobody",
        claimed: true,
      });
      expect(await start("nobody@example.com", "unknown:nobody")).toEqual({
        user: undefined,
        subject: "unknown:nobody",
        claimed: false,
      });
      expect(await store.getThrottle("unknown:nobody", "password")).toEqual(first);
    });

    it("lets exactly one of ten concurrent starts insert the first count", async () => {
      const id = await user();
      const started = await Promise.all(Array.from({ length: 10 }, () => start("alice@example.com")));
      expect(started.filter((s) => s.claimed)).toHaveLength(1);
      expect(started.every((s) => s.user?.id === id)).toBe(true);
    });
  });

  it("lets exactly one of ten concurrent swaps from one state win", async () => {
    await store.swapThrottle("s", "k", undefined, { failures: 3, nextAllowedAt: 0 });
    const wins = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        store.swapThrottle("s", "k", { failures: 3, nextAllowedAt: 0 }, { failures: 4, nextAllowedAt: i }),
      ),
    );
    expect(wins.filter(Boolean)).toHaveLength(1);
  });

  it("deletes a user with everything it owns", async () => {
    const id = await user();
    await session(id);
    expect(await store.deleteUser(id)).toBe(true);
    expect(await store.deleteUser(id)).toBe(false);
    expect(await store.sessionStatus("s1")).toBeUndefined();
    expect(await store.refreshTokenStatus("r1")).toBeUndefined();
  });

  it("stores signing keys and drops only those replaced before the cutoff", async () => {
    const key = (kid: string, createdAt: number, activatesAt: number, alg: "EdDSA" | "RS256" = "EdDSA") =>
      store.insertSigningKey({ kid, alg, privateKeyEnc: "p", publicPem: "q", createdAt, activatesAt });
    await key("a", T0, T0);
    await key("b", T0 + 10, T0 + 100);
    await key("c", T0 + 20, T0 + 200);
    // An RSA key older than "b": replaced by no key of its own algorithm, so it stays.
    await key("r", T0 + 5, T0 + 5, "RS256");
    expect((await store.listSigningKeys()).map((k) => [k.kid, k.alg, k.activatesAt])).toEqual([
      ["a", "EdDSA", T0],
      ["r", "RS256", T0 + 5],
      ["b", "EdDSA", T0 + 100],
      ["c", "EdDSA", T0 + 200],
    ]);
    // Nothing had replaced "a" yet; then "b" had (at T0 + 100), but "b" still signed.
    expect(await store.deleteSigningKeysRetiredBefore(T0 + 99)).toBe(0);
    expect(await store.deleteSigningKeysRetiredBefore(T0 + 199)).toBe(1);
    expect((await store.listSigningKeys()).map((k) => k.kid)).toEqual(["r", "b", "c"]);
    expect(await store.deleteSigningKeysRetiredBefore(T0 + 10_000)).toBe(1);
    expect((await store.listSigningKeys()).map((k) => k.kid)).toEqual(["r", "c"]);
    // A later RSA key retires "r" once it activates, and leaves the Ed25519 key alone.
    await key("s", T0 + 30, T0 + 300, "RS256");
    expect(await store.deleteSigningKeysRetiredBefore(T0 + 299)).toBe(0);
    expect(await store.deleteSigningKeysRetiredBefore(T0 + 300)).toBe(1);
    expect((await store.listSigningKeys()).map((k) => k.kid)).toEqual(["c", "s"]);
  });

  it("creates the first signing key once when nodes race for it, and never once a key exists", async () => {
    // PostgreSQL: three nodes' stores on one schema; SQLite (one node): three calls on the one store.
    const stores = dialect.name === "postgres" ? [store, database.store(), database.store()] : [store, store, store];
    const created = await Promise.all(
      stores.map((s, i) =>
        s.insertFirstSigningKey({
          kid: `k${i}`,
          alg: "EdDSA",
          privateKeyEnc: "p",
          publicPem: "q",
          createdAt: T0,
          activatesAt: T0,
        }),
      ),
    );
    expect(created.filter(Boolean)).toHaveLength(1);
    expect(await store.listSigningKeys()).toHaveLength(1);
    expect(
      await store.insertFirstSigningKey({
        kid: "late",
        alg: "EdDSA",
        privateKeyEnc: "p",
        publicPem: "q",
        createdAt: T0,
        activatesAt: T0,
      }),
    ).toBe(false);
    expect((await store.listSigningKeys()).map((k) => k.kid)).not.toContain("late");
    // The first key of another algorithm is its own first.
    const rsa = { alg: "RS256" as const, privateKeyEnc: "p", publicPem: "q", createdAt: T0, activatesAt: T0 };
    expect(await store.insertFirstSigningKey({ ...rsa, kid: "rsa1" })).toBe(true);
    expect(await store.insertFirstSigningKey({ ...rsa, kid: "rsa2" })).toBe(false);
    const keys = await store.listSigningKeys();
    expect(keys.filter((k) => k.alg === "RS256").map((k) => k.kid)).toEqual(["rsa1"]);
    expect(keys.filter((k) => k.alg === "EdDSA")).toHaveLength(1);
  });

  it("answers a ping", async () => {
    await expect(store.ping()).resolves.toBeUndefined();
  });
});
