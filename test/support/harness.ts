import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FastifyInstance } from "fastify";
import { Kysely, PostgresDialect, sql } from "kysely";
import pg from "pg";
import type { Logger } from "pino";
import { afterEach, beforeEach } from "vitest";
import { buildApp } from "../../src/app.js";
import { type Config, loadConfig } from "../../src/config/config.js";
import { createArgon2Hasher, type PasswordHasher } from "../../src/core/password/hasher.js";
import { buildDeps, type Deps } from "../../src/deps.js";
import { ManualClock } from "../../src/platform/clock.js";
import { secureRandom } from "../../src/platform/random.js";
import { ManualScheduler } from "../../src/platform/scheduler.js";
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
  store(options?: { sessionCache?: boolean; revocationRetryMs?: number }): KyselyStore;
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
    store(options = {}) {
      const store = openKyselyStore(dialect.url, { searchPath: schema, poolSize: 20, ...options });
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

/**
 * A migrated store on a database of its own for each test of the calling describe block (dropped
 * after it): `store()` and `database()` inside a test.
 */
export function useTestStore(dialect: TestDialect): { store(): KyselyStore; database(): TestDatabase } {
  let database: TestDatabase | undefined;
  let store: KyselyStore | undefined;
  beforeEach(async () => {
    database = await createTestDatabase(dialect);
    store = database.store();
    await store.migrate();
  });
  afterEach(async () => {
    await database?.drop();
  });
  const ready = <T>(value: T | undefined): T => {
    if (value === undefined) throw new Error("the store is made in beforeEach: call this inside a test");
    return value;
  };
  return { store: () => ready(store), database: () => ready(database) };
}

export interface TestApp {
  app: FastifyInstance;
  deps: Deps;
  /** The database the app runs on, for tests that read or change rows behind its back. */
  db: KyselyStore["db"];
  clock: ManualClock;
  /** The node's periodic work (the signing keys' reload), run only by `scheduler.fire()`. */
  scheduler: ManualScheduler;
  config: Config;
  /** The app's own temporary data directory (LATCHKEY_DATA_DIR: outbox, SQLite file), removed on close. */
  dataDir: string;
  createUser(email: string, password?: string | null): Promise<number>;
  close(): Promise<void>;
}

export interface TestAppOptions {
  env?: Record<string, string>;
  clock?: ManualClock;
  hasher?: PasswordHasher;
  /** Share a database with another app instance (two nodes). */
  database?: TestDatabase;
  /** PostgreSQL: the revocation feed's first pause before it connects again. */
  revocationRetryMs?: number;
  logger?: Logger;
}

/** A fresh directory under the system's temp folder; the caller removes it. */
export function tempDir(prefix = "latchkey-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/**
 * The app as `npm start` builds it, on a private database and a private data directory, so that a
 * test run leaves nothing in ./data. SQLite is a file in that directory, not an in-memory database:
 * the suites then go through the production read path (the query-only reader and the commit watch).
 */
export async function createTestApp(dialect: TestDialect, options: TestAppOptions = {}): Promise<TestApp> {
  const dataDir = tempDir();
  let database = options.database;
  let deps: Deps | undefined;
  const cleanUp = async () => {
    await deps?.close();
    if (!options.database) await database?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    database ??= await createTestDatabase(
      dialect,
      dialect.name === "sqlite" ? join(dataDir, "latchkey.db") : undefined,
    );
    const clock = options.clock ?? new ManualClock();
    const config = loadConfig({
      LATCHKEY_ISSUER: "http://latchkey.test",
      LATCHKEY_LOG_LEVEL: "silent",
      LATCHKEY_ENCRYPTION_KEYS: TEST_ENCRYPTION_KEYS,
      LATCHKEY_DATA_DIR: dataDir,
      ...options.env,
    });
    const hasher = options.hasher ?? testHasher;
    const scheduler = new ManualScheduler();
    const store = database.store({
      sessionCache: config.sessionCache,
      ...(options.revocationRetryMs === undefined ? {} : { revocationRetryMs: options.revocationRetryMs }),
    });
    deps = await buildDeps(config, {
      clock,
      scheduler,
      hasher,
      store,
      ...(options.logger ? { logger: options.logger } : {}),
    });
    const app = await buildApp(deps);
    await app.ready();
    const built = deps;
    return {
      app,
      deps: built,
      db: store.db,
      clock,
      scheduler,
      config,
      dataDir,
      async createUser(email, password = "Correct7Horse") {
        return built.store.createUser({
          email,
          passwordHash: password === null ? null : await hasher.hash(password),
          createdAt: clock.now(),
        });
      },
      async close() {
        await app.close();
        await cleanUp();
      },
    };
  } catch (error) {
    await cleanUp();
    throw error;
  }
}
