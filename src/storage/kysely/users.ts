import { type Kysely, sql, type Transaction } from "kysely";
import {
  EmailTakenError,
  type NewUser,
  type PasswordChange,
  type SignupCompletionResult,
  type UserRecord,
  type UserStore,
} from "../users.js";
import { recordAuditEvent } from "./admin.js";
import { isUniqueViolation } from "./errors.js";
import { consumeMailCode } from "./mail-codes.js";
import { type Database, emailKey, type UsersTable } from "./schema.js";
import { insertSession, revokeUserSessionsIn } from "./sessions.js";
import { resetThrottle } from "./throttles.js";

/** A users row as read (ids and generations are numbers on both dialects). */
export type UserRow = { [K in keyof UsersTable]: K extends "id" | "token_generation" ? number : UsersTable[K] };

export function toUser(row: UserRow): UserRecord {
  return {
    id: row.id,
    email: row.email,
    passwordHash: row.password_hash,
    disabledAt: row.disabled_at,
    createdAt: row.created_at,
    tokenGeneration: row.token_generation,
  };
}

/** The account with this email (compared lower-cased), if any; the login's start reads it too. */
export async function findUserByEmail(db: Kysely<Database>, email: string): Promise<UserRecord | undefined> {
  const row = await db.selectFrom("users").selectAll().where("email_lower", "=", emailKey(email)).executeTakeFirst();
  return row ? toUser(row) : undefined;
}

/** Inserts the account; `db` may be a transaction. A taken address throws the driver's unique violation. */
async function insertUser(db: Kysely<Database>, input: NewUser): Promise<number> {
  const row = await db
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
}

/** Password reset and change: each one transaction (see UserStore). */
async function setPasswordIn(trx: Transaction<Database>, change: PasswordChange): Promise<void> {
  await trx.updateTable("users").set({ password_hash: change.passwordHash }).where("id", "=", change.userId).execute();
  await revokeUserSessionsIn(trx, change.userId, change.now, change.keepSessionId);
  await recordAuditEvent(trx, change.event);
}

/** Thrown inside a transaction to roll it back when a condition fails after the first write. */
class RolledBack extends Error {}

/** Users over Kysely. */
export function userStore(db: Kysely<Database>): UserStore {
  return {
    async createUser(input) {
      try {
        return await insertUser(db, input);
      } catch (error) {
        if (isUniqueViolation(error)) throw new EmailTakenError();
        throw error;
      }
    },

    findUserByEmail: (email) => findUserByEmail(db, email),

    async findUserById(id) {
      const row = await db.selectFrom("users").selectAll().where("id", "=", id).executeTakeFirst();
      return row ? toUser(row) : undefined;
    },

    async listUsers(query) {
      let base = db.selectFrom("users");
      if (query.emailContains) {
        const escaped = emailKey(query.emailContains).replace(/[\\%_]/g, (c) => `\\${c}`);
        base = base.where(sql<boolean>`email_lower like ${`%${escaped}%`} escape '\\'`);
      }
      const [rows, count] = await Promise.all([
        base.selectAll().orderBy("id", "desc").offset(query.offset).limit(query.limit).execute(),
        base.select((eb) => eb.fn.countAll<number | string>().as("n")).executeTakeFirstOrThrow(),
      ]);
      return { users: rows.map(toUser), total: Number(count.n) };
    },

    async deleteUser(id) {
      const result = await db.deleteFrom("users").where("id", "=", id).executeTakeFirst();
      return Number(result.numDeletedRows) > 0;
    },

    async setPasswordHash(userId, passwordHash) {
      await db.updateTable("users").set({ password_hash: passwordHash }).where("id", "=", userId).execute();
    },

    changePassword: (change) => db.transaction().execute((trx) => setPasswordIn(trx, change)),

    resetPasswordWithMailCode: (reset) =>
      db.transaction().execute(async (trx) => {
        if (!(await consumeMailCode(trx, { ...reset.code, now: reset.now }))) return false;
        await setPasswordIn(trx, reset);
        await resetThrottle(trx, reset.clearThrottle.subject, reset.clearThrottle.kind);
        return true;
      }),

    async acceptInvitation(acceptance) {
      try {
        return await db.transaction().execute(async (trx) => {
          if (!(await consumeMailCode(trx, { ...acceptance.code, now: acceptance.now }))) return false;
          const set = await trx
            .updateTable("users")
            .set({ password_hash: acceptance.passwordHash })
            .where("id", "=", acceptance.userId)
            .where("password_hash", "is", null)
            .executeTakeFirst();
          // The code is spent above; a password set meanwhile (a reset) must leave it unspent too.
          if (Number(set.numUpdatedRows) !== 1) throw new RolledBack();
          await insertSession(trx, acceptance.session, acceptance.refreshJti);
          for (const event of acceptance.events) await recordAuditEvent(trx, event);
          return true;
        });
      } catch (error) {
        if (error instanceof RolledBack) return false;
        throw error;
      }
    },

    async createUserWithMailCode(completion) {
      try {
        return await db.transaction().execute(async (trx): Promise<SignupCompletionResult> => {
          if (!(await consumeMailCode(trx, completion.code))) return { outcome: "invalid" };
          const userId = await insertUser(trx, completion.user);
          await recordAuditEvent(trx, { ...completion.event, userId });
          return { outcome: "created", userId };
        });
      } catch (error) {
        if (isUniqueViolation(error)) return { outcome: "taken" };
        throw error;
      }
    },
  };
}
