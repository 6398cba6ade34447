import { type Kysely, type RawBuilder, sql, type Transaction, type UpdateResult } from "kysely";
import type { MethodActivated, TwoFactorRecord, TwoFactorStore } from "../two-factor.js";
import { lockUser } from "./locks.js";
import type { PreparedReads, TwoFactorStateRow } from "./reads/sql.js";
import type { Database } from "./schema.js";

/** Two-factor. Atomicity is documented on TwoFactorStore. */

/**
 * 2FA is on for the user: an enabled TOTP, an enabled email OTP or a passkey, as an SQL condition both dialects
 * evaluate. The one SQL form of the rule whose domain form is twoFactorEnabled() (core), which a
 * test holds them to; the login's end and the method changes below all ask it.
 */
export function twoFactorOn(userId: number): RawBuilder<boolean> {
  return sql<boolean>`(exists (select 1 from user_totp where user_id = ${userId} and enabled_at is not null)
    or exists (select 1 from user_email_otp where user_id = ${userId} and enabled_at is not null)
    or exists (select 1 from passkeys where user_id = ${userId}))`;
}

/** twoFactorOn as a value, read in `db` (a transaction: under its user lock). */
export async function isTwoFactorOn(db: Kysely<Database>, userId: number): Promise<boolean> {
  // SQLite answers 0 or 1, PostgreSQL a boolean.
  const { rows } = await sql<{ active: number | boolean }>`select ${twoFactorOn(userId)} as active`.execute(db);
  return Boolean(rows[0]?.active);
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
 * Turns one method on under the user lock: `activate` writes it (false when this caller lost). If
 * no method was on before, the recovery codes are replaced by `codeHashes` in the same transaction.
 */
export function activateMethod(
  db: Kysely<Database>,
  input: { userId: number; now: number; recoveryCodeHashes: string[] },
  activate: (trx: Transaction<Database>) => Promise<boolean>,
): Promise<MethodActivated> {
  return db.transaction().execute(async (trx) => {
    if (!(await lockUser(trx, input.userId))) return { activated: false, recoveryCodesCreated: false };
    const wasOn = await isTwoFactorOn(trx, input.userId);
    if (!(await activate(trx))) return { activated: false, recoveryCodesCreated: false };
    if (wasOn) return { activated: true, recoveryCodesCreated: false };
    await writeRecoveryCodes(trx, input.userId, input.recoveryCodeHashes, input.now);
    return { activated: true, recoveryCodesCreated: true };
  });
}

/**
 * Turns one method off under the user lock: `clear` changes the method's row (only while it is
 * active) and says whether it did. When it changed the row and no method is left on, the recovery codes
 * go too: the last method gone turns 2FA off (§3 life cycle).
 */
const changedOne = (result: UpdateResult): boolean => Number(result.numUpdatedRows) === 1;

export function deactivateMethod(
  db: Kysely<Database>,
  userId: number,
  clear: (trx: Transaction<Database>) => Promise<boolean>,
): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    if (!(await lockUser(trx, userId))) return false;
    if (!(await clear(trx))) return false;
    if (!(await isTwoFactorOn(trx, userId))) {
      await trx.deleteFrom("recovery_codes").where("user_id", "=", userId).execute();
    }
    return true;
  });
}

/**
 * The state read always returns one row per user asked (nulls and zero counts for a user with no
 * second factor). A missing row means the read itself is broken; answering "no second factor" then
 * would let an access token through where a sudo token is required, so it fails closed instead.
 */
function toTwoFactorRecord(row: TwoFactorStateRow | undefined): TwoFactorRecord {
  if (row === undefined) throw new Error("the second-factor state read returned no row");
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
    passkeys:
      Number(row.passkeys_total) > 0 && row.passkeys_created_at !== null
        ? { count: Number(row.passkeys_total), createdAt: Number(row.passkeys_created_at) }
        : undefined,
    recoveryCodes:
      total > 0 && row.codes_created_at !== null
        ? { createdAt: Number(row.codes_created_at), remaining: total - Number(row.codes_used) }
        : undefined,
  };
}

/** Two-factor over Kysely; the state of a user is read through `reads` (reads/). */
export function twoFactorStore(db: Kysely<Database>, reads: PreparedReads): TwoFactorStore {
  return {
    // Every login and every `GET /user/2fa`: a statement prepared once per connection, and on
    // PostgreSQL batched with the reads of other requests like the session reads.
    twoFactor: async (userId) => toTwoFactorRecord(await reads.twoFactorState(userId)),

    async totpState(userId) {
      const row = await db.selectFrom("user_totp").selectAll().where("user_id", "=", userId).executeTakeFirst();
      if (!row) return undefined;
      return {
        secretEnc: row.secret_enc,
        pendingSecretEnc: row.pending_secret_enc,
        enabledAt: row.enabled_at,
        lastUsedStep: row.last_used_step,
      };
    },

    async setPendingTotpSecret(userId, pendingSecretEnc) {
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
    },

    activateTotp: (activation) =>
      activateMethod(db, activation, async (trx) => {
        const activated = await trx
          .updateTable("user_totp")
          .set({
            secret_enc: activation.pendingSecretEnc,
            pending_secret_enc: null,
            enabled_at: activation.now,
            last_used_step: activation.step,
          })
          .where("user_id", "=", activation.userId)
          .where("pending_secret_enc", "=", activation.pendingSecretEnc)
          .executeTakeFirst();
        return Number(activated.numUpdatedRows) === 1;
      }),

    async useTotpStep(use) {
      const result = await db
        .updateTable("user_totp")
        .set({ last_used_step: use.step })
        .where("user_id", "=", use.userId)
        .where("enabled_at", "is not", null)
        .where("secret_enc", "=", use.secretEnc)
        .where((eb) => eb.or([eb("last_used_step", "is", null), eb("last_used_step", "<", use.step)]))
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    deactivateTotp: (userId) =>
      deactivateMethod(db, userId, (trx) =>
        trx
          .updateTable("user_totp")
          .set({ secret_enc: null, pending_secret_enc: null, enabled_at: null })
          .where("user_id", "=", userId)
          .where("enabled_at", "is not", null)
          .executeTakeFirst()
          .then(changedOne),
      ),

    async useRecoveryCode(use) {
      if (use.codeHashes.length === 0) return false;
      const result = await db
        .updateTable("recovery_codes")
        .set({ used_at: use.now })
        .where("user_id", "=", use.userId)
        .where("code_hash", "in", use.codeHashes)
        .where("used_at", "is", null)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) > 0;
    },

    replaceRecoveryCodes: (replacement) =>
      db.transaction().execute(async (trx) => {
        if (!(await lockUser(trx, replacement.userId))) return false;
        if (!(await isTwoFactorOn(trx, replacement.userId))) return false;
        await writeRecoveryCodes(trx, replacement.userId, replacement.codeHashes, replacement.now);
        return true;
      }),

    async setPendingEmailOtp(userId, email) {
      await db
        .insertInto("user_email_otp")
        .values({ user_id: userId, email: null, pending_email: email, enabled_at: null })
        .onConflict((oc) => oc.column("user_id").doUpdateSet({ pending_email: email }))
        .execute();
    },

    activateEmailOtp: (activation) =>
      activateMethod(db, activation, async (trx) => {
        const active = { email: activation.email, pending_email: null, enabled_at: activation.now };
        await trx
          .insertInto("user_email_otp")
          .values({ user_id: activation.userId, ...active })
          .onConflict((oc) => oc.column("user_id").doUpdateSet(active))
          .execute();
        return true;
      }),

    deactivateEmailOtp: (userId) =>
      deactivateMethod(db, userId, (trx) =>
        trx
          .updateTable("user_email_otp")
          .set({ email: null, enabled_at: null })
          .where("user_id", "=", userId)
          .where("enabled_at", "is not", null)
          .executeTakeFirst()
          .then(changedOne),
      ),
  };
}
