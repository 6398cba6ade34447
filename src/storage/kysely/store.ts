import { type Kysely, sql, type Transaction } from "kysely";
import type { ThrottleState } from "../../core/throttle/throttle.js";
import {
  type AuditEventRecord,
  type Dialect,
  EmailTakenError,
  type IssueMailCodeResult,
  type MailCodeKey,
  type MailCodePurpose,
  type MailCodeRecord,
  type NewMailCode,
  type NewSession,
  type RefreshTokenStatus,
  type SessionStatus,
  type SigningKeyRecord,
  type Store,
  type TotpState,
  type TwoFactorRecord,
  type UserRecord,
} from "../store.js";
import * as admin from "./admin.js";
import { preparedReadsOf } from "./connect.js";
import { lockUser } from "./locks.js";
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

/** The last method gone turns 2FA off, and its recovery codes go with it (§3 life cycle). */
async function dropRecoveryCodesIfLastMethod(trx: Transaction<Database>, userId: number): Promise<void> {
  if (!(await anyMethodActive(trx, userId))) {
    await trx.deleteFrom("recovery_codes").where("user_id", "=", userId).execute();
  }
}

/** Whether any second factor is active (the same rule as core/twofactor/state.ts), inside `trx`. */
async function anyMethodActive(trx: Transaction<Database>, userId: number): Promise<boolean> {
  const [totp, emailOtp] = await Promise.all([
    trx.selectFrom("user_totp").select("enabled_at").where("user_id", "=", userId).executeTakeFirst(),
    trx.selectFrom("user_email_otp").select("enabled_at").where("user_id", "=", userId).executeTakeFirst(),
  ]);
  return totp?.enabled_at != null || emailOtp?.enabled_at != null;
}

async function writeRecoveryCodes(
  trx: Transaction<Database>,
  userId: number,
  codeHashes: string[],
  now: number,
): Promise<void> {
  await trx.deleteFrom("recovery_codes").where("user_id", "=", userId).execute();
  if (codeHashes.length === 0) return;
  await trx
    .insertInto("recovery_codes")
    .values(codeHashes.map((code_hash) => ({ user_id: userId, code_hash, created_at: now, used_at: null })))
    .execute();
}

/** The conditional UPDATE that spends a mailed code; true only for the caller that changed the row. */
async function consumeMailCodeIn(
  db: Kysely<Database> | Transaction<Database>,
  input: { key: MailCodeKey; codeHash: string; now: number; maxTries: number },
): Promise<boolean> {
  const result = await db
    .updateTable("mail_codes")
    .set({ consumed_at: input.now })
    .where("subject", "=", input.key.subject)
    .where("purpose", "=", input.key.purpose)
    .where("id", "=", input.key.id)
    .where("code_hash", "=", input.codeHash)
    .where("consumed_at", "is", null)
    .where("expires_at", ">", input.now)
    .where("tries", "<=", input.maxTries)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** One Store for SQLite and PostgreSQL, over Kysely. */
/** The row of the one-read second-factor state. */
interface TwoFactorRow {
  totp_user: number | null;
  secret_enc: string | null;
  pending_secret_enc: string | null;
  totp_enabled_at: number | null;
  email_user: number | null;
  email: string | null;
  pending_email: string | null;
  email_enabled_at: number | null;
  codes_created_at: number | string | null;
  codes_total: number | string;
  codes_used: number | string;
}

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

  /** The three second-factor records of a user in one read (every login and every `GET /user/2fa`). */
  async twoFactor(userId: number): Promise<TwoFactorRecord> {
    const { rows } = await sql<TwoFactorRow>`
      select t.user_id as totp_user, t.secret_enc, t.pending_secret_enc, t.enabled_at as totp_enabled_at,
        e.user_id as email_user, e.email, e.pending_email, e.enabled_at as email_enabled_at,
        r.created_at as codes_created_at, r.total as codes_total, r.used as codes_used
      from (select min(created_at) as created_at, count(*) as total, count(used_at) as used
            from recovery_codes where user_id = ${userId}) r
      left join user_totp t on t.user_id = ${userId}
      left join user_email_otp e on e.user_id = ${userId}`.execute(this.db);
    const row = rows[0];
    const total = Number(row?.codes_total ?? 0);
    return {
      totp:
        row && row.totp_user !== null
          ? { secretEnc: row.secret_enc, pendingSecretEnc: row.pending_secret_enc, enabledAt: row.totp_enabled_at }
          : undefined,
      emailOtp:
        row && row.email_user !== null
          ? { email: row.email as string, pendingEmail: row.pending_email, enabledAt: row.email_enabled_at }
          : undefined,
      recoveryCodes:
        row && total > 0 && row.codes_created_at !== null
          ? { createdAt: Number(row.codes_created_at), remaining: total - Number(row.codes_used) }
          : undefined,
    };
  }

  async createSession(session: NewSession, refreshJti: string): Promise<void> {
    if (this.dialect === "postgres") {
      // One statement, so one round trip: both rows or neither.
      await sql`
        with s as (
          insert into sessions (id, user_id, created_at, expires_at, revoked_at, ip, user_agent)
          values (${session.id}, ${session.userId}, ${session.createdAt}, ${session.expiresAt}, null,
                  ${session.ip}, ${session.userAgent})
          returning id)
        insert into refresh_tokens (jti, session_id, issued_at, used_at)
        select ${refreshJti}, s.id, ${session.createdAt}, null from s`.execute(this.db);
      return;
    }
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
    // Every access-token validation comes here: a statement prepared once where the database allows.
    const prepared = preparedReadsOf(this.db);
    const row = prepared
      ? await prepared.sessionStatus(sessionId)
      : await this.db
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
    const prepared = preparedReadsOf(this.db);
    const row = prepared
      ? await prepared.refreshTokenStatus(jti)
      : await this.db
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

  // Two-factor (issue 3). Atomicity is documented on the Store interface.

  async totpState(userId: number): Promise<TotpState | undefined> {
    const row = await this.db.selectFrom("user_totp").selectAll().where("user_id", "=", userId).executeTakeFirst();
    if (!row) return undefined;
    return {
      secretEnc: row.secret_enc,
      pendingSecretEnc: row.pending_secret_enc,
      enabledAt: row.enabled_at,
      lastUsedStep: row.last_used_step,
    };
  }

  async setPendingTotpSecret(userId: number, pendingSecretEnc: string): Promise<void> {
    await this.db
      .insertInto("user_totp")
      .values({
        user_id: userId,
        secret_enc: null,
        pending_secret_enc: pendingSecretEnc,
        enabled_at: null,
        last_used_step: null,
      })
      .onConflict((oc) => oc.column("user_id").doUpdateSet({ pending_secret_enc: pendingSecretEnc }))
      .execute();
  }

  async activateTotp(input: {
    userId: number;
    pendingSecretEnc: string;
    step: number;
    now: number;
    recoveryCodeHashes: string[];
  }): Promise<{ activated: boolean; recoveryCodesCreated: boolean }> {
    return this.db.transaction().execute(async (trx) => {
      if (!(await lockUser(trx, input.userId))) return { activated: false, recoveryCodesCreated: false };
      const wasOn = await anyMethodActive(trx, input.userId);
      const activated = await trx
        .updateTable("user_totp")
        .set({
          secret_enc: input.pendingSecretEnc,
          pending_secret_enc: null,
          enabled_at: input.now,
          last_used_step: input.step,
        })
        .where("user_id", "=", input.userId)
        .where("pending_secret_enc", "=", input.pendingSecretEnc)
        .executeTakeFirst();
      if (Number(activated.numUpdatedRows) !== 1) return { activated: false, recoveryCodesCreated: false };
      if (wasOn) return { activated: true, recoveryCodesCreated: false };
      await writeRecoveryCodes(trx, input.userId, input.recoveryCodeHashes, input.now);
      return { activated: true, recoveryCodesCreated: true };
    });
  }

  async useTotpStep(input: { userId: number; secretEnc: string; step: number }): Promise<boolean> {
    const result = await this.db
      .updateTable("user_totp")
      .set({ last_used_step: input.step })
      .where("user_id", "=", input.userId)
      .where("enabled_at", "is not", null)
      .where("secret_enc", "=", input.secretEnc)
      .where((eb) => eb.or([eb("last_used_step", "is", null), eb("last_used_step", "<", input.step)]))
      .executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async deactivateTotp(userId: number): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      if (!(await lockUser(trx, userId))) return false;
      const result = await trx
        .updateTable("user_totp")
        .set({ secret_enc: null, pending_secret_enc: null, enabled_at: null })
        .where("user_id", "=", userId)
        .where("enabled_at", "is not", null)
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) !== 1) return false;
      await dropRecoveryCodesIfLastMethod(trx, userId);
      return true;
    });
  }

  async useRecoveryCode(input: { userId: number; codeHashes: string[]; now: number }): Promise<boolean> {
    if (input.codeHashes.length === 0) return false;
    const result = await this.db
      .updateTable("recovery_codes")
      .set({ used_at: input.now })
      .where("user_id", "=", input.userId)
      .where("code_hash", "in", input.codeHashes)
      .where("used_at", "is", null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  }

  async replaceRecoveryCodes(input: { userId: number; codeHashes: string[]; now: number }): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      if (!(await lockUser(trx, input.userId))) return false;
      if (!(await anyMethodActive(trx, input.userId))) return false;
      await writeRecoveryCodes(trx, input.userId, input.codeHashes, input.now);
      return true;
    });
  }

  async spendPartialToken(input: { jti: string; userId: number; expiresAt: number; now: number }): Promise<boolean> {
    await this.db.deleteFrom("spent_partial_tokens").where("expires_at", "<", input.now).execute();
    const inserted = await this.db
      .insertInto("spent_partial_tokens")
      .values({ jti: input.jti, user_id: input.userId, expires_at: input.expiresAt })
      .onConflict((oc) => oc.column("jti").doNothing())
      .executeTakeFirst();
    return Number(inserted.numInsertedOrUpdatedRows ?? 0) === 1;
  }

  async partialTokenSpent(jti: string): Promise<boolean> {
    const row = await this.db
      .selectFrom("spent_partial_tokens")
      .select("jti")
      .where("jti", "=", jti)
      .executeTakeFirst();
    return row !== undefined;
  }

  async addRefreshToken(input: { jti: string; sessionId: string; issuedAt: number }): Promise<void> {
    await this.db
      .insertInto("refresh_tokens")
      .values({ jti: input.jti, session_id: input.sessionId, issued_at: input.issuedAt, used_at: null })
      .execute();
  }

  // Mail codes and email (issue 4). Atomicity is documented on the Store interface.

  async issueMailCode(code: NewMailCode, sentBefore: number): Promise<IssueMailCodeResult> {
    const generation = {
      id: code.id,
      user_id: code.userId,
      target: code.target,
      origin: code.origin,
      language: code.language,
      code_hash: code.codeHash,
      kid: code.kid,
      tries: 0,
      created_at: code.createdAt,
      expires_at: code.expiresAt,
      consumed_at: null,
    };
    const written = await this.db
      .insertInto("mail_codes")
      .values({ subject: code.subject, purpose: code.purpose, ...generation })
      .onConflict((oc) =>
        oc.columns(["subject", "purpose"]).doUpdateSet(generation).where("mail_codes.created_at", "<=", sentBefore),
      )
      .returning("id")
      .executeTakeFirst();
    if (written) return { issued: true };
    const lastSentAt = await this.mailCodeSentAt(code.subject, code.purpose);
    return { issued: false, lastSentAt: lastSentAt ?? code.createdAt };
  }

  async withdrawMailCode(key: MailCodeKey): Promise<void> {
    await this.db
      .deleteFrom("mail_codes")
      .where("subject", "=", key.subject)
      .where("purpose", "=", key.purpose)
      .where("id", "=", key.id)
      .execute();
  }

  async mailCodeSentAt(subject: string, purpose: MailCodePurpose): Promise<number | undefined> {
    const row = await this.db
      .selectFrom("mail_codes")
      .select("created_at")
      .where("subject", "=", subject)
      .where("purpose", "=", purpose)
      .executeTakeFirst();
    return row?.created_at;
  }

  async claimMailCodeTry(input: {
    subject: string;
    purpose: MailCodePurpose;
    now: number;
    maxTries: number;
  }): Promise<MailCodeRecord | undefined> {
    const row = await this.db
      .updateTable("mail_codes")
      .set((eb) => ({ tries: eb("tries", "+", 1) }))
      .where("subject", "=", input.subject)
      .where("purpose", "=", input.purpose)
      .where("consumed_at", "is", null)
      .where("expires_at", ">", input.now)
      .where("tries", "<", input.maxTries)
      .returningAll()
      .executeTakeFirst();
    if (!row) return undefined;
    return {
      subject: row.subject,
      purpose: row.purpose as MailCodePurpose,
      id: row.id,
      userId: row.user_id,
      target: row.target,
      origin: row.origin,
      language: row.language,
      codeHash: row.code_hash,
      kid: row.kid,
      tries: row.tries,
      createdAt: row.created_at,
      expiresAt: row.expires_at,
      consumedAt: row.consumed_at,
    };
  }

  async consumeMailCode(input: { key: MailCodeKey; codeHash: string; now: number; maxTries: number }) {
    return consumeMailCodeIn(this.db, input);
  }

  async changeEmailWithMailCode(input: {
    key: MailCodeKey;
    codeHash: string;
    now: number;
    maxTries: number;
    userId: number;
    newEmail: string;
  }): Promise<"changed" | "invalid" | "taken"> {
    try {
      return await this.db.transaction().execute(async (trx) => {
        if (!(await consumeMailCodeIn(trx, input))) return "invalid";
        await trx
          .updateTable("users")
          .set({ email: input.newEmail, email_lower: input.newEmail.toLowerCase() })
          .where("id", "=", input.userId)
          .execute();
        return "changed";
      });
    } catch (error) {
      if (isUniqueViolation(error)) return "taken";
      throw error;
    }
  }

  async setPendingEmailOtp(userId: number, email: string): Promise<void> {
    await this.db
      .insertInto("user_email_otp")
      .values({ user_id: userId, email: null, pending_email: email, enabled_at: null })
      .onConflict((oc) => oc.column("user_id").doUpdateSet({ pending_email: email }))
      .execute();
  }

  async activateEmailOtp(input: {
    userId: number;
    email: string;
    now: number;
    recoveryCodeHashes: string[];
  }): Promise<{ activated: boolean; recoveryCodesCreated: boolean }> {
    return this.db.transaction().execute(async (trx) => {
      if (!(await lockUser(trx, input.userId))) return { activated: false, recoveryCodesCreated: false };
      const wasOn = await anyMethodActive(trx, input.userId);
      const active = { email: input.email, pending_email: null, enabled_at: input.now };
      await trx
        .insertInto("user_email_otp")
        .values({ user_id: input.userId, ...active })
        .onConflict((oc) => oc.column("user_id").doUpdateSet(active))
        .execute();
      if (wasOn) return { activated: true, recoveryCodesCreated: false };
      await writeRecoveryCodes(trx, input.userId, input.recoveryCodeHashes, input.now);
      return { activated: true, recoveryCodesCreated: true };
    });
  }

  async deactivateEmailOtp(userId: number): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      if (!(await lockUser(trx, userId))) return false;
      const result = await trx
        .updateTable("user_email_otp")
        .set({ email: null, enabled_at: null })
        .where("user_id", "=", userId)
        .where("enabled_at", "is not", null)
        .executeTakeFirst();
      if (Number(result.numUpdatedRows) !== 1) return false;
      await dropRecoveryCodesIfLastMethod(trx, userId);
      return true;
    });
  }

  // Administration and audit trail (statements in admin.ts).
  recordAuditEvent(event: AuditEventRecord): Promise<void> {
    return admin.recordAuditEvent(this.db, event);
  }

  listAuditEvents(query: { userId: number; offset: number; limit: number }) {
    return admin.listAuditEvents(this.db, query);
  }

  setUserDisabled(userId: number, disabledAt: number | null): Promise<boolean> {
    return admin.setUserDisabled(this.db, userId, disabledAt);
  }

  countLiveSessions(userId: number, now: number): Promise<number> {
    return admin.countLiveSessions(this.db, userId, now);
  }

  resetTwoFactor(userId: number): Promise<boolean> {
    return admin.resetTwoFactor(this.db, userId);
  }

  listSealedTotpSecrets() {
    return admin.listSealedTotpSecrets(this.db);
  }

  swapSealedTotpSecret(input: { userId: number; pending: boolean; from: string; to: string }): Promise<boolean> {
    return admin.swapSealedTotpSecret(this.db, input);
  }

  ping(): Promise<void> {
    return pingDatabase(this.db as Kysely<unknown>);
  }

  close(): Promise<void> {
    return this.db.destroy();
  }
}
