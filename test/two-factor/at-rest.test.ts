import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sql } from "kysely";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  createTestApp,
  createTestDatabase,
  type TestApp,
  type TestDatabase,
  testDialects,
} from "../support/harness.js";
import { authenticateTotp, codeAt, enrolTotp, login, post, tokensOf } from "./support.js";

describe.each(testDialects())("secrets at rest on $name", (dialect) => {
  let dir: string;
  let database: TestDatabase;
  let t: TestApp;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "latchkey-at-rest-"));
    database = await createTestDatabase(dialect, join(dir, "latchkey.sqlite"));
    t = await createTestApp(dialect, { database });
  });
  afterEach(async () => {
    await t.close();
    await database.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Everything the database holds, as bytes: the SQLite files, or every table of the PostgreSQL schema. */
  async function rawDatabase(): Promise<Buffer> {
    if (dialect.name === "sqlite") {
      return Buffer.concat(readdirSync(dir).map((name) => readFileSync(join(dir, name))));
    }
    const db = t.db;
    const tables = await sql<{ table_name: string }>`
      select table_name from information_schema.tables where table_schema = current_schema()`.execute(db);
    expect(tables.rows.map((row) => row.table_name)).toContain("user_totp");
    const dumps: string[] = [];
    for (const { table_name } of tables.rows) {
      const rows = await sql`select * from ${sql.table(table_name)}`.execute(db);
      dumps.push(JSON.stringify(rows.rows));
    }
    return Buffer.from(dumps.join("\n"));
  }

  it("holds neither the TOTP secret nor any recovery code in clear", async () => {
    const { totp, recoveryCodes } = await enrolTotp(t);
    // A pending secret from a second setup is sealed too.
    const tokens = tokensOf(
      await authenticateTotp(t, await login(t, "alice@example.com"), codeAt(totp, t.clock.now())),
    );
    const pendingUrl: string = (await post(t, "/user/2fa/totp/setup", tokens.sudoToken, {})).json().url;
    const pendingBase32 = new URL(pendingUrl).searchParams.get("secret") ?? "";
    const fresh: string[] = (await post(t, "/user/2fa/recovery-code/reset", tokens.sudoToken, {})).json().recoveryCodes;

    const raw = await rawDatabase();
    expect(raw.length).toBeGreaterThan(0);
    const text = raw.toString("latin1");
    expect(text).toContain("alice@example.com"); // the dump does see the data
    for (const secret of [totp.secret.base32, pendingBase32]) {
      expect(secret).toMatch(/^[A-Z2-7]{32}$/);
      expect(text).not.toContain(secret);
      expect(text.toLowerCase()).not.toContain(secret.toLowerCase());
    }
    expect(raw.includes(Buffer.from(totp.secret.bytes))).toBe(false);
    expect(raw.includes(Buffer.from(totp.secret.hex, "latin1"))).toBe(false);
    for (const code of [...recoveryCodes, ...fresh]) {
      expect(text).not.toContain(code);
      expect(text).not.toContain(code.toLowerCase());
    }
  });

  it("holds no signing private key in clear", async () => {
    await t.deps.keys.rotate(); // a key not signing yet is sealed too
    await t.deps.keys.reload();
    const raw = await rawDatabase();
    const text = raw.toString("latin1");
    expect(text).not.toContain("PRIVATE KEY");
    const kids = t.deps.keys.jwks().keys.map((jwk) => jwk.kid ?? "");
    expect(kids).toHaveLength(2);
    for (const kid of kids) {
      expect(text).toContain(kid); // the dump does see the keys' rows
      const { privateKey } = (await t.deps.keys.find(kid)) ?? expect.fail(`key ${kid} is loaded`);
      const der = privateKey.export({ format: "der", type: "pkcs8" });
      const seed = Buffer.from(privateKey.export({ format: "jwk" }).d ?? "", "base64url");
      expect(seed).toHaveLength(32);
      for (const material of [der, seed]) {
        expect(raw.includes(material)).toBe(false);
        for (const encoding of ["base64", "base64url", "hex"] as const) {
          expect(text).not.toContain(material.toString(encoding));
        }
      }
    }
  });
});
