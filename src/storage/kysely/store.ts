import { type Kysely, sql } from "kysely";
import type { ThrottleState } from "../../core/throttle/throttle.js";
import {
  type Dialect,
  EmailTakenError,
  type NewSession,
  type RefreshTokenStatus,
  type SessionStatus,
  type SigningKeyRecord,
  type Store,
  type TwoFactorRecord,
  type UserRecord,
} from "../store.js";
import { migrateToLatest, pingDatabase } from "./migrations.js";
import type { Database, UsersTable } from "./schema.js";

type UserRow = { [K in keyof UsersTable]: K extends "id" ? number : UsersTable[K] };

function toUser(row: UserRow): UserRecord {
  return {
    id: row.id,
    email: row.email,
    passwordHash: row.password_hash,
    disabledAt: row.disabled_at,
    createdAt: row.created_at,
  };
}

function isUniqueViolation(error: unknown): boolean {
  const e = error as { code?: string };
  return e.code === "23505" || e.code === "SQLITE_CONSTRAINT_UNIQUE" || e.code === "SQLITE_CONSTRAINT_PRIMARYKEY";
}

/** One Store for SQLite and PostgreSQL, over Kysely. */
export class KyselyStore implements Store {
  constructor(
    readonly db: Kysely<Database>,
    readonly dialect: Dialect,
  ) {}

  migrate(): Promise<string[]> {
    return migrateToLatest(this.db as Kysely<unknown>, this.dialect);
  }

  async createUser(input: { email: string; passwordHash: string | null; createdAt: number }): Promise<number> {
    try {
      const row = await this.db
        .insertInto("users")
        .values({
          email: input.email,
          email_lower: input.email.toLowerCase(),
          password_hash: input.passwordHash,
          disabled_at: null,
          created_at: input.createdAt,
        })
        .returning("id")
        .executeTakeFirstOrThrow();
      return row.id;
    } catch (error) {
      if (isUniqueViolation(error)) throw new EmailTakenError();
      throw error;
    }
  }

  async findUserByEmail(email: string): Promise<UserRecord | undefined> {
    const row = await this.db
      .selectFrom("users")
      .selectAll()
      .where("email_lower", "=", email.toLowerCase())
      .executeTakeFirst();
    return row ? toUser(row) : undefined;
  }

  async findUserById(id: number): Promise<UserRecord | undefined> {
    const row = await this.db.selectFrom("users").selectAll().where("id", "=", id).executeTakeFirst();
    return row ? toUser(row) : undefined;
  }

  async listUsers(query: { emailContains?: string; offset: number; limit: number }) {
    let base = this.db.selectFrom("users");
    if (query.emailContains) {
      const escaped = query.emailContains.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`);
      base = base.where(sql<boolean>`email_lower like ${`%${escaped}%`} escape '\\'`);
    }
    const [rows, count] = await Promise.all([
      base.selectAll().orderBy("id", "desc").offset(query.offset).limit(query.limit).execute(),
      base.select((eb) => eb.fn.countAll<number | string>().as("n")).executeTakeFirstOrThrow(),
    ]);
    return { users: rows.map(toUser), total: Number(count.n) };
  }

  async deleteUser(id: number): Promise<boolean> {
    const result = await this.db.deleteFrom("users").where("id", "=", id).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  }

  async setPasswordHash(userId: number, passwordHash: string): Promise<void> {
    await this.db.updateTable("users").set({ password_hash: passwordHash }).where("id", "=", userId).execute();
  }

  async twoFactor(userId: number): Promise<TwoFactorRecord> {
    const [totp, emailOtp, codes] = await Promise.all([
      this.db.selectFrom("user_totp").selectAll().where("user_id", "=", userId).executeTakeFirst(),
      this.db.selectFrom("user_email_otp").selectAll().where("user_id", "=", userId).executeTakeFirst(),
      this.db
        .selectFrom("recovery_codes")
        .select((eb) => [
          eb.fn.min("created_at").as("created_at"),
          eb.fn.countAll<number | string>().as("total"),
          eb.fn.count<number | string>("used_at").as("used"),
        ])
        .where("user_id", "=", userId)
        .executeTakeFirst(),
    ]);
    const total = Number(codes?.total ?? 0);
    return {
      totp: totp
        ? { secretEnc: totp.secret_enc, pendingSecretEnc: totp.pending_secret_enc, enabledAt: totp.enabled_at }
        : undefined,
      emailOtp: emailOtp
        ? { email: emailOtp.email, pendingEmail: emailOtp.pending_email, enabledAt: emailOtp.enabled_at }
        : undefined,
      recoveryCodes:
        total > 0 && codes?.created_at != null
          ? { createdAt: Number(codes.created_at), remaining: total - Number(codes.used) }
          : undefined,
    };
  }

  async createSession(session: NewSession, refreshJti: string): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx
        .insertInto("sessions")
        .values({
          id: session.id,
          user_id: session.userId,
          created_at: session.createdAt,
          expires_at: session.expiresAt,
          revoked_at: null,
          ip: session.ip,
          user_agent: session.userAgent,
        })
        .execute();
      await trx
        .insertInto("refresh_tokens")
        .values({ jti: refreshJti, session_id: session.id, issued_at: session.createdAt, used_at: null })
        .execute();
    });
  }

  async sessionStatus(sessionId: string): Promise<SessionStatus | undefined> {
    const row = await this.db
      .selectFrom("sessions")
      .innerJoin("users", "users.id", "sessions.user_id")
      .select(["sessions.user_id", "sessions.revoked_at", "sessions.expires_at", "users.disabled_at"])
      .where("sessions.id", "=", sessionId)
      .executeTakeFirst();
    if (!row) return undefined;
    return {
      userId: row.user_id,
      revokedAt: row.revoked_at,
      expiresAt: row.expires_at,
      userDisabled: row.disabled_at !== null,
    };
  }

  async refreshTokenStatus(jti: string): Promise<RefreshTokenStatus | undefined> {
    const row = await this.db
      .selectFrom("refresh_tokens")
      .innerJoin("sessions", "sessions.id", "refresh_tokens.session_id")
      .innerJoin("users", "users.id", "sessions.user_id")
      .select([
        "refresh_tokens.session_id",
        "refresh_tokens.used_at",
        "sessions.user_id",
        "sessions.revoked_at",
        "sessions.expires_at",
        "users.disabled_at",
      ])
      .where("refresh_tokens.jti", "=", jti)
      .executeTakeFirst();
    if (!row) return undefined;
    return {
      sessionId: row.session_id,
      usedAt: row.used_at,
      userId: row.user_id,
      revokedAt: row.revoked_at,
      expiresAt: row.expires_at,
      userDisabled: row.disabled_at !== null,
    };
  }

  async rotateRefreshToken(input: { jti: string; newJti: string; sessionId: string; now: number }): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const marked = await trx
        .updateTable("refresh_tokens")
        .set({ used_at: input.now })
        .where("jti", "=", input.jti)
        .where("used_at", "is", null)
        .executeTakeFirst();
      await trx
        .insertInto("refresh_tokens")
        .values({ jti: input.newJti, session_id: input.sessionId, issued_at: input.now, used_at: null })
        .execute();
      return Number(marked.numUpdatedRows) === 1;
    });
  }

  async revokeSession(sessionId: string, now: number): Promise<boolean> {
    const result = await this.db
      .updateTable("sessions")
      .set({ revoked_at: now })
      .where("id", "=", sessionId)
      .where("revoked_at", "is", null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async revokeUserSessions(userId: number, now: number, keepSessionId?: string): Promise<number> {
    let query = this.db
      .updateTable("sessions")
      .set({ revoked_at: now })
      .where("user_id", "=", userId)
      .where("revoked_at", "is", null);
    if (keepSessionId !== undefined) query = query.where("id", "!=", keepSessionId);
    const result = await query.executeTakeFirst();
    return Number(result.numUpdatedRows);
  }

  async getThrottle(subject: string, kind: string): Promise<ThrottleState | undefined> {
    const row = await this.db
      .selectFrom("throttles")
      .select(["failures", "next_allowed_at"])
      .where("subject", "=", subject)
      .where("kind", "=", kind)
      .executeTakeFirst();
    return row ? { failures: row.failures, nextAllowedAt: row.next_allowed_at } : undefined;
  }

  async swapThrottle(
    subject: string,
    kind: string,
    expected: ThrottleState | undefined,
    next: ThrottleState,
  ): Promise<boolean> {
    if (expected === undefined) {
      const inserted = await this.db
        .insertInto("throttles")
        .values({ subject, kind, failures: next.failures, next_allowed_at: next.nextAllowedAt })
        .onConflict((oc) => oc.columns(["subject", "kind"]).doNothing())
        .executeTakeFirst();
      return Number(inserted.numInsertedOrUpdatedRows ?? 0) === 1;
    }
    const updated = await this.db
      .updateTable("throttles")
      .set({ failures: next.failures, next_allowed_at: next.nextAllowedAt })
      .where("subject", "=", subject)
      .where("kind", "=", kind)
      .where("failures", "=", expected.failures)
      .where("next_allowed_at", "=", expected.nextAllowedAt)
      .executeTakeFirst();
    return Number(updated.numUpdatedRows) === 1;
  }

  async resetThrottle(subject: string, kind: string): Promise<void> {
    await this.db.deleteFrom("throttles").where("subject", "=", subject).where("kind", "=", kind).execute();
  }

  async listSigningKeys(): Promise<SigningKeyRecord[]> {
    const rows = await this.db.selectFrom("signing_keys").selectAll().orderBy("created_at", "asc").execute();
    return rows.map((r) => ({
      kid: r.kid,
      privatePem: r.private_pem,
      publicPem: r.public_pem,
      createdAt: r.created_at,
    }));
  }

  async insertSigningKey(key: SigningKeyRecord): Promise<void> {
    await this.db
      .insertInto("signing_keys")
      .values({ kid: key.kid, private_pem: key.privatePem, public_pem: key.publicPem, created_at: key.createdAt })
      .execute();
  }

  async deleteSigningKeysBefore(createdBefore: number, keepKid: string): Promise<number> {
    const result = await this.db
      .deleteFrom("signing_keys")
      .where("created_at", "<", createdBefore)
      .where("kid", "!=", keepKid)
      .executeTakeFirst();
    return Number(result.numDeletedRows);
  }

  ping(): Promise<void> {
    return pingDatabase(this.db as Kysely<unknown>);
  }

  close(): Promise<void> {
    return this.db.destroy();
  }
}
