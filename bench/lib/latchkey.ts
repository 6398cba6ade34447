/** One Latchkey server under test: a database prepared and seeded in bulk, then the server as a child. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseKeyring } from "../../src/core/secrets/keyring.js";
import { newSigningKey, type SigningKey } from "./ids.js";
import { type Child, freePort, ROOT, startChild, waitReady } from "./proc.js";
import {
  createSchema,
  dropSchema,
  passwordHash,
  postgresUrlWithSchema,
  type SeedSpec,
  seedPostgres,
  seedSqlite,
} from "./seed.js";

export type DatabaseKind = "sqlite" | "postgres";

/**
 * The databases a run measures: `list` is the `--databases` option (`sqlite,postgres`); without it,
 * SQLite, and PostgreSQL when its URL is set. Throws on an unknown name, or on PostgreSQL without a URL.
 */
export function chosenDatabases(list: string | undefined, postgresSet: boolean): DatabaseKind[] {
  const all: DatabaseKind[] = postgresSet ? ["sqlite", "postgres"] : ["sqlite"];
  if (list === undefined) return all;
  const asked = list.split(",").filter((name) => name !== "");
  for (const name of asked) {
    if (name !== "sqlite" && name !== "postgres") throw new Error(`--databases: unknown database ${name}`);
    if (name === "postgres" && !postgresSet) throw new Error("--databases postgres needs LATCHKEY_BENCH_POSTGRES_URL");
  }
  if (asked.length === 0) throw new Error("--databases: name at least one database");
  return all.filter((name) => asked.includes(name));
}

export const ENCRYPTION_KEYS = `bench:${Buffer.alloc(32, 42).toString("base64")}`;

export interface LatchkeyServer {
  readonly database: DatabaseKind;
  readonly url: string;
  /** The server's metrics listener (memory figures); the API's listener does not serve them. */
  readonly metricsUrl: string;
  readonly issuer: string;
  readonly key: SigningKey;
  readonly child: Child;
  /** Stops the server and removes its data (temp directory, PostgreSQL schema). */
  close(): Promise<void>;
}

let hashOnce: Promise<string> | undefined;

export async function startLatchkey(
  database: DatabaseKind,
  spec: SeedSpec,
  postgresUrl: string | undefined,
  log: (line: string) => void,
  nodeFlags: string[] = [],
  settings: Record<string, string> = {},
): Promise<LatchkeyServer> {
  const dataDir = mkdtempSync(join(tmpdir(), "latchkey-bench-"));
  const schema = `bench_${process.pid}_${Math.floor(Math.random() * 1e9).toString(36)}`;
  const cleanups: Array<() => Promise<void> | void> = [() => rmSync(dataDir, { recursive: true, force: true })];
  const cleanup = async () => {
    for (const step of cleanups.reverse()) await step();
  };
  try {
    const key = newSigningKey();
    const keyring = parseKeyring(ENCRYPTION_KEYS);
    hashOnce ??= passwordHash();
    const hash = await hashOnce;
    const port = await freePort();
    let metricsPort = await freePort();
    while (metricsPort === port) metricsPort = await freePort();
    const issuer = `http://127.0.0.1:${port}`;
    const seeded = performance.now();
    let databaseUrl: string;
    if (database === "sqlite") {
      const file = join(dataDir, "latchkey.db");
      await seedSqlite(file, spec, key, keyring, hash);
      databaseUrl = `sqlite:${file}`;
    } else {
      if (!postgresUrl) throw new Error("LATCHKEY_BENCH_POSTGRES_URL is not set");
      await createSchema(postgresUrl, schema);
      cleanups.push(() => dropSchema(postgresUrl, schema));
      await seedPostgres(postgresUrl, schema, spec, key, keyring, hash);
      databaseUrl = postgresUrlWithSchema(postgresUrl, schema);
    }
    const users = spec.plainUsers + spec.totpUsers;
    log(`  ${database}: seeded ${users} users and sessions in ${((performance.now() - seeded) / 1000).toFixed(1)} s`);
    const child = startChild(
      "src/start.cts",
      [],
      {
        LATCHKEY_HOST: "127.0.0.1",
        LATCHKEY_PORT: String(port),
        LATCHKEY_METRICS_PORT: String(metricsPort),
        LATCHKEY_ISSUER: issuer,
        LATCHKEY_DATA_DIR: dataDir,
        LATCHKEY_DATABASE_URL: databaseUrl,
        LATCHKEY_RATE_LIMIT_PER_MINUTE: "1000000",
        LATCHKEY_ENCRYPTION_KEYS: ENCRYPTION_KEYS,
        LATCHKEY_MAIL_DIR: join(ROOT, "mail"),
        ...settings,
      },
      nodeFlags,
    );
    cleanups.push(() => child.stop());
    await waitReady(child, `${issuer}/health/ready`);
    const metricsUrl = `http://127.0.0.1:${metricsPort}`;
    return { database, url: issuer, metricsUrl, issuer, key, child, close: cleanup };
  } catch (error) {
    await cleanup();
    throw error;
  }
}
