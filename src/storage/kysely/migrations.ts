import {
  type DatabaseIntrospector,
  type Kysely,
  type Migration,
  type MigrationProvider,
  type MigrationResultSet,
  Migrator,
  sql,
} from "kysely";
import type { Dialect } from "../store.js";

/**
 * Migrations live in code, append-only and date-prefixed: never edit one that has landed.
 * Each receives the dialect so that column types fit both SQLite and PostgreSQL.
 */
type DialectMigration = (dialect: Dialect) => Migration;

const migrations: Record<string, DialectMigration> = {
  "2026-11-27-001-foundation": (dialect) => ({
    async up(db: Kysely<unknown>) {
      const int64 = dialect === "postgres" ? "bigint" : "integer";
      await db.schema
        .createTable("users")
        .addColumn("id", dialect === "postgres" ? "bigserial" : "integer", (c) =>
          dialect === "postgres" ? c.primaryKey() : c.primaryKey().autoIncrement(),
        )
        .addColumn("email", "text", (c) => c.notNull())
        .addColumn("email_lower", "text", (c) => c.notNull().unique())
        .addColumn("password_hash", "text")
        .addColumn("disabled_at", int64)
        .addColumn("created_at", int64, (c) => c.notNull())
        .execute();
      await db.schema
        .createTable("sessions")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("user_id", int64, (c) => c.notNull().references("users.id").onDelete("cascade"))
        .addColumn("created_at", int64, (c) => c.notNull())
        .addColumn("expires_at", int64, (c) => c.notNull())
        .addColumn("revoked_at", int64)
        .addColumn("ip", "text")
        .addColumn("user_agent", "text")
        .execute();
      await db.schema.createIndex("sessions_user_id").on("sessions").column("user_id").execute();
      await db.schema
        .createTable("refresh_tokens")
        .addColumn("jti", "text", (c) => c.primaryKey())
        .addColumn("session_id", "text", (c) => c.notNull().references("sessions.id").onDelete("cascade"))
        .addColumn("issued_at", int64, (c) => c.notNull())
        .addColumn("used_at", int64)
        .execute();
      await db.schema.createIndex("refresh_tokens_session_id").on("refresh_tokens").column("session_id").execute();
      await db.schema
        .createTable("throttles")
        .addColumn("subject", "text", (c) => c.notNull())
        .addColumn("kind", "text", (c) => c.notNull())
        .addColumn("failures", "integer", (c) => c.notNull())
        .addColumn("next_allowed_at", int64, (c) => c.notNull())
        .addPrimaryKeyConstraint("throttles_pk", ["subject", "kind"])
        .execute();
      await db.schema
        .createTable("signing_keys")
        .addColumn("kid", "text", (c) => c.primaryKey())
        .addColumn("private_pem", "text", (c) => c.notNull())
        .addColumn("public_pem", "text", (c) => c.notNull())
        .addColumn("created_at", int64, (c) => c.notNull())
        .execute();
      await db.schema
        .createTable("user_totp")
        .addColumn("user_id", int64, (c) => c.primaryKey().references("users.id").onDelete("cascade"))
        .addColumn("secret_enc", "text")
        .addColumn("pending_secret_enc", "text")
        .addColumn("enabled_at", int64)
        .addColumn("last_used_step", int64)
        .execute();
      await db.schema
        .createTable("user_email_otp")
        .addColumn("user_id", int64, (c) => c.primaryKey().references("users.id").onDelete("cascade"))
        .addColumn("email", "text")
        .addColumn("pending_email", "text")
        .addColumn("enabled_at", int64)
        .execute();
      await db.schema
        .createTable("recovery_codes")
        .addColumn("user_id", int64, (c) => c.notNull().references("users.id").onDelete("cascade"))
        .addColumn("code_hash", "text", (c) => c.notNull())
        .addColumn("created_at", int64, (c) => c.notNull())
        .addColumn("used_at", int64)
        .addPrimaryKeyConstraint("recovery_codes_pk", ["user_id", "code_hash"])
        .execute();
    },
  }),
  "2026-11-27-002-two-factor": (dialect) => ({
    async up(db: Kysely<unknown>) {
      const int64 = dialect === "postgres" ? "bigint" : "integer";
      await db.schema
        .createTable("spent_partial_tokens")
        .addColumn("jti", "text", (c) => c.primaryKey())
        .addColumn("user_id", int64, (c) => c.notNull().references("users.id").onDelete("cascade"))
        .addColumn("expires_at", int64, (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex("spent_partial_tokens_expires_at")
        .on("spent_partial_tokens")
        .column("expires_at")
        .execute();
    },
  }),
  "2026-11-27-003-mail-codes": (dialect) => ({
    async up(db: Kysely<unknown>) {
      const int64 = dialect === "postgres" ? "bigint" : "integer";
      await db.schema
        .createTable("mail_codes")
        .addColumn("subject", "text", (c) => c.notNull())
        .addColumn("purpose", "text", (c) => c.notNull())
        .addColumn("id", "text", (c) => c.notNull())
        .addColumn("user_id", int64, (c) => c.references("users.id").onDelete("cascade"))
        .addColumn("target", "text", (c) => c.notNull())
        .addColumn("origin", "text")
        .addColumn("language", "text")
        .addColumn("code_hash", "text", (c) => c.notNull())
        .addColumn("kid", "text", (c) => c.notNull())
        .addColumn("tries", "integer", (c) => c.notNull().defaultTo(0))
        .addColumn("created_at", int64, (c) => c.notNull())
        .addColumn("expires_at", int64, (c) => c.notNull())
        .addColumn("consumed_at", int64)
        .addPrimaryKeyConstraint("mail_codes_pk", ["subject", "purpose"])
        .execute();
      await db.schema.createIndex("mail_codes_user_id").on("mail_codes").column("user_id").execute();
    },
  }),
  "2026-11-27-004-audit-events": (dialect) => ({
    async up(db: Kysely<unknown>) {
      const int64 = dialect === "postgres" ? "bigint" : "integer";
      await db.schema
        .createTable("audit_events")
        .addColumn("id", dialect === "postgres" ? "bigserial" : "integer", (c) =>
          dialect === "postgres" ? c.primaryKey() : c.primaryKey().autoIncrement(),
        )
        .addColumn("user_id", int64, (c) => c.notNull().references("users.id").onDelete("cascade"))
        .addColumn("type", "text", (c) => c.notNull())
        .addColumn("at", int64, (c) => c.notNull())
        .addColumn("ip", "text")
        .addColumn("user_agent", "text")
        .addColumn("details", "text")
        .execute();
      await db.schema.createIndex("audit_events_user_id").on("audit_events").columns(["user_id", "id"]).execute();
    },
  }),
  "2026-11-27-005-mail-code-expiry": () => ({
    async up(db: Kysely<unknown>) {
      // For the purge of dead codes on every send (issueMailCode).
      await db.schema.createIndex("mail_codes_expires_at").on("mail_codes").column("expires_at").execute();
    },
  }),
  "2026-12-02-001-token-revocation": () => ({
    async up(db: Kysely<unknown>) {
      // Partial tokens carry the generation they were issued under; revoking a user's sessions moves
      // it on, so a partial token issued before can no longer complete a login (§2).
      await db.schema
        .alterTable("users")
        .addColumn("token_generation", "integer", (c) => c.notNull().defaultTo(0))
        .execute();
      // The token a rotation returned, so a copy presented within the grace gets that same token (§2).
      await db.schema.alterTable("refresh_tokens").addColumn("replaced_by", "text").execute();
    },
  }),
  "2026-12-02-002-signing-key-activation": (dialect) => ({
    async up(db: Kysely<unknown>) {
      // A rotated key is published before it signs. Keys stored before this signed from their creation.
      const int64 = dialect === "postgres" ? "bigint" : "integer";
      await db.schema
        .alterTable("signing_keys")
        .addColumn("activates_at", int64, (c) => c.notNull().defaultTo(0))
        .execute();
      await sql`update signing_keys set activates_at = created_at`.execute(db);
    },
  }),
  "2026-12-02-003-signing-key-sealing": () => ({
    async up(db: Kysely<unknown>) {
      // The column holds the private key sealed with the encryption keyring. A migration has no
      // keyring: the plain PEMs already stored are sealed by the first node that starts after it.
      await db.schema.alterTable("signing_keys").renameColumn("private_pem", "private_key_enc").execute();
    },
  }),
  "2026-12-03-001-session-last-use": (dialect) => ({
    async up(db: Kysely<unknown>) {
      // When a session was last used (§6): its start, then each rotation and each access token issued
      // from its refresh token. The sessions already stored were last seen, as far as anyone knows, then.
      const int64 = dialect === "postgres" ? "bigint" : "integer";
      await db.schema
        .alterTable("sessions")
        .addColumn("last_used_at", int64, (c) => c.notNull().defaultTo(0))
        .execute();
      await sql`update sessions set last_used_at = created_at`.execute(db);
    },
  }),
  "2026-12-04-002-signup": () => ({
    async up(db: Kysely<unknown>) {
      // A pending sign-up is its confirmation code's row (purpose "signup", subject the address): the
      // chosen password's hash waits there, and goes with the row when the code is replaced or purged.
      await db.schema.alterTable("mail_codes").addColumn("password_hash", "text").execute();
    },
  }),
  "2026-12-05-001-passkeys": (dialect) => ({
    async up(db: Kysely<unknown>) {
      const int64 = dialect === "postgres" ? "bigint" : "integer";
      // A passkey's credential id is unique across the relying party: the key.
      await db.schema
        .createTable("passkeys")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("user_id", int64, (c) => c.notNull().references("users.id").onDelete("cascade"))
        .addColumn("public_key", "text", (c) => c.notNull())
        .addColumn("counter", int64, (c) => c.notNull())
        .addColumn("transports", "text", (c) => c.notNull())
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("backed_up", "integer", (c) => c.notNull())
        .addColumn("device_type", "text", (c) => c.notNull())
        .addColumn("created_at", int64, (c) => c.notNull())
        .addColumn("last_used_at", int64)
        .execute();
      await db.schema.createIndex("passkeys_user_id").on("passkeys").column("user_id").execute();
      // WebAuthn challenges: single use (taken by one DELETE … RETURNING), short-lived.
      await db.schema
        .createTable("webauthn_challenges")
        .addColumn("challenge", "text", (c) => c.primaryKey())
        .addColumn("purpose", "text", (c) => c.notNull())
        .addColumn("user_id", int64, (c) => c.references("users.id").onDelete("cascade"))
        .addColumn("expires_at", int64, (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex("webauthn_challenges_expires_at")
        .on("webauthn_challenges")
        .column("expires_at")
        .execute();
    },
  }),
  "2026-12-06-001-revocation-notices": (dialect) => ({
    async up(db: Kysely<unknown>) {
      // PostgreSQL tells every listening node, on commit, of each session revoked or deleted and each
      // user disabled, enabled or deleted, whoever wrote it (a node, the CLI, an operator's SQL).
      // Payload: "<schema> s <session id>" or "<schema> u <user id>". SQLite has one node: nothing.
      if (dialect !== "postgres") return;
      await sql`create function latchkey_notify_revocation() returns trigger language plpgsql as $$
        begin
          perform pg_notify('latchkey_revocations', tg_table_schema || ' '
            || case when tg_table_name = 'sessions' then 's' else 'u' end || ' '
            || case when tg_op = 'DELETE' then old.id::text else new.id::text end);
          return null;
        end $$`.execute(db);
      await sql`create trigger sessions_revocation_notice after update of revoked_at or delete on sessions
        for each row execute function latchkey_notify_revocation()`.execute(db);
      await sql`create trigger users_revocation_notice after update of disabled_at or delete on users
        for each row execute function latchkey_notify_revocation()`.execute(db);
    },
  }),
  "2026-12-07-001-oauth-clients": (dialect) => ({
    async up(db: Kysely<unknown>) {
      const int64 = dialect === "postgres" ? "bigint" : "integer";
      // The OAuth clients (the applications that sign in with Latchkey); the id is the client_id.
      // A null secret_hash is a public client; the secret itself is never stored, only its SHA-256.
      await db.schema
        .createTable("oauth_clients")
        .addColumn("id", "text", (c) => c.primaryKey())
        .addColumn("name", "text", (c) => c.notNull())
        .addColumn("secret_hash", "text")
        .addColumn("redirect_uris", "text", (c) => c.notNull())
        .addColumn("post_logout_redirect_uris", "text", (c) => c.notNull())
        .addColumn("scopes", "text", (c) => c.notNull())
        .addColumn("first_party", "integer", (c) => c.notNull())
        .addColumn("created_at", int64, (c) => c.notNull())
        .addColumn("updated_at", int64, (c) => c.notNull())
        .execute();
      await db.schema
        .createIndex("oauth_clients_created_at")
        .on("oauth_clients")
        .columns(["created_at", "id"])
        .execute();
      // The audit trail holds the clients' events too: those name a client and no user.
      if (dialect === "postgres") {
        await sql`alter table audit_events alter column user_id drop not null`.execute(db);
        await db.schema.alterTable("audit_events").addColumn("client_id", "text").execute();
      } else {
        // SQLite cannot drop a NOT NULL: the table is rebuilt with the same columns, key, foreign key
        // and indexes, its rows copied (ids kept, so the sequence goes on), in one transaction.
        await db.transaction().execute(async (trx) => {
          await trx.schema
            .createTable("audit_events_new")
            .addColumn("id", "integer", (c) => c.primaryKey().autoIncrement())
            .addColumn("user_id", int64, (c) => c.references("users.id").onDelete("cascade"))
            .addColumn("type", "text", (c) => c.notNull())
            .addColumn("at", int64, (c) => c.notNull())
            .addColumn("ip", "text")
            .addColumn("user_agent", "text")
            .addColumn("details", "text")
            .addColumn("client_id", "text")
            .execute();
          await sql`insert into audit_events_new (id, user_id, type, at, ip, user_agent, details, client_id)
            select id, user_id, type, at, ip, user_agent, details, null from audit_events`.execute(trx);
          await trx.schema.dropTable("audit_events").execute();
          await trx.schema.alterTable("audit_events_new").renameTo("audit_events").execute();
          await trx.schema.createIndex("audit_events_user_id").on("audit_events").columns(["user_id", "id"]).execute();
        });
      }
      await db.schema.createIndex("audit_events_client_id").on("audit_events").columns(["client_id", "id"]).execute();
    },
  }),
  "2026-12-07-002-oidc-payloads": (dialect) => ({
    async up(db: Kysely<unknown>) {
      // The OpenID provider's artifacts (codes, tokens, sessions, interactions, grants …), one row
      // each, keyed by model and the SHA-256 of the artifact's id: ids are bearer secrets, so only
      // their hash is at rest. Single use is one conditional UPDATE of consumed_at.
      const int64 = dialect === "postgres" ? "bigint" : "integer";
      await db.schema
        .createTable("oidc_payloads")
        .addColumn("model", "text", (c) => c.notNull())
        .addColumn("id_hash", "text", (c) => c.notNull())
        .addColumn("payload", "text", (c) => c.notNull())
        .addColumn("grant_id", "text")
        .addColumn("uid_hash", "text")
        .addColumn("user_code", "text")
        .addColumn("expires_at", int64)
        .addColumn("consumed_at", int64)
        .addPrimaryKeyConstraint("oidc_payloads_pk", ["model", "id_hash"])
        .execute();
      await db.schema.createIndex("oidc_payloads_grant_id").on("oidc_payloads").column("grant_id").execute();
      await db.schema
        .createIndex("oidc_payloads_uid_hash")
        .on("oidc_payloads")
        .columns(["model", "uid_hash"])
        .execute();
      await db.schema.createIndex("oidc_payloads_expires_at").on("oidc_payloads").column("expires_at").execute();
    },
  }),
  "2026-12-07-003-signing-key-algorithms": () => ({
    async up(db: Kysely<unknown>) {
      // The OpenID provider signs ID tokens with RS256 beside the Ed25519 keys of Latchkey's own
      // tokens: each key says its algorithm. Every key stored before is an Ed25519 key.
      await db.schema
        .alterTable("signing_keys")
        .addColumn("alg", "text", (c) => c.notNull().defaultTo("EdDSA"))
        .execute();
    },
  }),
  "2026-12-07-004-session-auth-methods": () => ({
    async up(db: Kysely<unknown>) {
      // What proved a session's sign-in ("password totp", "passkey" …), for the OpenID provider's amr
      // and acr. Sessions opened before it are left without: nothing is claimed for them.
      await db.schema.alterTable("sessions").addColumn("auth_methods", "text").execute();
    },
  }),
  "2026-12-07-005-client-id-token-alg": () => ({
    async up(db: Kysely<unknown>) {
      // The algorithm of a client's ID tokens: RS256 (what OpenID Connect requires every provider to
      // offer, and what clients expect unless told) or EdDSA for a client that asks for it.
      await db.schema
        .alterTable("oauth_clients")
        .addColumn("id_token_alg", "text", (c) => c.notNull().defaultTo("RS256"))
        .execute();
    },
  }),
};

class CodeMigrationProvider implements MigrationProvider {
  constructor(private readonly dialect: Dialect) {}
  async getMigrations(): Promise<Record<string, Migration>> {
    return Object.fromEntries(Object.entries(migrations).map(([name, make]) => [name, make(this.dialect)]));
  }
}

async function migrator(db: Kysely<unknown>, dialect: Dialect): Promise<Migrator> {
  // Kysely looks for its bookkeeping tables in every schema unless told which one: with several
  // schemas in one database (one per test suite, or per tenant) it would find another schema's table
  // and skip creating its own. Pin them to the connection's current schema.
  const migrationTableSchema = dialect === "postgres" ? await currentSchema(db) : undefined;
  return new Migrator({
    db: migrationTableSchema ? withCurrentSchemaIntrospection(db, migrationTableSchema) : db,
    provider: new CodeMigrationProvider(dialect),
    ...(migrationTableSchema ? { migrationTableSchema } : {}),
  });
}

function applied({ error, results }: MigrationResultSet): string[] {
  if (error) throw error instanceof Error ? error : new Error(String(error));
  return (results ?? []).filter((r) => r.status === "Success").map((r) => r.migrationName);
}

/** Applies every pending migration; safe to run from several nodes at once (Kysely takes a lock). */
export async function migrateToLatest(db: Kysely<unknown>, dialect: Dialect): Promise<string[]> {
  return applied(await (await migrator(db, dialect)).migrateToLatest());
}

/**
 * Applies the pending migrations up to and including `name`, and none after it: a database as an
 * earlier version left it, for the tests of a migration's handling of the rows already stored.
 */
export async function migrateUpTo(db: Kysely<unknown>, dialect: Dialect, name: string): Promise<string[]> {
  if (!(name in migrations)) throw new Error(`no migration named ${name}`);
  return applied(await (await migrator(db, dialect)).migrateTo(name));
}

/**
 * The migrator asks the introspector whether its two bookkeeping tables exist. Kysely's PostgreSQL
 * introspector reads every schema of the database and calls catalog functions that fail ("schema …
 * does not exist") when another session drops a schema meanwhile, as parallel test suites (or
 * tenants) do. The migrator gets an introspector that looks at `schema` only; everything else is
 * the same instance.
 */
function withCurrentSchemaIntrospection(db: Kysely<unknown>, schema: string): Kysely<unknown> {
  const introspection: DatabaseIntrospector = {
    getSchemas: () => db.introspection.getSchemas(),
    async getTables() {
      const result = await sql<{ name: string }>`
        select table_name as name from information_schema.tables where table_schema = ${schema}`.execute(db);
      return result.rows.map((row) => ({ name: row.name, schema, isView: false, columns: [] }));
    },
    async getMetadata() {
      return { tables: await this.getTables() };
    },
  };
  return new Proxy(db, {
    get(target, property) {
      if (property === "introspection") return introspection;
      // Kysely keeps its state in private fields: methods must run on the real instance.
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

async function currentSchema(db: Kysely<unknown>): Promise<string | undefined> {
  const result = await sql<{ schema: string | null }>`select current_schema() as schema`.execute(db);
  return result.rows[0]?.schema ?? undefined;
}

export async function pingDatabase(db: Kysely<unknown>): Promise<void> {
  await sql`select 1`.execute(db);
}
