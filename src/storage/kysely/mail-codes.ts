import type { Kysely } from "kysely";
import type { MailCodePurpose, MailCodeSpend, MailCodeStore } from "../mail-codes.js";
import { isUniqueViolation } from "./errors.js";
import { type Database, emailKey } from "./schema.js";

/** Mail codes and email. Atomicity is documented on MailCodeStore. */

/**
 * The conditional UPDATE that spends a mailed code; true only for the caller that changed the row.
 * `db` may be a transaction (a password reset and an email change spend the code in theirs).
 */
export async function consumeMailCode(db: Kysely<Database>, spend: MailCodeSpend): Promise<boolean> {
  const result = await db
    .updateTable("mail_codes")
    .set({ consumed_at: spend.now })
    .where("subject", "=", spend.key.subject)
    .where("purpose", "=", spend.key.purpose)
    .where("id", "=", spend.key.id)
    .where("code_hash", "=", spend.codeHash)
    .where("consumed_at", "is", null)
    .where("expires_at", ">", spend.now)
    .where("tries", "<=", spend.maxTries)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

async function mailCodeSentAt(
  db: Kysely<Database>,
  subject: string,
  purpose: MailCodePurpose,
): Promise<number | undefined> {
  const row = await db
    .selectFrom("mail_codes")
    .select("created_at")
    .where("subject", "=", subject)
    .where("purpose", "=", purpose)
    .executeTakeFirst();
  return row?.created_at;
}

/** Mail codes over Kysely. */
export function mailCodeStore(db: Kysely<Database>): MailCodeStore {
  return {
    async issueMailCode(code, sentBefore, staleBefore) {
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
        password_hash: code.passwordHash ?? null,
      };
      // Rows past both their expiry and the resend window serve nothing (no code to check, no pacing
      // left): dropped on the way, so addresses that never became accounts do not pile up.
      await db
        .deleteFrom("mail_codes")
        .where("expires_at", "<=", code.createdAt)
        .where("created_at", "<=", staleBefore)
        .execute();
      const written = await db
        .insertInto("mail_codes")
        .values({ subject: code.subject, purpose: code.purpose, ...generation })
        .onConflict((oc) =>
          oc.columns(["subject", "purpose"]).doUpdateSet(generation).where("mail_codes.created_at", "<=", sentBefore),
        )
        .returning("id")
        .executeTakeFirst();
      if (written) return { issued: true };
      const lastSentAt = await mailCodeSentAt(db, code.subject, code.purpose);
      return { issued: false, lastSentAt: lastSentAt ?? code.createdAt };
    },

    async withdrawMailCode(key) {
      await db
        .deleteFrom("mail_codes")
        .where("subject", "=", key.subject)
        .where("purpose", "=", key.purpose)
        .where("id", "=", key.id)
        .execute();
    },

    mailCodeSentAt: (subject, purpose) => mailCodeSentAt(db, subject, purpose),

    async liveMailCode(subject, purpose, now, maxTries) {
      const row = await db
        .selectFrom("mail_codes")
        .select(["user_id", "expires_at"])
        .where("subject", "=", subject)
        .where("purpose", "=", purpose)
        .where("consumed_at", "is", null)
        .where("expires_at", ">", now)
        .where("tries", "<", maxTries)
        .executeTakeFirst();
      return row && { userId: row.user_id, expiresAt: row.expires_at };
    },

    async claimMailCodeTry(attempt) {
      const row = await db
        .updateTable("mail_codes")
        .set((eb) => ({ tries: eb("tries", "+", 1) }))
        .where("subject", "=", attempt.subject)
        .where("purpose", "=", attempt.purpose)
        .where("consumed_at", "is", null)
        .where("expires_at", ">", attempt.now)
        .where("tries", "<", attempt.maxTries)
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
        passwordHash: row.password_hash,
      };
    },

    consumeMailCode: (spend) => consumeMailCode(db, spend),

    async changeEmailWithMailCode(change) {
      try {
        return await db.transaction().execute(async (trx) => {
          if (!(await consumeMailCode(trx, change))) return "invalid";
          await trx
            .updateTable("users")
            .set({ email: change.newEmail, email_lower: emailKey(change.newEmail) })
            .where("id", "=", change.userId)
            .execute();
          return "changed";
        });
      } catch (error) {
        if (isUniqueViolation(error)) return "taken";
        throw error;
      }
    },
  };
}
