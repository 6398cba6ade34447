import type { Kysely, Transaction } from "kysely";
import type { IssueMailCodeResult, MailCodeKey, MailCodePurpose, MailCodeRecord, NewMailCode } from "../store.js";
import { isUniqueViolation } from "./errors.js";
import { type Database, emailKey } from "./schema.js";

/** Mail codes and email (issue 4). Atomicity is documented on the Store interface. */

/** The conditional UPDATE that spends a mailed code; true only for the caller that changed the row. */
export async function consumeMailCodeIn(
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

export async function issueMailCode(
  db: Kysely<Database>,
  code: NewMailCode,
  sentBefore: number,
): Promise<IssueMailCodeResult> {
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
  // Rows past both their expiry and the resend window serve nothing (no code to check, no pacing
  // left): dropped on the way, so addresses that never became accounts do not pile up.
  await db
    .deleteFrom("mail_codes")
    .where("expires_at", "<=", code.createdAt)
    .where("created_at", "<=", sentBefore)
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
}

export async function withdrawMailCode(db: Kysely<Database>, key: MailCodeKey): Promise<void> {
  await db
    .deleteFrom("mail_codes")
    .where("subject", "=", key.subject)
    .where("purpose", "=", key.purpose)
    .where("id", "=", key.id)
    .execute();
}

export async function mailCodeSentAt(
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

export async function claimMailCodeTry(
  db: Kysely<Database>,
  input: { subject: string; purpose: MailCodePurpose; now: number; maxTries: number },
): Promise<MailCodeRecord | undefined> {
  const row = await db
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

export async function consumeMailCode(
  db: Kysely<Database>,
  input: { key: MailCodeKey; codeHash: string; now: number; maxTries: number },
): Promise<boolean> {
  return consumeMailCodeIn(db, input);
}

export async function changeEmailWithMailCode(
  db: Kysely<Database>,
  input: { key: MailCodeKey; codeHash: string; now: number; maxTries: number; userId: number; newEmail: string },
): Promise<"changed" | "invalid" | "taken"> {
  try {
    return await db.transaction().execute(async (trx) => {
      if (!(await consumeMailCodeIn(trx, input))) return "invalid";
      await trx
        .updateTable("users")
        .set({ email: input.newEmail, email_lower: emailKey(input.newEmail) })
        .where("id", "=", input.userId)
        .execute();
      return "changed";
    });
  } catch (error) {
    if (isUniqueViolation(error)) return "taken";
    throw error;
  }
}
