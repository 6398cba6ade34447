import { rmSync } from "node:fs";
import type { FastifyInstance } from "fastify";
import { Kysely, PostgresDialect, sql } from "kysely";
import pg from "pg";
import type { Logger } from "pino";
import { buildApp } from "../../src/app.js";
import { type Config, loadConfig } from "../../src/config/config.js";
import { createArgon2Hasher, type PasswordHasher } from "../../src/core/password/hasher.js";
import { buildDeps, type Deps } from "../../src/deps.js";
import { ManualClock } from "../../src/platform/clock.js";
import { secureRandom } from "../../src/platform/random.js";
import { ManualScheduler } from "../../src/platform/scheduler.js";
import type { Database } from "../../src/storage/kysely/schema.js";
import { type KyselyStore, openKyselyStore } from "../../src/storage/kysely/store.js";

export interface TestDialect {
  name: "sqlite" | "postgres";
  url: string;
}

/**
 * The databases every suite runs on: SQLite always, PostgreSQL when LATCHKEY_TEST_POSTGRES_URL is
 * set. Under CI a missing PostgreSQL URL is an error, not a silent skip.
 */
export function testDialects(): TestDialect[] {
  const postgresUrl = process.env.LATCHKEY_TEST_POSTGRES_URL;
  if (!postgresUrl && process.env.CI === "true") {
    throw new Error("CI=true but LATCHKEY_TEST_POSTGRES_URL is not set: the PostgreSQL suite is required");
  }
  const dialects: TestDialect[] = [{ name: "sqlite", url: "sqlite::memory:" }];
  if (postgresUrl) dialects.push({ name: "postgres", url: postgresUrl });
  return dialects;
}

export const TEST_ENCRYPTION_KEYS = `test1:${Buffer.alloc(32, 7).toString("base64")}`;

/** Cheap argon2id parameters for tests; production enforces the §4 minimum through config. */
export const testHasher: PasswordHasher = createArgon2Hasher({ memoryKib: 1024, iterations: 1, parallelism: 1 });

/** A private database: an in-memory SQLite or a fresh PostgreSQL schema, dropped by `drop()`. */
export interface TestDatabase {
  store(): KyselyStore;
  drop(): Promise<void>;
}

export async function createTestDatabase(dialect: TestDialect, sqliteFile?: string): Promise<TestDatabase> {
  if (dialect.name === "sqlite") {
    const url = sqliteFile ? `sqlite:${sqliteFile}` : dialect.url;
    const opened: KyselyStore[] = [];
    return {
      store() {
        const store = openKyselyStore(url);
        opened.push(store);
        return store;
      },
      async drop() {
        await Promise.all(opened.map((s) => s.close()));
        if (sqliteFile) for (const suffix of ["", "-wal", "-shm"]) rmSync(`${sqliteFile}${suffix}`, { force: true });
      },
    };
  }
  const schema = `t_${secureRandom.bytes(8).toString("hex")}`;
  const admin = new Kysely<unknown>({
    dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: dialect.url, max: 1 }) }),
  });
  await sql`create schema ${sql.id(schema)}`.execute(admin);
  const opened: KyselyStore[] = [];
  return {
    store() {
      const store = openKyselyStore(dialect.url, { searchPath: schema, poolSize: 20 });
      opened.push(store);
      return store;
    },
    async drop() {
      await Promise.all(opened.map((s) => s.close()));
      await sql`drop schema ${sql.id(schema)} cascade`.execute(admin);
      await admin.destroy();
    },
  };
}

export interface TestApp {
  app: FastifyInstance;
  deps: Deps;
  /** The app's database, for tests that read or change tables directly (the app itself sees only the Store). */
  db: Kysely<Database>;
  clock: ManualClock;
  /** The node's periodic work (the signing keys' reload), run only by `scheduler.fire()`. */
  scheduler: ManualScheduler;
  config: Config;
  createUser(email: string, password?: string | null): Promise<number>;
  close(): Promise<void>;
}

export interface TestAppOptions {
  env?: Record<string, string>;
  clock?: ManualClock;
  hasher?: PasswordHasher;
  /** Share a database with another app instance (two nodes). */
  database?: TestDatabase;
  logger?: Logger;
}

export async function createTestApp(dialect: TestDialect, options: TestAppOptions = {}): Promise<TestApp> {
  const database = options.database ?? (await createTestDatabase(dialect));
  const clock = options.clock ?? new ManualClock();
  const config = loadConfig({
    LATCHKEY_ISSUER: "http://latchkey.test",
    LATCHKEY_LOG_LEVEL: "silent",
    LATCHKEY_ENCRYPTION_KEYS: TEST_ENCRYPTION_KEYS,
    ...options.env,
  });
  const hasher = options.hasher ?? testHasher;
  const scheduler = new ManualScheduler();
  const store = database.store();
  const deps = await buildDeps(config, {
    clock,
    scheduler,
    hasher,
    store,
    ...(options.logger ? { logger: options.logger } : {}),
  });
  const app = await buildApp(deps);
  await app.ready();
  return {
    app,
    deps,
    db: store.db,
    clock,
    scheduler,
    config,
    async createUser(email, password = "Correct7Horse") {
      return deps.store.createUser({
        email,
        passwordHash: password === null ? null : await hasher.hash(password),
        createdAt: clock.now(),
      });
    },
    async close() {
      await app.close();
      await deps.close();
      if (!options.database) await database.drop();
    },
  };
}

export function bearer(token: string): { authorization: string } {
  return { authorization: `Bearer ${token}` };
}
