import { generateKeyPairSync } from "node:crypto";
import { sql } from "kysely";
import { afterEach, describe, expect, it } from "vitest";
import { reencryptSigningKeys, reencryptTotpSecrets } from "../src/core/flows/keys.js";
import {
  bearer,
  createTestApp,
  createTestDatabase,
  type TestApp,
  type TestDatabase,
  testDialects,
} from "./support/harness.js";
import { authenticateTotp, codeAt, enrolTotp, login } from "./two-factor/support.js";

const OLD = `old:${Buffer.alloc(32, 1).toString("base64")}`;
const NEW = `new:${Buffer.alloc(32, 2).toString("base64")}`;

describe.each(testDialects())("encryption key rotation on $name", (dialect) => {
  let database: TestDatabase;
  const apps: TestApp[] = [];
  afterEach(async () => {
    await Promise.all(apps.splice(0).map((t) => t.close()));
    await database.drop();
  });

  async function openDatabase(): Promise<TestDatabase> {
    database = await createTestDatabase(
      dialect,
      dialect.name === "sqlite" ? `/tmp/lk-keys-${process.pid}.db` : undefined,
    );
    return database;
  }

  async function node(keys: string): Promise<TestApp> {
    const app = await createTestApp(dialect, { database, env: { LATCHKEY_ENCRYPTION_KEYS: keys } });
    apps.push(app);
    return app;
  }

  /** What the signing_keys table holds for each kid, as another process would read it. */
  async function storedPrivateKeys(t: TestApp): Promise<Map<string, string>> {
    const rows = await t.db.selectFrom("signing_keys").select(["kid", "private_key_enc"]).execute();
    return new Map(rows.map((row) => [row.kid, row.private_key_enc]));
  }

  async function accessToken(t: TestApp): Promise<string> {
    const refresh = await t.app.inject({
      method: "POST",
      url: "/auth/login",
      payload: { username: "bob@example.com", password: "Correct7Horse" },
    });
    return (await t.app.inject({ method: "GET", url: "/auth/accesstoken", headers: bearer(refresh.body) })).body;
  }

  const validate = (t: TestApp, token: string) =>
    t.app.inject({ method: "GET", url: "/auth/accesstoken/validate", headers: bearer(token) });

  it("moves every TOTP secret to the active key; the old key can then go", async () => {
    await openDatabase();
    const before = await node(OLD);
    const enrolled = await enrolTotp(before);

    const both = await node(`${NEW},${OLD}`);
    both.clock.set(before.clock.now());
    expect(await reencryptTotpSecrets(both.deps.flow)).toEqual({ checked: 1, reencrypted: 1, unreadable: 0 });
    expect(await reencryptTotpSecrets(both.deps.flow)).toEqual({ checked: 1, reencrypted: 0, unreadable: 0 });
    const [row] = await both.deps.store.listSealedTotpSecrets();
    expect(row?.secretEnc).toMatch(/^v1\.new\./);
    // `keys reencrypt` moves the signing keys too; without that the node below would not start.
    expect(await reencryptSigningKeys(both.deps.flow)).toMatchObject({ reencrypted: 1 });

    const after = await node(NEW);
    after.clock.set(before.clock.now());
    const partial = await login(after, "alice@example.com");
    const res = await authenticateTotp(after, partial, codeAt(enrolled.totp, after.clock.now()));
    expect(res.statusCode).toBe(200);
  });

  it("seals signing keys with the encryption key and moves them to a new one; tokens keep verifying", async () => {
    await openDatabase();
    const before = await node(OLD);
    await before.createUser("bob@example.com");
    const token = await accessToken(before);
    const [kid] = [...(await storedPrivateKeys(before)).keys()];
    expect((await storedPrivateKeys(before)).get(kid ?? "")).toMatch(/^v1\.old\./);

    const both = await node(`${NEW},${OLD}`);
    both.clock.set(before.clock.now());
    expect(await reencryptSigningKeys(both.deps.flow)).toEqual({ checked: 1, reencrypted: 1, unreadable: 0 });
    expect(await reencryptSigningKeys(both.deps.flow)).toEqual({ checked: 1, reencrypted: 0, unreadable: 0 });
    expect((await storedPrivateKeys(both)).get(kid ?? "")).toMatch(/^v1\.new\./);

    const after = await node(NEW);
    after.clock.set(before.clock.now());
    expect((await validate(after, token)).statusCode).toBe(200);
    const signedAfter = await accessToken(after);
    expect((await validate(before, signedAfter)).statusCode).toBe(200);
  });

  it("refuses to start, naming the key, when a signing key cannot be opened", async () => {
    await openDatabase();
    const before = await node(OLD);
    const [kid] = [...(await storedPrivateKeys(before)).keys()];
    await expect(node(NEW)).rejects.toThrow(
      new RegExp(`signing key ${kid} cannot be opened with LATCHKEY_ENCRYPTION_KEYS`),
    );
  });

  it("seals a key an earlier version stored in clear when nodes start, however many start together", async () => {
    await openDatabase();
    const setup = database.store();
    await setup.migrate();
    // As the earlier version stored it: the plain PKCS#8 PEM, no activation time (the migration's default).
    const pair = generateKeyPairSync("ed25519");
    const pem = pair.privateKey.export({ format: "pem", type: "pkcs8" }).toString();
    const publicPem = pair.publicKey.export({ format: "pem", type: "spki" }).toString();
    await sql`insert into signing_keys (kid, private_key_enc, public_pem, created_at)
      values ('legacy', ${pem}, ${publicPem}, ${Date.UTC(2025, 0, 1)})`.execute(setup.db);

    const [a, b] = await Promise.all([node(`${NEW},${OLD}`), node(`${NEW},${OLD}`)]);
    const stored = (await storedPrivateKeys(a)).get("legacy") ?? "";
    expect(stored).toMatch(/^v1\.new\./);
    expect(stored).not.toContain("PRIVATE KEY");
    await a.createUser("bob@example.com");
    const token = await accessToken(a);
    expect(JSON.parse(Buffer.from(token.split(".")[0] ?? "", "base64url").toString()).kid).toBe("legacy");
    expect((await validate(b, token)).statusCode).toBe(200);
    expect(a.deps.keys.active().privateKey.export({ format: "pem", type: "pkcs8" }).toString()).toBe(pem);

    // One written in clear while nodes run (an earlier version's node) is sealed by `keys reencrypt` too.
    await sql`insert into signing_keys (kid, private_key_enc, public_pem, created_at)
      values ('late', ${pem}, ${publicPem}, ${Date.UTC(2025, 0, 2)})`.execute(setup.db);
    expect(await reencryptSigningKeys(a.deps.flow)).toEqual({ checked: 2, reencrypted: 1, unreadable: 0 });
    expect((await storedPrivateKeys(a)).get("late")).toMatch(/^v1\.new\./);
  });
});
