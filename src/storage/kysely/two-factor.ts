import type { Kysely, Transaction, UpdateResult } from "kysely";
import type { TotpState, TwoFactorRecord } from "../store.js";
import { preparedReadsOf } from "./connect.js";
import { lockUser } from "./locks.js";
import type { Database } from "./schema.js";

/** Two-factor (issue 3). Atomicity is documented on the Store interface. */

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

/**
 * The three second-factor records of a user in one read (every login and every `GET /user/2fa`):
 * a statement prepared once per connection, and on PostgreSQL batched with the reads of other
 * requests like the session reads (see connect.ts).
 */
export async function twoFactor(db: Kysely<Database>, userId: number): Promise<TwoFactorRecord> {
  const row = await preparedReadsOf(db).twoFactorState(userId);
  const total = Number(row.codes_total);
  return {
    totp:
      row.totp_user !== null
        ? { secretEnc: row.secret_enc, pendingSecretEnc: row.pending_secret_enc, enabledAt: row.totp_enabled_at }
        : undefined,
    emailOtp:
      row.email_user !== null
        ? { email: row.email as string, pendingEmail: row.pending_email, enabledAt: row.email_enabled_at }
        : undefined,
    recoveryCodes:
      total > 0 && row.codes_created_at !== null
        ? { createdAt: Number(row.codes_created_at), remaining: total - Number(row.codes_used) }
        : undefined,
  };
}

export async function totpState(db: Kysely<Database>, userId: number): Promise<TotpState | undefined> {
  const row = await db.selectFrom("user_totp").selectAll().where("user_id", "=", userId).executeTakeFirst();
  if (!row) return undefined;
  return {
    secretEnc: row.secret_enc,
    pendingSecretEnc: row.pending_secret_enc,
    enabledAt: row.enabled_at,
    lastUsedStep: row.last_used_step,
  };
}

export async function setPendingTotpSecret(
  db: Kysely<Database>,
  userId: number,
  pendingSecretEnc: string,
): Promise<void> {
  await db
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

export async function activateTotp(
  db: Kysely<Database>,
  input: { userId: number; pendingSecretEnc: string; step: number; now: number; recoveryCodeHashes: string[] },
): Promise<{ activated: boolean; recoveryCodesCreated: boolean }> {
  return db.transaction().execute(async (trx) => {
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

export async function useTotpStep(
  db: Kysely<Database>,
  input: { userId: number; secretEnc: string; step: number },
): Promise<boolean> {
  const result = await db
    .updateTable("user_totp")
    .set({ last_used_step: input.step })
    .where("user_id", "=", input.userId)
    .where("enabled_at", "is not", null)
    .where("secret_enc", "=", input.secretEnc)
    .where((eb) => eb.or([eb("last_used_step", "is", null), eb("last_used_step", "<", input.step)]))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/**
 * Turns one method off under the user lock: `clear` is the conditional UPDATE of the method's row
 * (only while it is active). When it changed the row, the recovery codes go too if no method is left.
 */
function deactivateMethod(
  db: Kysely<Database>,
  userId: number,
  clear: (trx: Transaction<Database>) => Promise<UpdateResult>,
): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    if (!(await lockUser(trx, userId))) return false;
    if (Number((await clear(trx)).numUpdatedRows) !== 1) return false;
    await dropRecoveryCodesIfLastMethod(trx, userId);
    return true;
  });
}

export function deactivateTotp(db: Kysely<Database>, userId: number): Promise<boolean> {
  return deactivateMethod(db, userId, (trx) =>
    trx
      .updateTable("user_totp")
      .set({ secret_enc: null, pending_secret_enc: null, enabled_at: null })
      .where("user_id", "=", userId)
      .where("enabled_at", "is not", null)
      .executeTakeFirst(),
  );
}

export async function useRecoveryCode(
  db: Kysely<Database>,
  input: { userId: number; codeHashes: string[]; now: number },
): Promise<boolean> {
  if (input.codeHashes.length === 0) return false;
  const result = await db
    .updateTable("recovery_codes")
    .set({ used_at: input.now })
    .where("user_id", "=", input.userId)
    .where("code_hash", "in", input.codeHashes)
    .where("used_at", "is", null)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) > 0;
}

export async function replaceRecoveryCodes(
  db: Kysely<Database>,
  input: { userId: number; codeHashes: string[]; now: number },
): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    if (!(await lockUser(trx, input.userId))) return false;
    if (!(await anyMethodActive(trx, input.userId))) return false;
    await writeRecoveryCodes(trx, input.userId, input.codeHashes, input.now);
    return true;
  });
}

export async function partialTokenSpent(db: Kysely<Database>, jti: string): Promise<boolean> {
  const row = await db.selectFrom("spent_partial_tokens").select("jti").where("jti", "=", jti).executeTakeFirst();
  return row !== undefined;
}

export async function setPendingEmailOtp(db: Kysely<Database>, userId: number, email: string): Promise<void> {
  await db
    .insertInto("user_email_otp")
    .values({ user_id: userId, email: null, pending_email: email, enabled_at: null })
    .onConflict((oc) => oc.column("user_id").doUpdateSet({ pending_email: email }))
    .execute();
}

export async function activateEmailOtp(
  db: Kysely<Database>,
  input: { userId: number; email: string; now: number; recoveryCodeHashes: string[] },
): Promise<{ activated: boolean; recoveryCodesCreated: boolean }> {
  return db.transaction().execute(async (trx) => {
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

export function deactivateEmailOtp(db: Kysely<Database>, userId: number): Promise<boolean> {
  return deactivateMethod(db, userId, (trx) =>
    trx
      .updateTable("user_email_otp")
      .set({ email: null, enabled_at: null })
      .where("user_id", "=", userId)
      .where("enabled_at", "is not", null)
      .executeTakeFirst(),
  );
}
