import { afterEach, describe, expect, it } from "vitest";
import { reencryptTotpSecrets } from "../src/core/flows/keys.js";
import { createTestApp, createTestDatabase, type TestApp, type TestDatabase, testDialects } from "./support/harness.js";
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

  it("moves every TOTP secret to the active key; the old key can then go", async () => {
    database = await createTestDatabase(
      dialect,
      dialect.name === "sqlite" ? `/tmp/lk-keys-${process.pid}.db` : undefined,
    );
    const before = await createTestApp(dialect, { database, env: { LATCHKEY_ENCRYPTION_KEYS: OLD } });
    apps.push(before);
    const enrolled = await enrolTotp(before);

    const both = await createTestApp(dialect, { database, env: { LATCHKEY_ENCRYPTION_KEYS: `${NEW},${OLD}` } });
    apps.push(both);
    both.clock.set(before.clock.now());
    expect(await reencryptTotpSecrets(both.deps.flow)).toEqual({ checked: 1, reencrypted: 1, unreadable: 0 });
    expect(await reencryptTotpSecrets(both.deps.flow)).toEqual({ checked: 1, reencrypted: 0, unreadable: 0 });
    const [row] = await both.deps.store.listSealedTotpSecrets();
    expect(row?.secretEnc).toMatch(/^v1\.new\./);

    const after = await createTestApp(dialect, { database, env: { LATCHKEY_ENCRYPTION_KEYS: NEW } });
    apps.push(after);
    after.clock.set(before.clock.now());
    const partial = await login(after, "alice@example.com");
    const res = await authenticateTotp(after, partial, codeAt(enrolled.totp, after.clock.now()));
    expect(res.statusCode).toBe(200);
  });
});
