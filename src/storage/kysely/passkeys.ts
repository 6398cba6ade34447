import type { Kysely, Selectable, Transaction } from "kysely";
import type { PasskeyRecord, PasskeyStore, PasskeyUse, WebAuthnPurpose } from "../passkeys.js";
import { recordAuditEvent } from "./admin.js";
import { lockUser } from "./locks.js";
import type { Database, PasskeysTable } from "./schema.js";
import { insertSession } from "./sessions.js";
import { activateMethod, deactivateMethod } from "./two-factor.js";

/** Passkeys and WebAuthn challenges over Kysely. Atomicity is documented on PasskeyStore. */

function toPasskey(row: Selectable<PasskeysTable>): PasskeyRecord {
  let transports: string[] = [];
  try {
    const parsed: unknown = JSON.parse(row.transports);
    if (Array.isArray(parsed)) transports = parsed.filter((t): t is string => typeof t === "string");
  } catch {
    transports = [];
  }
  return {
    credentialId: row.id,
    userId: Number(row.user_id),
    publicKey: row.public_key,
    counter: Number(row.counter),
    transports,
    name: row.name,
    backedUp: Number(row.backed_up) === 1,
    deviceType: row.device_type,
    createdAt: Number(row.created_at),
    lastUsedAt: row.last_used_at === null ? null : Number(row.last_used_at),
  };
}

/** The conditional UPDATE that moves a passkey's counter on for one caller only. */
async function movePasskeyCounter(db: Kysely<Database> | Transaction<Database>, use: PasskeyUse): Promise<boolean> {
  const result = await db
    .updateTable("passkeys")
    .set({ counter: use.counter, last_used_at: use.now })
    .where("id", "=", use.credentialId)
    .where("user_id", "=", use.userId)
    .where((eb) => (use.counter === 0 ? eb("counter", "=", 0) : eb("counter", "<", use.counter)))
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export function passkeyStore(db: Kysely<Database>): PasskeyStore {
  return {
    async saveWebAuthnChallenge(challenge, now) {
      await db.deleteFrom("webauthn_challenges").where("expires_at", "<", now).execute();
      await db
        .insertInto("webauthn_challenges")
        .values({
          challenge: challenge.challenge,
          purpose: challenge.purpose,
          user_id: challenge.userId,
          expires_at: challenge.expiresAt,
        })
        .execute();
    },

    async takeWebAuthnChallenge(challenge) {
      const row = await db
        .deleteFrom("webauthn_challenges")
        .where("challenge", "=", challenge)
        .returning(["challenge", "purpose", "user_id", "expires_at"])
        .executeTakeFirst();
      if (!row) return undefined;
      return {
        challenge: row.challenge,
        purpose: row.purpose as WebAuthnPurpose,
        userId: row.user_id === null ? null : Number(row.user_id),
        expiresAt: Number(row.expires_at),
      };
    },

    async listPasskeys(userId) {
      const rows = await db
        .selectFrom("passkeys")
        .selectAll()
        .where("user_id", "=", userId)
        .orderBy("created_at", "desc")
        .orderBy("id")
        .execute();
      return rows.map(toPasskey);
    },

    async findPasskey(credentialId) {
      const row = await db.selectFrom("passkeys").selectAll().where("id", "=", credentialId).executeTakeFirst();
      return row ? toPasskey(row) : undefined;
    },

    async addPasskey({ passkey, limit, now, recoveryCodeHashes }) {
      let refused: "limit" | "exists" | undefined;
      const result = await activateMethod(db, { userId: passkey.userId, now, recoveryCodeHashes }, async (trx) => {
        const count = await trx
          .selectFrom("passkeys")
          .select((eb) => eb.fn.countAll<number | string>().as("n"))
          .where("user_id", "=", passkey.userId)
          .executeTakeFirstOrThrow();
        if (Number(count.n) >= limit) {
          refused = "limit";
          return false;
        }
        const inserted = await trx
          .insertInto("passkeys")
          .values({
            id: passkey.credentialId,
            user_id: passkey.userId,
            public_key: passkey.publicKey,
            counter: passkey.counter,
            transports: JSON.stringify(passkey.transports),
            name: passkey.name,
            backed_up: passkey.backedUp ? 1 : 0,
            device_type: passkey.deviceType,
            created_at: passkey.createdAt,
            last_used_at: null,
          })
          .onConflict((oc) => oc.column("id").doNothing())
          .executeTakeFirst();
        if (Number(inserted.numInsertedOrUpdatedRows ?? 0) !== 1) {
          refused = "exists";
          return false;
        }
        return true;
      });
      if (result.activated) return { outcome: "added", recoveryCodesCreated: result.recoveryCodesCreated };
      return { outcome: refused ?? "no_user" };
    },

    usePasskey: (use) => movePasskeyCounter(db, use),

    signInWithPasskey: ({ use, session, refreshJti, event }) =>
      db.transaction().execute(async (trx) => {
        if (!(await lockUser(trx, use.userId))) return "lost";
        const user = await trx
          .selectFrom("users")
          .select("disabled_at")
          .where("id", "=", use.userId)
          .executeTakeFirstOrThrow();
        if (user.disabled_at !== null) return "disabled";
        if (!(await movePasskeyCounter(trx, use))) return "lost";
        await insertSession(trx, session, refreshJti);
        await recordAuditEvent(trx, event);
        return "signed_in";
      }),

    async renamePasskey(userId, credentialId, name) {
      const result = await db
        .updateTable("passkeys")
        .set({ name })
        .where("id", "=", credentialId)
        .where("user_id", "=", userId)
        .executeTakeFirst();
      return Number(result.numUpdatedRows) === 1;
    },

    async deletePasskey(userId, credentialId) {
      let removed: PasskeyRecord | undefined;
      await deactivateMethod(db, userId, async (trx) => {
        const row = await trx
          .deleteFrom("passkeys")
          .where("id", "=", credentialId)
          .where("user_id", "=", userId)
          .returningAll()
          .executeTakeFirst();
        if (row) removed = toPasskey(row);
        return row !== undefined;
      });
      return removed;
    },
  };
}
