import { rmSync } from "node:fs";
import { join } from "node:path";
import { type Adapter, type AdapterFactory, errors, Provider } from "oidc-provider";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { parseKeyring } from "../src/core/secrets/keyring.js";
import { oidcAdapterFactory } from "../src/oidc/adapter.js";
import { ManualClock } from "../src/platform/clock.js";
import { sha256Hex } from "../src/platform/crypto.js";
import { secureRandom } from "../src/platform/random.js";
import type { KyselyStore } from "../src/storage/kysely/store.js";
import {
  createTestDatabase,
  TEST_ENCRYPTION_KEYS,
  type TestDatabase,
  tempDir,
  testDialects,
  useTestStore,
} from "./support/harness.js";

const T0 = 1_800_000_000_000;
const keyring = parseKeyring(TEST_ENCRYPTION_KEYS);

/** Long, random-looking ids, as oidc-provider makes them, so that a search of the row means something. */
const CODE = "code-Zq8xW3vK1mN7pR2sT5uY9aB4cD6eF0gH";
const REFRESH = "refresh-Lk3jH5gF7dS9aQ1wE2rT4yU6iO8pZxCv";
const ACCESS = "access-Mn4bV6cX8zL0kJ2hG4fD6sA8qW0eR2tY";
const SESSION = "session-Pq7oI9uY1tR3eW5qA7sD9fG1hJ3kL5zX";
const SESSION_UID = "uid-Bv2nM4qW6eR8tY0uI2oP4aS6dF8gH0jK";
const DEVICE = "device-Cx5vB7nM9qW1eR3tY5uI7oP9aS1dF3gH";

function factory(store: KyselyStore, clock: ManualClock, models?: Record<string, Adapter>): AdapterFactory {
  return oidcAdapterFactory(store, clock, {
    keyring,
    random: secureRandom,
    clockToleranceSeconds: 0,
    ...(models ? { models } : {}),
  });
}

async function rows(store: KyselyStore) {
  return store.db.selectFrom("oidc_payloads").selectAll().orderBy("model").orderBy("id_hash").execute();
}

describe.each(testDialects())("oidc adapter on $name", (dialect) => {
  const fresh = useTestStore(dialect);
  let store: KyselyStore;
  let clock: ManualClock;
  let adapter: AdapterFactory;

  beforeEach(() => {
    store = fresh.store();
    clock = new ManualClock(T0);
    adapter = factory(store, clock);
  });

  it("stores and finds a payload, gives its id back, and replaces it on a second upsert", async () => {
    const codes = adapter("AuthorizationCode");
    await codes.upsert(CODE, { jti: CODE, grantId: "g1", clientId: "app", kind: "AuthorizationCode" }, 60);
    expect(await codes.find(CODE)).toEqual({ jti: CODE, grantId: "g1", clientId: "app", kind: "AuthorizationCode" });
    // The same id under another model is another artifact.
    expect(await adapter("AccessToken").find(CODE)).toBeUndefined();
    expect(await codes.find("unknown")).toBeUndefined();

    await codes.upsert(CODE, { jti: CODE, grantId: "g1", clientId: "other", kind: "AuthorizationCode" }, 60);
    expect(await codes.find(CODE)).toMatchObject({ clientId: "other" });
    expect(await rows(store)).toHaveLength(1);
  });

  it("finds a session by uid and a device code by user code, ids restored from their sealed copy", async () => {
    const sessions = adapter("Session");
    await sessions.upsert(SESSION, { jti: SESSION, uid: SESSION_UID, accountId: "42", kind: "Session" }, 3600);
    expect(await sessions.findByUid(SESSION_UID)).toEqual({
      jti: SESSION,
      uid: SESSION_UID,
      accountId: "42",
      kind: "Session",
    });
    expect(await sessions.find(SESSION)).toMatchObject({ jti: SESSION, uid: SESSION_UID });
    expect(await sessions.findByUid("other-uid")).toBeUndefined();
    // A uid of another model is not a session's.
    expect(await adapter("Interaction").findByUid(SESSION_UID)).toBeUndefined();

    const devices = adapter("DeviceCode");
    await devices.upsert(DEVICE, { jti: DEVICE, userCode: "WDJB-MJHT", grantId: "g2", kind: "DeviceCode" }, 600);
    expect(await devices.findByUserCode("WDJB-MJHT")).toEqual({
      jti: DEVICE,
      userCode: "WDJB-MJHT",
      grantId: "g2",
      kind: "DeviceCode",
    });
    expect(await devices.findByUserCode("XXXX-XXXX")).toBeUndefined();
  });

  it("does not find a sealed id's artifact by uid once its key is gone", async () => {
    await adapter("Session").upsert(SESSION, { jti: SESSION, uid: SESSION_UID }, 3600);
    const otherKeys = oidcAdapterFactory(store, clock, {
      keyring: parseKeyring(`other:${Buffer.alloc(32, 9).toString("base64")}`),
      random: secureRandom,
    });
    expect(await otherKeys("Session").findByUid(SESSION_UID)).toBeUndefined();
    // Found by its id, it needs no key.
    expect(await otherKeys("Session").find(SESSION)).toMatchObject({ jti: SESSION });
  });

  it("keeps ids and uids only hashed: the raw values are nowhere in the rows", async () => {
    await adapter("AuthorizationCode").upsert(CODE, { jti: CODE, grantId: "g1", sessionUid: "not-secret" }, 60);
    await adapter("RefreshToken").upsert(REFRESH, { jti: REFRESH, grantId: "g1" }, 3600);
    await adapter("AccessToken").upsert(ACCESS, { jti: ACCESS, grantId: "g1" }, 3600);
    await adapter("Session").upsert(SESSION, { jti: SESSION, uid: SESSION_UID }, 3600);
    await adapter("DeviceCode").upsert(DEVICE, { jti: DEVICE, userCode: "WDJB-MJHT", grantId: "g2" }, 600);

    const stored = await rows(store);
    expect(stored).toHaveLength(5);
    const text = JSON.stringify(stored);
    for (const secret of [CODE, REFRESH, ACCESS, SESSION, DEVICE]) {
      expect(text).not.toContain(secret);
      expect(stored.some((row) => row.id_hash === sha256Hex(secret))).toBe(true);
    }
    const session = stored.find((row) => row.model === "Session");
    expect(session?.uid_hash).toBe(sha256Hex(SESSION_UID));
    // The uid is not a bearer secret (every token of the session carries it as sessionUid): the
    // payload keeps it, the lookup column only its hash.
    expect(JSON.parse(session?.payload ?? "{}")).toMatchObject({ uid: SESSION_UID });
  });

  it("stops finding an artifact at its expiry by the injected clock, plus the clock tolerance", async () => {
    await adapter("AuthorizationCode").upsert(CODE, { jti: CODE }, 60);
    await adapter("Grant").upsert("grant-1", { jti: "grant-1" });
    const tolerant = oidcAdapterFactory(store, clock, { keyring, random: secureRandom, clockToleranceSeconds: 15 });
    await tolerant("ReplayDetection").upsert("replay-1", { jti: "replay-1" }, 60);

    clock.set(T0 + 59_999);
    expect(await adapter("AuthorizationCode").find(CODE)).toBeDefined();
    clock.set(T0 + 60_000);
    expect(await adapter("AuthorizationCode").find(CODE)).toBeUndefined();
    expect(await adapter("ReplayDetection").find("replay-1")).toBeDefined();
    clock.set(T0 + 75_000);
    expect(await adapter("ReplayDetection").find("replay-1")).toBeUndefined();
    // Without an expiry, never.
    clock.set(T0 + 10 * 365 * 86_400_000);
    expect(await adapter("Grant").find("grant-1")).toMatchObject({ jti: "grant-1" });
  });

  it("marks an artifact consumed, in seconds, and keeps it consumed when it is written again", async () => {
    const codes = adapter("AuthorizationCode");
    await codes.upsert(CODE, { jti: CODE, grantId: "g1" }, 60);
    clock.set(T0 + 2_500);
    await codes.consume(CODE);
    expect(await codes.find(CODE)).toEqual({ jti: CODE, grantId: "g1", consumed: Math.floor((T0 + 2_500) / 1000) });
    await codes.upsert(CODE, { jti: CODE, grantId: "g1" }, 60);
    expect(await codes.find(CODE)).toMatchObject({ consumed: Math.floor((T0 + 2_500) / 1000) });
  });

  it("refuses a second consume with invalid_grant and revokes the whole grant", async () => {
    const codes = adapter("AuthorizationCode");
    await codes.upsert(CODE, { jti: CODE, grantId: "g1" }, 60);
    await adapter("AccessToken").upsert(ACCESS, { jti: ACCESS, grantId: "g1" }, 3600);
    await adapter("RefreshToken").upsert(REFRESH, { jti: REFRESH, grantId: "g1" }, 3600);
    await adapter("AccessToken").upsert("access-of-g2", { jti: "access-of-g2", grantId: "g2" }, 3600);

    await codes.consume(CODE);
    const second = codes.consume(CODE);
    await expect(second).rejects.toBeInstanceOf(errors.InvalidGrant);
    await expect(second).rejects.toMatchObject({ error: "invalid_grant", status: 400 });

    expect(await codes.find(CODE)).toBeUndefined();
    expect(await adapter("AccessToken").find(ACCESS)).toBeUndefined();
    expect(await adapter("RefreshToken").find(REFRESH)).toBeUndefined();
    expect((await rows(store)).map((row) => row.grant_id)).toEqual(["g2"]);
    // An artifact that is not there cannot be consumed either.
    await expect(codes.consume("never-stored")).rejects.toBeInstanceOf(errors.InvalidGrant);
  });

  it("refuses a pushed authorization request's second use as invalid_request_uri", async () => {
    const requests = adapter("PushedAuthorizationRequest");
    await requests.upsert("par-1", { jti: "par-1" }, 60);
    await requests.consume("par-1");
    await expect(requests.consume("par-1")).rejects.toBeInstanceOf(errors.InvalidRequestUri);
  });

  it("lets exactly one of ten concurrent consumes through", async () => {
    await adapter("RefreshToken").upsert(REFRESH, { jti: REFRESH, grantId: "g1" }, 3600);
    const results = await Promise.allSettled(
      Array.from({ length: 10 }, () => adapter("RefreshToken").consume(REFRESH)),
    );
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    const refused = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    expect(refused).toHaveLength(9);
    for (const r of refused) expect(r.reason).toBeInstanceOf(errors.InvalidGrant);
    expect(await rows(store)).toHaveLength(0);
  });

  it("revokes by grant id every model's rows of that grant and nothing else", async () => {
    await adapter("AuthorizationCode").upsert(CODE, { jti: CODE, grantId: "g1" }, 60);
    await adapter("AccessToken").upsert(ACCESS, { jti: ACCESS, grantId: "g1" }, 3600);
    await adapter("RefreshToken").upsert(REFRESH, { jti: REFRESH, grantId: "g1" }, 3600);
    await adapter("DeviceCode").upsert(DEVICE, { jti: DEVICE, grantId: "g1", userCode: "WDJB-MJHT" }, 600);
    await adapter("AccessToken").upsert("access-of-g2", { jti: "access-of-g2", grantId: "g2" }, 3600);
    await adapter("Session").upsert(SESSION, { jti: SESSION, uid: SESSION_UID }, 3600);
    await adapter("Grant").upsert("g1", { jti: "g1", accountId: "42" }, 3600);

    await adapter("AccessToken").revokeByGrantId("g1");
    const left = await rows(store);
    expect(left.map((row) => row.model).sort()).toEqual(["AccessToken", "Grant", "Session"]);
    expect(await adapter("AccessToken").find("access-of-g2")).toBeDefined();
    // The grant itself stays: whether it goes is oidc-provider's revokeGrantPolicy, through destroy().
    expect(await adapter("Grant").find("g1")).toBeDefined();
    await adapter("Grant").destroy("g1");
    expect(await adapter("Grant").find("g1")).toBeUndefined();
  });

  it("purges the rows past their expiry and only those", async () => {
    await adapter("AuthorizationCode").upsert(CODE, { jti: CODE }, 60);
    await adapter("AccessToken").upsert(ACCESS, { jti: ACCESS }, 3600);
    await adapter("Grant").upsert("g1", { jti: "g1" });
    expect(await store.purgeExpiredOidcPayloads(T0 + 60_000)).toBe(0);
    expect(await store.purgeExpiredOidcPayloads(T0 + 60_001)).toBe(1);
    expect((await rows(store)).map((row) => row.model)).toEqual(["AccessToken", "Grant"]);
    expect(await store.purgeExpiredOidcPayloads(T0 + 10_000_000)).toBe(1);
    expect((await rows(store)).map((row) => row.model)).toEqual(["Grant"]);
  });

  it("round-trips every store method on the raw rows", async () => {
    const base = { model: "M", payload: "{}", grantId: "g", uidHash: "u", userCode: "UC", expiresAt: T0 };
    await store.upsertOidcPayload({ ...base, idHash: "h1" });
    await store.upsertOidcPayload({ ...base, idHash: "h2", grantId: null, uidHash: null, userCode: null });
    expect(await store.findOidcPayload("M", "h1")).toEqual({ ...base, idHash: "h1", consumedAt: null });
    expect(await store.findOidcPayload("N", "h1")).toBeUndefined();
    expect(await store.findOidcPayloadByUid("M", "u")).toMatchObject({ idHash: "h1" });
    expect(await store.findOidcPayloadByUserCode("M", "UC")).toMatchObject({ idHash: "h1" });
    expect(await store.consumeOidcPayload("M", "h1", T0 + 1)).toBe(true);
    expect(await store.consumeOidcPayload("M", "h1", T0 + 2)).toBe(false);
    expect(await store.consumeOidcPayload("M", "nope", T0 + 2)).toBe(false);
    expect(await store.findOidcPayload("M", "h1")).toMatchObject({ consumedAt: T0 + 1 });
    await store.upsertOidcPayload({ ...base, idHash: "h1", expiresAt: null });
    expect(await store.findOidcPayload("M", "h1")).toMatchObject({ consumedAt: T0 + 1, expiresAt: null });
    expect(await store.revokeOidcGrant("g")).toBe(1);
    await store.destroyOidcPayload("M", "h2");
    expect(await rows(store)).toEqual([]);
  });

  it("takes Client from the models given, and refuses to build it otherwise", async () => {
    expect(() => adapter("Client")).toThrow(/options\.models\.Client/);
    const clients: Adapter = {
      upsert: async () => {},
      find: async (id) => (id === "app" ? { client_id: "app" } : undefined),
      findByUid: async () => undefined,
      findByUserCode: async () => undefined,
      consume: async () => {},
      destroy: async () => {},
      revokeByGrantId: async () => {},
    };
    const withClients = factory(store, clock, { Client: clients });
    expect(withClients("Client")).toBe(clients);
    expect(await withClients("Client").find("app")).toEqual({ client_id: "app" });
  });
});

describe.each(testDialects())("oidc adapter across connections on $name", (dialect) => {
  let database: TestDatabase;
  let dir: string | undefined;

  afterEach(async () => {
    await database.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("lets exactly one of several stores on one database consume a code", async () => {
    // PostgreSQL: one schema, three stores (three pools, as three nodes have); SQLite: one file, three connections.
    dir = dialect.name === "sqlite" ? tempDir() : undefined;
    database = await createTestDatabase(dialect, dir ? join(dir, "oidc.db") : undefined);
    const stores = [database.store(), database.store(), database.store()];
    await stores[0]?.migrate();
    const clock = new ManualClock(T0);
    const adapters = stores.map((s) => factory(s, clock)("AuthorizationCode"));
    await adapters[0]?.upsert(CODE, { jti: CODE, grantId: "g1" }, 60);
    await factory(stores[1] as KyselyStore, clock)("AccessToken").upsert(ACCESS, { jti: ACCESS, grantId: "g1" }, 60);

    const results = await Promise.allSettled(
      [...adapters, ...adapters, ...adapters].map((a) => (a as Adapter).consume(CODE)),
    );
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    for (const r of results) if (r.status === "rejected") expect(r.reason).toBeInstanceOf(errors.InvalidGrant);
    expect(await rows(stores[2] as KyselyStore)).toEqual([]);
  });
});

describe.each(testDialects())("oidc adapter in oidc-provider on $name", (dialect) => {
  const fresh = useTestStore(dialect);
  let store: KyselyStore;
  beforeEach(() => {
    store = fresh.store();
  });

  it("plugs into the Provider and carries an authorization code through save, find and consume", async () => {
    // The provider stamps iat and exp with the real time: the adapter's clock starts there too.
    const clock = new ManualClock(Date.now());
    const provider = new Provider("http://latchkey.test", {
      adapter: oidcAdapterFactory(store, clock, { keyring, random: secureRandom }),
      clients: [{ client_id: "app", client_secret: "a-secret", redirect_uris: ["https://app.example/cb"] }],
    }) as Provider & ProviderModels;

    const client = await provider.Client.find("app");
    const code = new provider.AuthorizationCode({
      client,
      accountId: "42",
      grantId: "grant-1",
      redirectUri: "https://app.example/cb",
      scope: "openid",
    });
    const value = await code.save();
    expect((await rows(store)).map((row) => [row.model, row.id_hash, row.grant_id])).toEqual([
      ["AuthorizationCode", sha256Hex(value), "grant-1"],
    ]);

    const found = await provider.AuthorizationCode.find(value);
    expect(found).toMatchObject({ jti: value, accountId: "42", grantId: "grant-1", clientId: "app" });
    expect(found?.consumed).toBeUndefined();
    await found?.consume();
    // A request that read the code before the consume above still sees it unconsumed, and is stopped
    // by the adapter all the same.
    await expect(found?.consume()).rejects.toBeInstanceOf(errors.InvalidGrant);
    expect(await provider.AuthorizationCode.find(value)).toBeUndefined();
  });
});

/** The parts of the provider's models this test touches (the declarations in src/oidc keep to the adapter). */
interface ProviderModels {
  Client: { find(id: string): Promise<unknown> };
  AuthorizationCode: {
    new (payload: Record<string, unknown>): { save(): Promise<string> };
    find(value: string): Promise<{ jti: string; consumed?: number; consume(): Promise<void> } | undefined>;
  };
}
