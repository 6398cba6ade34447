import { type Kysely, sql } from "kysely";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { verifyClientSecret } from "../src/core/flows/clients.js";
import { sha256Hex } from "../src/platform/crypto.js";
import { migrateUpTo } from "../src/storage/kysely/migrations.js";
import type { KyselyStore } from "../src/storage/kysely/store.js";
import type { OAuthClientRecord } from "../src/storage/store.js";
import { createTestApp, createTestDatabase, type TestApp, testDialects, useTestStore } from "./support/harness.js";
import { call, expectError, expectNoContent, PASSWORD } from "./support/http.js";
import { snapshot } from "./support/snapshot.js";

const ADMIN_TOKEN = "admin-token-0123456789abcdefghijklmnopqrstuvwxyz";
const T0 = 1_800_000_000_000;

function record(id: string, overrides: Partial<OAuthClientRecord> = {}): OAuthClientRecord {
  return {
    id,
    name: `Client ${id}`,
    secretHash: sha256Hex(`secret-${id}`),
    redirectUris: ["https://app.example/cb", "http://127.0.0.1:3000/cb"],
    postLogoutRedirectUris: [],
    scopes: ["openid", "profile"],
    firstParty: false,
    idTokenSigningAlg: "RS256",
    createdAt: T0,
    updatedAt: T0,
    ...overrides,
  };
}

describe.each(testDialects())("the client store on $name", (dialect) => {
  const fresh = useTestStore(dialect);
  let store: KyselyStore;
  beforeEach(() => {
    store = fresh.store();
  });

  it("stores, finds, lists newest first, updates, re-keys and deletes clients", async () => {
    const a = record("a", { postLogoutRedirectUris: ["https://app.example/bye"], firstParty: true });
    const b = record("b", { secretHash: null, createdAt: T0 + 1, updatedAt: T0 + 1 });
    const c = record("c", { createdAt: T0 + 2, updatedAt: T0 + 2, scopes: ["openid", "email", "offline_access"] });
    for (const client of [a, b, c]) await store.insertClient(client);
    expect(await store.findClient("a")).toEqual(a);
    expect(await store.findClient("b")).toEqual(b);
    expect(await store.findClient("nope")).toBeUndefined();

    expect(await store.listClients({ offset: 0, limit: 2 })).toEqual({ clients: [c, b], total: 3 });
    expect(await store.listClients({ offset: 2, limit: 2 })).toEqual({ clients: [a], total: 3 });

    const updated = await store.updateClient("a", {
      name: "Renamed",
      redirectUris: ["https://new.example/cb"],
      firstParty: false,
      updatedAt: T0 + 10,
    });
    expect(updated).toEqual({
      ...a,
      name: "Renamed",
      redirectUris: ["https://new.example/cb"],
      firstParty: false,
      updatedAt: T0 + 10,
    });
    expect(await store.findClient("a")).toEqual(updated);
    // Fields left out keep their value; an empty list is a value.
    expect(await store.updateClient("a", { postLogoutRedirectUris: [], updatedAt: T0 + 11 })).toEqual({
      ...updated,
      postLogoutRedirectUris: [],
      updatedAt: T0 + 11,
    });
    expect(await store.updateClient("nope", { name: "x", updatedAt: T0 })).toBeUndefined();

    expect(await store.setClientSecretHash("a", "new-hash", T0 + 12)).toBe(true);
    expect(await store.findClient("a")).toMatchObject({ secretHash: "new-hash", updatedAt: T0 + 12 });
    // A public client never gets a secret; an unknown one is not made.
    expect(await store.setClientSecretHash("b", "hash", T0 + 12)).toBe(false);
    expect((await store.findClient("b"))?.secretHash).toBeNull();
    expect(await store.setClientSecretHash("nope", "hash", T0 + 12)).toBe(false);

    expect(await store.deleteClient("a")).toBe(true);
    expect(await store.deleteClient("a")).toBe(false);
    expect(await store.findClient("a")).toBeUndefined();
    expect((await store.listClients({ offset: 0, limit: 50 })).total).toBe(2);
  });

  it("keeps clients' events apart from users' events", async () => {
    const userId = await store.createUser({ email: "alice@example.com", passwordHash: null, createdAt: T0 });
    await store.recordAuditEvent({ type: "login.succeeded", userId, at: T0, ip: "192.0.2.1", userAgent: "ua" });
    await store.recordAuditEvent({
      type: "client.created",
      userId: null,
      clientId: "c1",
      at: T0 + 1,
      ip: null,
      userAgent: "cli",
      details: { name: "Wiki" },
    });
    await store.recordAuditEvent({
      type: "client.deleted",
      userId: null,
      clientId: "c1",
      at: T0 + 2,
      ip: null,
      userAgent: null,
    });
    expect(await store.listAuditEvents({ userId, offset: 0, limit: 10 })).toEqual({
      events: [{ type: "login.succeeded", userId, at: T0, ip: "192.0.2.1", userAgent: "ua", details: undefined }],
      total: 1,
    });
    const page = await store.listClientAuditEvents({ clientId: "c1", offset: 0, limit: 1 });
    expect(page).toEqual({
      events: [
        {
          type: "client.deleted",
          userId: null,
          clientId: "c1",
          at: T0 + 2,
          ip: null,
          userAgent: null,
          details: undefined,
        },
      ],
      total: 2,
    });
    expect((await store.listClientAuditEvents({ clientId: "c1", offset: 1, limit: 5 })).events[0]).toMatchObject({
      type: "client.created",
      details: { name: "Wiki" },
    });
    expect(await store.listClientAuditEvents({ clientId: "c2", offset: 0, limit: 5 })).toEqual({
      events: [],
      total: 0,
    });
  });
});

describe.each(testDialects())("the oauth-clients migration on $name", (dialect) => {
  it("keeps the audit rows stored before it, and their user's cascade", async () => {
    const database = await createTestDatabase(dialect);
    try {
      const store = database.store();
      const db = store.db as unknown as Kysely<unknown>;
      await migrateUpTo(db, dialect.name, "2026-12-06-001-revocation-notices");
      const alice = await store.createUser({ email: "alice@example.com", passwordHash: null, createdAt: 1_000 });
      const bob = await store.createUser({ email: "bob@example.com", passwordHash: null, createdAt: 1_000 });
      // As the earlier version stored events: no client_id column yet.
      for (const [userId, type, at, details] of [
        [alice, "login.failed", 2_000, '{"reason":"password"}'],
        [alice, "login.succeeded", 3_000, null],
        [bob, "user.created", 4_000, '{"by":"admin"}'],
      ] as const) {
        await sql`insert into audit_events (user_id, type, at, ip, user_agent, details)
          values (${userId}, ${type}, ${at}, ${"192.0.2.9"}, ${"old/1.0"}, ${details})`.execute(db);
      }
      const before = await sql<Record<string, unknown>>`select * from audit_events order by id`.execute(db);
      expect(before.rows).toHaveLength(3);

      // The migration runs first of those not applied yet (later ones follow it).
      expect((await store.migrate())[0]).toBe("2026-12-07-001-oauth-clients");

      const after = await sql<Record<string, unknown>>`select * from audit_events order by id`.execute(db);
      expect(after.rows).toEqual(before.rows.map((row) => ({ ...row, client_id: null })));
      expect((await store.listAuditEvents({ userId: alice, offset: 0, limit: 10 })).events.map((e) => e.type)).toEqual([
        "login.succeeded",
        "login.failed",
      ]);
      // The ids go on after the rows kept; an event may now name a client and no user.
      await store.recordAuditEvent({
        type: "client.created",
        userId: null,
        clientId: "c",
        at: 5_000,
        ip: null,
        userAgent: null,
      });
      await store.recordAuditEvent({ type: "login.succeeded", userId: bob, at: 6_000, ip: null, userAgent: null });
      const ids = (await sql<{ id: number }>`select id from audit_events order by id`.execute(db)).rows.map((r) =>
        Number(r.id),
      );
      expect(new Set(ids).size).toBe(5);
      expect(Math.min(...ids.slice(3))).toBeGreaterThan(Math.max(...ids.slice(0, 3)));
      // The foreign key survived the rebuild: a user's events go with the user, a client's stay.
      await store.deleteUser(alice);
      const left = await sql<{ type: string }>`select type from audit_events order by id`.execute(db);
      expect(left.rows.map((r) => r.type)).toEqual(["user.created", "client.created", "login.succeeded"]);
      await expect(
        sql`insert into audit_events (user_id, type, at) values (${999_999}, ${"x"}, ${1})`.execute(db),
      ).rejects.toThrow();
    } finally {
      await database.drop();
    }
  });
});

describe.each(testDialects())("the client registry's admin API on $name", (dialect) => {
  let t: TestApp;
  beforeEach(async () => {
    t = await createTestApp(dialect, { env: { LATCHKEY_ADMIN_TOKEN: ADMIN_TOKEN } });
  });
  afterEach(async () => {
    await t.close();
  });

  const admin = (method: "GET" | "POST" | "PATCH" | "DELETE", url: string, payload?: object) =>
    call(t, method, url, ADMIN_TOKEN, payload);
  const iso = () => new Date(t.clock.now()).toISOString();

  async function create(payload: object = {}) {
    const res = await admin("POST", "/admin/clients", {
      name: "Wiki",
      type: "confidential",
      redirectUris: ["https://wiki.example/callback"],
      ...payload,
    });
    expect(res.statusCode, res.body).toBe(201);
    return res.json();
  }

  it("registers a confidential client: the secret shown once, stored only as its SHA-256", async () => {
    const res = await admin("POST", "/admin/clients", {
      name: "Wiki",
      type: "confidential",
      redirectUris: ["https://wiki.example/callback", "http://localhost:8080/cb"],
      postLogoutRedirectUris: ["https://wiki.example/bye"],
      scopes: ["email", "openid", "offline_access"],
      firstParty: true,
    });
    expect(res.statusCode).toBe(201);
    const body = res.json();
    expect(body).toEqual({
      clientId: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/),
      clientSecret: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      name: "Wiki",
      type: "confidential",
      redirectUris: ["https://wiki.example/callback", "http://localhost:8080/cb"],
      postLogoutRedirectUris: ["https://wiki.example/bye"],
      scopes: ["openid", "email", "offline_access"],
      firstParty: true,
      idTokenSigningAlg: "RS256",
      createdAt: iso(),
      updatedAt: iso(),
    });
    const stored = await t.deps.store.findClient(body.clientId);
    if (!stored) throw new Error("not stored");
    expect(stored.secretHash).toBe(sha256Hex(body.clientSecret));
    expect(stored.secretHash).not.toContain(body.clientSecret);
    // Nowhere in the database in clear.
    expect(await snapshot(t)).not.toContain(body.clientSecret);
    expect(verifyClientSecret(stored, body.clientSecret)).toBe(true);
    const nearMiss = `${body.clientSecret.slice(0, -1)}${body.clientSecret.endsWith("A") ? "B" : "A"}`;
    for (const wrong of [
      "",
      "wrong",
      nearMiss,
      `${body.clientSecret} `,
      body.clientSecret.slice(1),
      stored.secretHash ?? "",
    ]) {
      expect({ wrong, ok: verifyClientSecret(stored, wrong) }).toEqual({ wrong, ok: false });
    }
    // Read back, the secret is never shown again.
    const got = await admin("GET", `/admin/clients/${body.clientId}`);
    expect(got.statusCode).toBe(200);
    const { clientSecret: _, ...shown } = body;
    expect(got.json()).toEqual(shown);
  });

  it("registers a public client with the default scopes: no secret, none to verify or rotate", async () => {
    const before = t.clock.now();
    const body = await create({ type: "public", redirectUris: ["http://127.0.0.1:5173/cb", "http://[::1]/cb"] });
    expect(body).not.toHaveProperty("clientSecret");
    expect(body).toMatchObject({ type: "public", scopes: ["openid", "profile", "email"], firstParty: false });
    expect(body.postLogoutRedirectUris).toEqual([]);
    const stored = await t.deps.store.findClient(body.clientId);
    if (!stored) throw new Error("not stored");
    expect(stored.secretHash).toBeNull();
    expect(verifyClientSecret(stored, "")).toBe(false);
    expect(verifyClientSecret(stored, "anything")).toBe(false);
    const snap = await snapshot(t);
    expectError(await admin("POST", `/admin/clients/${body.clientId}/secret`), 409, "CLIENT_IS_PUBLIC");
    expect(await snapshot(t)).toBe(snap);
    expect(t.clock.now()).toBe(before);
  });

  it("rotates a confidential client's secret: the old one stops verifying", async () => {
    const created = await create();
    t.clock.advanceSeconds(60);
    const res = await admin("POST", `/admin/clients/${created.clientId}/secret`);
    expect(res.statusCode).toBe(200);
    const rotated = res.json();
    expect(rotated).toEqual({ clientId: created.clientId, clientSecret: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) });
    expect(rotated.clientSecret).not.toBe(created.clientSecret);
    const stored = await t.deps.store.findClient(created.clientId);
    if (!stored) throw new Error("gone");
    expect(verifyClientSecret(stored, rotated.clientSecret)).toBe(true);
    expect(verifyClientSecret(stored, created.clientSecret)).toBe(false);
    expect(stored.updatedAt).toBe(t.clock.now());
    expectError(await admin("POST", "/admin/clients/unknown/secret"), 404, "CLIENT_NOT_FOUND");
  });

  it("lists clients newest first, paged; refuses paging out of range", async () => {
    const ids: string[] = [];
    for (const name of ["One", "Two", "Three"]) {
      ids.push((await create({ name })).clientId);
      t.clock.advanceSeconds(1);
    }
    const page = await admin("GET", "/admin/clients?limit=2");
    expect(page.statusCode).toBe(200);
    expect(page.json().total).toBe(3);
    expect(page.json().clients.map((c: { name: string }) => c.name)).toEqual(["Three", "Two"]);
    expect(page.json().clients[0]).not.toHaveProperty("clientSecret");
    const rest = await admin("GET", "/admin/clients?offset=2");
    expect(rest.json()).toMatchObject({ total: 3, clients: [{ name: "One", clientId: ids[0] }] });
    for (const query of ["limit=0", "limit=501", "offset=-1", "limit=abc", "extra=1"]) {
      const res = await admin("GET", `/admin/clients?${query}`);
      expect({ query, status: res.statusCode }).toEqual({ query, status: 400 });
    }
  });

  it("updates the fields given, each under its rule", async () => {
    const created = await create({ postLogoutRedirectUris: ["https://wiki.example/bye"] });
    t.clock.advanceSeconds(5);
    const res = await admin("PATCH", `/admin/clients/${created.clientId}`, {
      name: "Team wiki",
      redirectUris: ["https://wiki.example/cb2"],
      scopes: ["openid"],
      firstParty: true,
      idTokenSigningAlg: "EdDSA",
    });
    expect(res.statusCode, res.body).toBe(200);
    expect(res.json()).toEqual({
      clientId: created.clientId,
      name: "Team wiki",
      type: "confidential",
      redirectUris: ["https://wiki.example/cb2"],
      postLogoutRedirectUris: ["https://wiki.example/bye"],
      scopes: ["openid"],
      firstParty: true,
      idTokenSigningAlg: "EdDSA",
      createdAt: created.createdAt,
      updatedAt: iso(),
    });
    const cleared = await admin("PATCH", `/admin/clients/${created.clientId}`, { postLogoutRedirectUris: [] });
    expect(cleared.json().postLogoutRedirectUris).toEqual([]);
    // The secret is untouched by an update.
    const stored = await t.deps.store.findClient(created.clientId);
    if (!stored) throw new Error("gone");
    expect(verifyClientSecret(stored, created.clientSecret)).toBe(true);
    expectError(await admin("PATCH", "/admin/clients/unknown", { name: "x" }), 404, "CLIENT_NOT_FOUND");
  });

  it("deletes a client: 204, then 404; its audit trail stays readable", async () => {
    const created = await create();
    const other = await create({ name: "Other" });
    expectNoContent(await admin("DELETE", `/admin/clients/${created.clientId}`));
    expectError(await admin("GET", `/admin/clients/${created.clientId}`), 404, "CLIENT_NOT_FOUND");
    expectError(await admin("DELETE", `/admin/clients/${created.clientId}`), 404, "CLIENT_NOT_FOUND");
    expect((await admin("GET", "/admin/clients")).json()).toMatchObject({
      total: 1,
      clients: [{ clientId: other.clientId }],
    });
    const events = await admin("GET", `/admin/clients/${created.clientId}/events`);
    expect(events.json().events.map((e: { type: string }) => e.type)).toEqual(["client.deleted", "client.created"]);
  });

  it("records each change in the client's audit trail, without the secret, apart from the users' trail", async () => {
    const userId = await t.createUser("alice@example.com");
    await t.app.inject({
      method: "POST",
      url: "/auth/login",
      payload: { username: "alice@example.com", password: PASSWORD },
    });
    const created = await create();
    const other = await create({ name: "Other", type: "public" });
    const rotated = (await admin("POST", `/admin/clients/${created.clientId}/secret`)).json();
    await admin("PATCH", `/admin/clients/${created.clientId}`, { name: "Renamed", firstParty: true });
    const res = await t.app.inject({
      method: "GET",
      url: `/admin/clients/${created.clientId}/events?limit=2`,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      total: 3,
      events: [
        {
          type: "client.updated",
          at: iso(),
          ip: "127.0.0.1",
          userAgent: "lightMyRequest",
          details: { name: "Renamed", changed: "name firstParty" },
        },
        {
          type: "client.secret_rotated",
          at: iso(),
          ip: "127.0.0.1",
          userAgent: "lightMyRequest",
          details: { name: "Wiki" },
        },
      ],
    });
    const oldest = await admin("GET", `/admin/clients/${created.clientId}/events?offset=2`);
    expect(oldest.json().events).toEqual([
      expect.objectContaining({ type: "client.created", details: { name: "Wiki", type: "confidential" } }),
    ]);
    const otherEvents = await admin("GET", `/admin/clients/${other.clientId}/events`);
    expect(otherEvents.json()).toMatchObject({ total: 1, events: [{ type: "client.created" }] });
    // The users' trail is as it was: the login only.
    const userEvents = await admin("GET", `/admin/users/${userId}/events`);
    expect(userEvents.json()).toMatchObject({ total: 1, events: [{ type: "login.succeeded" }] });
    // No secret in the trail.
    const rows = await t.db.selectFrom("audit_events").selectAll().execute();
    const text = JSON.stringify(rows);
    for (const secret of [created.clientSecret, rotated.clientSecret]) expect(text).not.toContain(secret);
    expect(rows.filter((row) => row.client_id !== null).every((row) => row.user_id === null)).toBe(true);
    expectError(await admin("GET", "/admin/clients/never-was/events"), 404, "CLIENT_NOT_FOUND");
  });

  it("refuses calls without the admin token, changing nothing", async () => {
    const created = await create();
    const before = await snapshot(t);
    const requests = [
      ["POST", "/admin/clients", { name: "X", type: "public", redirectUris: ["https://x.example/cb"] }],
      ["GET", "/admin/clients"],
      ["GET", `/admin/clients/${created.clientId}`],
      ["PATCH", `/admin/clients/${created.clientId}`, { name: "X" }],
      ["POST", `/admin/clients/${created.clientId}/secret`],
      ["DELETE", `/admin/clients/${created.clientId}`],
      ["GET", `/admin/clients/${created.clientId}/events`],
    ] as const;
    for (const [method, url, payload] of requests) {
      for (const token of [undefined, "wrong", `${ADMIN_TOKEN.slice(0, -1)}X`]) {
        const res = await call(t, method, url, token, payload);
        expect({ method, url, token }).toEqual({ method, url, token });
        expectError(res, 401, "ADMIN_TOKEN_INVALID");
      }
    }
    expect(await snapshot(t)).toBe(before);
  });

  it("answers every bad registration with a 400 envelope and stores nothing", async () => {
    const good = { name: "Wiki", type: "confidential", redirectUris: ["https://wiki.example/cb"] };
    const cases: [string, object, string | RegExp][] = [
      ["no name", { type: "public", redirectUris: ["https://a.example/cb"] }, /must have required property 'name'/],
      ["an empty name", { ...good, name: "" }, "CLIENT_NAME_INVALID"],
      ["a blank name", { ...good, name: "   " }, "CLIENT_NAME_INVALID"],
      ["a name too long", { ...good, name: "x".repeat(101) }, "CLIENT_NAME_INVALID"],
      ["a name with a newline", { ...good, name: "Wiki\nAdmin" }, "CLIENT_NAME_INVALID"],
      ["no type", { name: "Wiki", redirectUris: ["https://a.example/cb"] }, /type/],
      ["an unknown type", { ...good, type: "secret" }, /type/],
      ["no redirect URI", { name: "Wiki", type: "public" }, /redirectUris/],
      ["an empty redirect list", { ...good, redirectUris: [] }, "INVALID_REDIRECT_URI"],
      [
        "eleven redirect URIs",
        { ...good, redirectUris: Array.from({ length: 11 }, (_, i) => `https://a.example/${i}`) },
        "INVALID_REDIRECT_URI",
      ],
      ["a relative redirect URI", { ...good, redirectUris: ["/cb"] }, "INVALID_REDIRECT_URI"],
      ["http on a public host", { ...good, redirectUris: ["http://wiki.example/cb"] }, "INVALID_REDIRECT_URI"],
      ["a fragment", { ...good, redirectUris: ["https://wiki.example/cb#x"] }, "INVALID_REDIRECT_URI"],
      ["userinfo", { ...good, redirectUris: ["https://u:p@wiki.example/cb"] }, "INVALID_REDIRECT_URI"],
      ["a wildcard", { ...good, redirectUris: ["https://*.wiki.example/cb"] }, "INVALID_REDIRECT_URI"],
      [
        "a duplicate",
        { ...good, redirectUris: ["https://wiki.example/cb", "https://wiki.example/cb"] },
        "INVALID_REDIRECT_URI",
      ],
      ["javascript:", { ...good, redirectUris: ["javascript:alert(1)"] }, "INVALID_REDIRECT_URI"],
      ["a redirect URI that is not a string", { ...good, redirectUris: [42] }, /redirectUris/],
      [
        "a bad post-logout URI",
        { ...good, postLogoutRedirectUris: ["http://wiki.example/bye"] },
        "INVALID_POST_LOGOUT_REDIRECT_URI",
      ],
      [
        "eleven post-logout URIs",
        { ...good, postLogoutRedirectUris: Array.from({ length: 11 }, (_, i) => `https://a.example/${i}`) },
        "INVALID_POST_LOGOUT_REDIRECT_URI",
      ],
      ["no openid", { ...good, scopes: ["profile"] }, "INVALID_SCOPE"],
      ["an unknown scope", { ...good, scopes: ["openid", "admin"] }, "INVALID_SCOPE"],
      ["a repeated scope", { ...good, scopes: ["openid", "openid"] }, "INVALID_SCOPE"],
      ["no scopes", { ...good, scopes: [] }, "INVALID_SCOPE"],
      ["a first-party flag that is not a boolean", { ...good, firstParty: "yes" }, /firstParty/],
      // Not coerced, as the query strings are: each of these is refused as sent.
      ["a first-party flag of null", { ...good, firstParty: null }, /firstParty/],
      ["a first-party flag of 1", { ...good, firstParty: 1 }, /firstParty/],
      ['a first-party flag of "true"', { ...good, firstParty: "true" }, /firstParty/],
      ["an ID token algorithm with a shared secret", { ...good, idTokenSigningAlg: "HS256" }, /idTokenSigningAlg/],
      ["an ID token algorithm of none", { ...good, idTokenSigningAlg: "none" }, /idTokenSigningAlg/],
      ["a name that is a number", { ...good, name: 42 }, /name/],
      ["a redirect URI not in a list", { ...good, redirectUris: "https://wiki.example/cb" }, /redirectUris/],
      ["a scope not in a list", { ...good, scopes: "openid" }, /scopes/],
      ["an unknown property", { ...good, clientSecret: "mine" }, "body must NOT have additional properties"],
      ["a client id of its own", { ...good, clientId: "mine" }, "body must NOT have additional properties"],
    ];
    const before = await snapshot(t);
    for (const [label, payload, expected] of cases) {
      const res = await admin("POST", "/admin/clients", payload);
      expect({ label, status: res.statusCode }).toEqual({ label, status: 400 });
      expect(res.json()).toEqual({ statusCode: 400, error: "Bad Request", message: expect.any(String) });
      if (typeof expected === "string")
        expect({ label, message: res.json().message }).toEqual({ label, message: expected });
      else expect(res.json().message, label).toMatch(expected);
    }
    const malformed = await t.app.inject({
      method: "POST",
      url: "/admin/clients",
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
      payload: "{not json",
    });
    expectError(malformed, 400, "MALFORMED_JSON");
    expect(await snapshot(t)).toBe(before);
    expect((await t.deps.store.listClients({ offset: 0, limit: 10 })).total).toBe(0);
  });

  it("answers every bad update, rotation, read or deletion with a 4xx envelope and changes nothing", async () => {
    const created = await create();
    t.clock.advanceSeconds(5);
    const before = await snapshot(t);
    const url = `/admin/clients/${created.clientId}`;
    const patches: [object, number, string | RegExp][] = [
      [{}, 400, "CLIENT_UPDATE_EMPTY"],
      [{ name: "" }, 400, "CLIENT_NAME_INVALID"],
      [{ redirectUris: [] }, 400, "INVALID_REDIRECT_URI"],
      [{ redirectUris: ["https://wiki.example/*"] }, 400, "INVALID_REDIRECT_URI"],
      [{ postLogoutRedirectUris: ["https://a.example/x#y"] }, 400, "INVALID_POST_LOGOUT_REDIRECT_URI"],
      [{ scopes: ["email"] }, 400, "INVALID_SCOPE"],
      // A valid change with a bad one changes nothing.
      [{ name: "Fine", scopes: ["openid", "nope"] }, 400, "INVALID_SCOPE"],
      [{ type: "public" }, 400, "body must NOT have additional properties"],
      [{ clientSecret: "mine" }, 400, "body must NOT have additional properties"],
      [{ firstParty: null }, 400, /firstParty/],
      [{ idTokenSigningAlg: "RS512" }, 400, /idTokenSigningAlg/],
      [{ firstParty: 0 }, 400, /firstParty/],
      [{ redirectUris: "https://wiki.example/cb" }, 400, /redirectUris/],
      [{ name: null }, 400, /name/],
    ];
    for (const [payload, status, expected] of patches) {
      const res = await admin("PATCH", url, payload);
      const label = JSON.stringify(payload);
      expect({ label, status: res.statusCode }).toEqual({ label, status });
      expect(res.json()).toEqual({ statusCode: status, error: "Bad Request", message: expect.any(String) });
      if (typeof expected === "string")
        expect({ label, message: res.json().message }).toEqual({ label, message: expected });
      else expect(res.json().message, label).toMatch(expected);
    }
    for (const bad of ["has.dot", "x".repeat(65), "%20", "a%2Fb"]) {
      for (const [method, suffix] of [
        ["GET", ""],
        ["PATCH", ""],
        ["DELETE", ""],
        ["POST", "/secret"],
        ["GET", "/events"],
      ] as const) {
        const res = await admin(
          method,
          `/admin/clients/${bad}${suffix}`,
          method === "PATCH" ? { name: "x" } : undefined,
        );
        expect({ bad, method, suffix, status: res.statusCode }).toEqual({ bad, method, suffix, status: 400 });
        expect(res.json()).toMatchObject({ statusCode: 400, error: "Bad Request" });
      }
    }
    for (const [method, suffix] of [
      ["GET", ""],
      ["PATCH", ""],
      ["DELETE", ""],
      ["POST", "/secret"],
      ["GET", "/events"],
    ] as const) {
      const res = await admin(
        method,
        `/admin/clients/unknownclient${suffix}`,
        method === "PATCH" ? { name: "x" } : undefined,
      );
      expectError(res, 404, "CLIENT_NOT_FOUND");
    }
    for (const query of ["limit=0", "offset=-1", "extra=1"]) {
      expect((await admin("GET", `${url}/events?${query}`)).statusCode).toBe(400);
    }
    expect(await snapshot(t)).toBe(before);
  });
});
