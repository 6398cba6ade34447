import type { Kysely, Transaction } from "kysely";
import type { PasswordChange, PasswordResetWithCode } from "../store.js";
import { recordAuditEvent } from "./admin.js";
import { consumeMailCodeIn } from "./mail-codes.js";
import type { Database } from "./schema.js";
import { revokeUserSessionsIn } from "./sessions.js";
import { resetThrottle } from "./throttles.js";

/** Password reset and change: each one transaction (see the Store's documentation of both). */

async function setPasswordIn(trx: Transaction<Database>, change: PasswordChange): Promise<void> {
  await trx.updateTable("users").set({ password_hash: change.passwordHash }).where("id", "=", change.userId).execute();
  await revokeUserSessionsIn(trx, change.userId, change.now, change.keepSessionId);
  await recordAuditEvent(trx, change.event);
}

export function changePassword(db: Kysely<Database>, change: PasswordChange): Promise<void> {
  return db.transaction().execute((trx) => setPasswordIn(trx, change));
}

export function resetPasswordWithMailCode(db: Kysely<Database>, reset: PasswordResetWithCode): Promise<boolean> {
  return db.transaction().execute(async (trx) => {
    if (!(await consumeMailCodeIn(trx, { ...reset.code, now: reset.now }))) return false;
    await setPasswordIn(trx, reset);
    await resetThrottle(trx, reset.clearThrottle.subject, reset.clearThrottle.kind);
    return true;
  });
}
