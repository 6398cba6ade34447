import { type Kysely, sql } from "kysely";
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
  type PartialTokenCompletion,
  type PasswordChange,
  type PasswordLoginEnd,
  type PasswordLoginStart,
  type PasswordLoginStarted,
  type PasswordResetWithCode,
  type RefreshSuccessor,
  type RefreshTokenStatus,
  type SessionStatus,
  type SigningKeyRecord,
  type Store,
  type TotpState,
  type TwoFactorRecord,
  type UserRecord,
} from "../store.js";
import * as admin from "./admin.js";
import * as credentials from "./credentials.js";
import { isUniqueViolation } from "./errors.js";
import * as mailCodes from "./mail-codes.js";
import { migrateToLatest, pingDatabase } from "./migrations.js";
import { type Database, emailKey, type UsersTable } from "./schema.js";
import * as sessions from "./sessions.js";
import * as signingKeys from "./signing-keys.js";
import * as throttles from "./throttles.js";
import * as twoFactor from "./two-factor.js";

type UserRow = { [K in keyof UsersTable]: K extends "id" | "token_generation" ? number : UsersTable[K] };

function toUser(row: UserRow): UserRecord {
  return {
    id: row.id,
    email: row.email,
    passwordHash: row.password_hash,
    disabledAt: row.disabled_at,
    createdAt: row.created_at,
    tokenGeneration: row.token_generation,
  };
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
          email_lower: emailKey(input.email),
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
      .where("email_lower", "=", emailKey(email))
      .executeTakeFirst();
    return row ? toUser(row) : undefined;
  }

  async startPasswordLogin(start: PasswordLoginStart): Promise<PasswordLoginStarted> {
    if (this.dialect === "postgres") {
      const { rows } = await sql<UserRow & { subject: string; claimed: boolean }>`
        with u as (select * from users where email_lower = ${emailKey(start.email)}),
        s as (
          select coalesce((select ${start.userSubjectPrefix}::text || id::text from u), ${start.unknownSubject}::text)
            as subject
        ),
        claim as (
          insert into throttles (subject, kind, failures, next_allowed_at)
          select subject, ${start.kind}::text, ${start.next.failures}::integer, ${start.next.nextAllowedAt}::bigint from s
          on conflict (subject, kind) do nothing
          returning 1
        )
        select u.*, s.subject, exists (select 1 from claim) as claimed from s left join u on true`.execute(this.db);
      const row = rows[0];
      if (!row) throw new Error("the start of a password login returned no row");
      return { user: row.id === null ? undefined : toUser(row), subject: row.subject, claimed: row.claimed };
    }
    const user = await this.findUserByEmail(start.email);
    const subject = user ? `${start.userSubjectPrefix}${user.id}` : start.unknownSubject;
    return { user, subject, claimed: await this.swapThrottle(subject, start.kind, undefined, start.next) };
  }

  async findUserById(id: number): Promise<UserRecord | undefined> {
    const row = await this.db.selectFrom("users").selectAll().where("id", "=", id).executeTakeFirst();
    return row ? toUser(row) : undefined;
  }

  async listUsers(query: { emailContains?: string; offset: number; limit: number }) {
    let base = this.db.selectFrom("users");
    if (query.emailContains) {
      const escaped = emailKey(query.emailContains).replace(/[\\%_]/g, (c) => `\\${c}`);
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

  // Sessions and refresh tokens (statements in sessions.ts).
  createSession(session: NewSession, refreshJti: string): Promise<void> {
    return sessions.createSession(this.db, this.dialect, session, refreshJti);
  }

  openSessionAfterPassword(end: PasswordLoginEnd): Promise<boolean> {
    return sessions.openSessionAfterPassword(this.db, this.dialect, end);
  }

  sessionStatus(sessionId: string): Promise<SessionStatus | undefined> {
    return sessions.sessionStatus(this.db, sessionId);
  }

  refreshTokenStatus(jti: string): Promise<RefreshTokenStatus | undefined> {
    return sessions.refreshTokenStatus(this.db, jti);
  }

  rotateRefreshToken(input: {
    jti: string;
    newJti: string;
    sessionId: string;
    now: number;
  }): Promise<RefreshSuccessor | undefined> {
    return sessions.rotateRefreshToken(this.db, input);
  }

  refreshTokenSuccessor(jti: string): Promise<RefreshSuccessor | undefined> {
    return sessions.refreshTokenSuccessor(this.db, jti);
  }

  revokeSession(sessionId: string, now: number): Promise<boolean> {
    return sessions.revokeSession(this.db, sessionId, now);
  }

  revokeUserSessions(userId: number, now: number, keepSessionId?: string): Promise<number> {
    return sessions.revokeUserSessions(this.db, userId, now, keepSessionId);
  }

  changePassword(change: PasswordChange): Promise<void> {
    return credentials.changePassword(this.db, change);
  }

  resetPasswordWithMailCode(reset: PasswordResetWithCode): Promise<boolean> {
    return credentials.resetPasswordWithMailCode(this.db, reset);
  }

  openSessionFromPartial(completion: PartialTokenCompletion): Promise<boolean> {
    return sessions.openSessionFromPartial(this.db, completion);
  }

  addRefreshToken(input: { jti: string; sessionId: string; issuedAt: number }): Promise<void> {
    return sessions.addRefreshToken(this.db, input);
  }

  // Throttles (statements in throttles.ts).
  getThrottle(subject: string, kind: string): Promise<ThrottleState | undefined> {
    return throttles.getThrottle(this.db, subject, kind);
  }

  swapThrottle(
    subject: string,
    kind: string,
    expected: ThrottleState | undefined,
    next: ThrottleState,
  ): Promise<boolean> {
    return throttles.swapThrottle(this.db, subject, kind, expected, next);
  }

  resetThrottle(subject: string, kind: string): Promise<void> {
    return throttles.resetThrottle(this.db, subject, kind);
  }

  // Signing keys (statements in signing-keys.ts).
  listSigningKeys(): Promise<SigningKeyRecord[]> {
    return signingKeys.listSigningKeys(this.db);
  }

  insertSigningKey(key: SigningKeyRecord): Promise<void> {
    return signingKeys.insertSigningKey(this.db, key);
  }

  deleteSigningKeysRetiredBefore(cutoff: number): Promise<number> {
    return signingKeys.deleteSigningKeysRetiredBefore(this.db, cutoff);
  }

  swapSigningKeyPrivate(input: { kid: string; from: string; to: string }): Promise<boolean> {
    return signingKeys.swapSigningKeyPrivate(this.db, input);
  }

  // Two-factor (statements in two-factor.ts).
  twoFactor(userId: number): Promise<TwoFactorRecord> {
    return twoFactor.twoFactor(this.db, userId);
  }

  totpState(userId: number): Promise<TotpState | undefined> {
    return twoFactor.totpState(this.db, userId);
  }

  setPendingTotpSecret(userId: number, pendingSecretEnc: string): Promise<void> {
    return twoFactor.setPendingTotpSecret(this.db, userId, pendingSecretEnc);
  }

  activateTotp(input: {
    userId: number;
    pendingSecretEnc: string;
    step: number;
    now: number;
    recoveryCodeHashes: string[];
  }): Promise<{ activated: boolean; recoveryCodesCreated: boolean }> {
    return twoFactor.activateTotp(this.db, input);
  }

  useTotpStep(input: { userId: number; secretEnc: string; step: number }): Promise<boolean> {
    return twoFactor.useTotpStep(this.db, input);
  }

  deactivateTotp(userId: number): Promise<boolean> {
    return twoFactor.deactivateTotp(this.db, userId);
  }

  useRecoveryCode(input: { userId: number; codeHashes: string[]; now: number }): Promise<boolean> {
    return twoFactor.useRecoveryCode(this.db, input);
  }

  replaceRecoveryCodes(input: { userId: number; codeHashes: string[]; now: number }): Promise<boolean> {
    return twoFactor.replaceRecoveryCodes(this.db, input);
  }

  partialTokenSpent(jti: string): Promise<boolean> {
    return twoFactor.partialTokenSpent(this.db, jti);
  }

  setPendingEmailOtp(userId: number, email: string): Promise<void> {
    return twoFactor.setPendingEmailOtp(this.db, userId, email);
  }

  activateEmailOtp(input: {
    userId: number;
    email: string;
    now: number;
    recoveryCodeHashes: string[];
  }): Promise<{ activated: boolean; recoveryCodesCreated: boolean }> {
    return twoFactor.activateEmailOtp(this.db, input);
  }

  deactivateEmailOtp(userId: number): Promise<boolean> {
    return twoFactor.deactivateEmailOtp(this.db, userId);
  }

  // Mail codes and email (statements in mail-codes.ts).
  issueMailCode(code: NewMailCode, sentBefore: number): Promise<IssueMailCodeResult> {
    return mailCodes.issueMailCode(this.db, code, sentBefore);
  }

  withdrawMailCode(key: MailCodeKey): Promise<void> {
    return mailCodes.withdrawMailCode(this.db, key);
  }

  mailCodeSentAt(subject: string, purpose: MailCodePurpose): Promise<number | undefined> {
    return mailCodes.mailCodeSentAt(this.db, subject, purpose);
  }

  claimMailCodeTry(input: {
    subject: string;
    purpose: MailCodePurpose;
    now: number;
    maxTries: number;
  }): Promise<MailCodeRecord | undefined> {
    return mailCodes.claimMailCodeTry(this.db, input);
  }

  consumeMailCode(input: { key: MailCodeKey; codeHash: string; now: number; maxTries: number }) {
    return mailCodes.consumeMailCode(this.db, input);
  }

  changeEmailWithMailCode(input: {
    key: MailCodeKey;
    codeHash: string;
    now: number;
    maxTries: number;
    userId: number;
    newEmail: string;
  }): Promise<"changed" | "invalid" | "taken"> {
    return mailCodes.changeEmailWithMailCode(this.db, input);
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
