/**
 * Bulk seeding straight through SQL (never through the API). The schema comes from the app's own
 * migrations; TOTP secrets are sealed with the app's keyring, exactly as the TOTP flow seals them.
 *
 * Users 1..plainUsers have a password and one live session (with a refresh token when asked);
 * users plainUsers+1..plainUsers+totpUsers additionally have TOTP and ten recovery codes.
 */
import SQLite from "better-sqlite3";
import pg from "pg";
import { createArgon2Hasher, MIN_ARGON2_PARAMS } from "../../src/core/password/hasher.js";
import type { Keyring } from "../../src/core/secrets/keyring.js";
import { signingKeyAad } from "../../src/core/tokens/signing-keys.js";
import { secureRandom } from "../../src/platform/random.js";
import { openKyselyStore } from "../../src/storage/kysely/store.js";
import { BENCH_PASSWORD, email, refreshJti, type SigningKey, sessionId, totpSecret } from "./ids.js";

export interface SeedSpec {
  plainUsers: number;
  totpUsers: number;
  refreshTokens: boolean;
}

const SESSION_TTL_MS = 14 * 86_400_000;
const RECOVERY_CODES = 10;

/** The aad the TOTP flow seals a user's secret under (src/core/flows/two-factor/totp.ts). */
function totpAad(userId: number): string {
  return `totp:${userId}`;
}

/** The signing key's private part sealed as the server stores it (src/core/tokens/signing-keys.ts). */
function sealedPrivateKey(key: SigningKey, keyring: Keyring): string {
  return keyring.encrypt(Buffer.from(key.privatePem), signingKeyAad(key.kid), secureRandom);
}

async function migrate(url: string, searchPath?: string): Promise<void> {
  const store = openKyselyStore(url, searchPath ? { searchPath } : {});
  try {
    await store.migrate();
  } finally {
    await store.close();
  }
}

export async function passwordHash(): Promise<string> {
  return createArgon2Hasher(MIN_ARGON2_PARAMS).hash(BENCH_PASSWORD);
}

export async function seedSqlite(
  file: string,
  spec: SeedSpec,
  key: SigningKey,
  keyring: Keyring,
  hash: string,
): Promise<void> {
  await migrate(`sqlite:${file}`);
  const db = new SQLite(file);
  try {
    db.pragma("journal_mode = WAL");
    db.pragma("synchronous = OFF");
    db.pragma("cache_size = -262144");
    const now = Date.now();
    const insertUser = db.prepare(
      "insert into users (id, email, email_lower, password_hash, disabled_at, created_at) values (?, ?, ?, ?, null, ?)",
    );
    const insertSession = db.prepare(
      "insert into sessions (id, user_id, created_at, expires_at, revoked_at, ip, user_agent, last_used_at) values (?, ?, ?, ?, null, '127.0.0.1', 'bench', ?)",
    );
    const insertRefresh = db.prepare(
      "insert into refresh_tokens (jti, session_id, issued_at, used_at) values (?, ?, ?, null)",
    );
    const insertTotp = db.prepare(
      "insert into user_totp (user_id, secret_enc, pending_secret_enc, enabled_at, last_used_step) values (?, ?, null, ?, null)",
    );
    const insertCode = db.prepare(
      "insert into recovery_codes (user_id, code_hash, created_at, used_at) values (?, ?, ?, null)",
    );
    const total = spec.plainUsers + spec.totpUsers;
    db.transaction(() => {
      db.prepare("insert into signing_keys (kid, private_key_enc, public_pem, created_at) values (?, ?, ?, ?)").run(
        key.kid,
        sealedPrivateKey(key, keyring),
        key.publicPem,
        now,
      );
      for (let i = 1; i <= total; i++) {
        const mail = email(i);
        insertUser.run(i, mail, mail, hash, now);
        const sid = sessionId(i);
        insertSession.run(sid, i, now, now + SESSION_TTL_MS, now);
        if (spec.refreshTokens) insertRefresh.run(refreshJti(i), sid, now);
        if (i > spec.plainUsers) {
          insertTotp.run(i, keyring.encrypt(totpSecret(i), totpAad(i), secureRandom), now);
          for (let k = 1; k <= RECOVERY_CODES; k++) insertCode.run(i, `${refreshJti(i)}-${k}`, now);
        }
      }
    })();
    db.pragma("wal_checkpoint(TRUNCATE)");
  } finally {
    db.close();
  }
}

/** Runs `work` with a client whose search_path is `schema`. */
async function withClient<T>(url: string, schema: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, options: `-c search_path=${schema}` });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

export async function createSchema(url: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`create schema ${schema}`);
  } finally {
    await client.end();
  }
}

export async function dropSchema(url: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`drop schema if exists ${schema} cascade`);
  } finally {
    await client.end();
  }
}

export async function seedPostgres(
  url: string,
  schema: string,
  spec: SeedSpec,
  key: SigningKey,
  keyring: Keyring,
  hash: string,
): Promise<void> {
  await migrate(url, schema);
  const now = Date.now();
  const total = spec.plainUsers + spec.totpUsers;
  await withClient(url, schema, async (client) => {
    await client.query("begin");
    await client.query(
      "insert into signing_keys (kid, private_key_enc, public_pem, created_at) values ($1, $2, $3, $4)",
      [key.kid, sealedPrivateKey(key, keyring), key.publicPem, now],
    );
    await client.query(
      `insert into users (id, email, email_lower, password_hash, disabled_at, created_at)
       select i, 'user' || i || '@bench.example', 'user' || i || '@bench.example', $1, null, $2
       from generate_series(1, $3::bigint) as i`,
      [hash, now, total],
    );
    await client.query("select setval(pg_get_serial_sequence('users', 'id'), $1::bigint)", [total]);
    await client.query(
      `insert into sessions (id, user_id, created_at, expires_at, revoked_at, ip, user_agent, last_used_at)
       select md5('bench-session-' || i)::uuid::text, i, $1, $2, null, '127.0.0.1', 'bench', $1
       from generate_series(1, $3::bigint) as i`,
      [now, now + SESSION_TTL_MS, total],
    );
    if (spec.refreshTokens) {
      await client.query(
        `insert into refresh_tokens (jti, session_id, issued_at, used_at)
         select md5('bench-refresh-' || i), md5('bench-session-' || i)::uuid::text, $1, null
         from generate_series(1, $2::bigint) as i`,
        [now, total],
      );
    }
    if (spec.totpUsers > 0) {
      await client.query(
        `insert into recovery_codes (user_id, code_hash, created_at, used_at)
         select u, md5('bench-refresh-' || u) || '-' || k, $1, null
         from generate_series($2::bigint, $3::bigint) as u, generate_series(1, ${RECOVERY_CODES}) as k`,
        [now, spec.plainUsers + 1, total],
      );
      // Sealing needs the keyring, so TOTP rows go in multi-row batches from here.
      const BATCH = 1000;
      for (let first = spec.plainUsers + 1; first <= total; first += BATCH) {
        const values: unknown[] = [];
        const rows: string[] = [];
        for (let i = first; i < Math.min(first + BATCH, total + 1); i++) {
          const n = values.length;
          rows.push(`($${n + 1}::bigint, $${n + 2}, null, $${n + 3}::bigint, null)`);
          values.push(i, keyring.encrypt(totpSecret(i), totpAad(i), secureRandom), now);
        }
        await client.query(
          `insert into user_totp (user_id, secret_enc, pending_secret_enc, enabled_at, last_used_step) values ${rows.join(",")}`,
          values,
        );
      }
    }
    await client.query("commit");
    await client.query("analyze");
  });
}

/** The database URL a server uses to live in `schema` (pg reads `options` from the URL's query). */
export function postgresUrlWithSchema(url: string, schema: string): string {
  const parsed = new URL(url);
  parsed.searchParams.set("options", `-c search_path=${schema}`);
  return parsed.toString();
}
