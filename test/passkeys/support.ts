import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from "@simplewebauthn/server";
import type { LightMyRequestResponse } from "fastify";
import { sql } from "kysely";
import { expect } from "vitest";
import type { TestApp } from "../support/harness.js";
import { bearer, type IssuedTokens, login, PASSWORD, post, signIn, tokensOf } from "../support/http.js";
import { tableNames } from "../support/snapshot.js";
import { SoftAuthenticator, type Tamper } from "../support/webauthn.js";

/** The relying party of the test app: its issuer http://latchkey.test, RP id latchkey.test. */
export const ORIGIN = "http://latchkey.test";
export const RP_ID = "latchkey.test";
/** How long a ceremony's challenge is good for (docs/api.md, "Challenges"). */
export const CHALLENGE_TTL_MS = 5 * 60_000;

/** A user handle as the server makes it: `latchkey:<userId>`, base64url. */
export function userHandleOf(userId: number): string {
  return Buffer.from(`latchkey:${userId}`, "utf8").toString("base64url");
}

export function newAuthenticator(origin = ORIGIN): SoftAuthenticator {
  return new SoftAuthenticator({ origin });
}

/** A PATCH request (test/support/http.ts has GET, POST, PUT and DELETE). */
export function patch(t: TestApp, url: string, token: string, payload: object) {
  return t.app.inject({ method: "PATCH", url, headers: bearer(token), payload });
}

export async function registrationOptions(t: TestApp, token: string): Promise<PublicKeyCredentialCreationOptionsJSON> {
  const res = await post(t, "/user/2fa/passkey/setup", token, {});
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
}

export function enable(t: TestApp, token: string, credential: RegistrationResponseJSON | object, name?: string) {
  return post(t, "/user/2fa/passkey/enable", token, name === undefined ? { credential } : { credential, name });
}

/** setup → the authenticator makes a credential → enable, which must succeed: its answer. */
export async function addPasskey(
  t: TestApp,
  token: string,
  authenticator: SoftAuthenticator,
  name?: string,
  tamper: Tamper = {},
): Promise<{ passkey: { passkeyId: string; name: string }; recoveryCodes: string[] }> {
  const credential = authenticator.register(await registrationOptions(t, token), tamper);
  const res = await enable(t, token, credential, name);
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
}

export interface Enrolled {
  userId: number;
  email: string;
  authenticator: SoftAuthenticator;
  passkeyId: string;
  recoveryCodes: string[];
  /** The password login's session, from before 2FA was on. */
  refresh: string;
  access: string;
}

/** A user whose first (and only) 2FA method is one passkey, registered with the access token of a password login. */
export async function enrolPasskey(t: TestApp, email = "alice@example.com", name = "Laptop"): Promise<Enrolled> {
  const userId = await t.createUser(email, PASSWORD);
  const { refresh, access } = await signIn(t, email);
  const authenticator = newAuthenticator();
  const { passkey, recoveryCodes } = await addPasskey(t, access, authenticator, name);
  expect(recoveryCodes).toHaveLength(10);
  return { userId, email, authenticator, passkeyId: passkey.passkeyId, recoveryCodes, refresh, access };
}

export async function signInOptions(t: TestApp): Promise<PublicKeyCredentialRequestOptionsJSON> {
  const res = await post(t, "/auth/passkey/challenge", undefined, {});
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
}

export function passkeyLogin(t: TestApp, credential: AuthenticationResponseJSON | object, query = "") {
  return post(t, `/auth/passkey/login${query}`, undefined, { credential });
}

export async function secondFactorOptions(t: TestApp, token: string): Promise<PublicKeyCredentialRequestOptionsJSON> {
  const res = await post(t, "/user/2fa/passkey/challenge", token, {});
  expect(res.statusCode, res.body).toBe(200);
  return res.json();
}

export function authenticate(t: TestApp, token: string, credential: AuthenticationResponseJSON | object) {
  return post(t, "/user/2fa/passkey/authenticate", token, { credential });
}

/** A passwordless sign-in that must succeed: a new session's tokens (the sudo token opens sensitive calls). */
export async function passkeySession(t: TestApp, authenticator: SoftAuthenticator): Promise<IssuedTokens> {
  return tokensOf(await passkeyLogin(t, authenticator.assert(await signInOptions(t))));
}

/** A password login of an account with 2FA on: the partial token. */
export async function partialLogin(t: TestApp, email: string): Promise<string> {
  return login(t, email);
}

export interface PasskeyRow {
  id: string;
  user_id: number;
  counter: number;
  name: string;
  last_used_at: number | null;
}

export async function passkeyRows(t: TestApp, userId?: number): Promise<PasskeyRow[]> {
  let query = t.db.selectFrom("passkeys").select(["id", "user_id", "counter", "name", "last_used_at"]);
  if (userId !== undefined) query = query.where("user_id", "=", userId);
  const rows = await query.orderBy("id").execute();
  return rows.map((r) => ({
    id: r.id,
    user_id: Number(r.user_id),
    counter: Number(r.counter),
    name: r.name,
    last_used_at: r.last_used_at === null ? null : Number(r.last_used_at),
  }));
}

export async function passkeyRow(t: TestApp, id: string): Promise<PasskeyRow | undefined> {
  return (await passkeyRows(t)).find((r) => r.id === id);
}

export async function challengeCount(t: TestApp): Promise<number> {
  return (await t.db.selectFrom("webauthn_challenges").select("challenge").execute()).length;
}

/** Whether the challenge the options carry is still stored (not spent). */
export async function challengeStored(t: TestApp, options: { challenge: string }): Promise<boolean> {
  const row = await t.db
    .selectFrom("webauthn_challenges")
    .select("challenge")
    .where("challenge", "=", options.challenge)
    .executeTakeFirst();
  return row !== undefined;
}

export async function sessionCount(t: TestApp, userId?: number): Promise<number> {
  let query = t.db.selectFrom("sessions").select("id");
  if (userId !== undefined) query = query.where("user_id", "=", userId);
  return (await query.execute()).length;
}

export interface AuditRow {
  type: string;
  details: Record<string, unknown> | null;
}

/** The user's audit trail, oldest first. */
export async function auditTrail(t: TestApp, userId: number): Promise<AuditRow[]> {
  const rows = await t.db
    .selectFrom("audit_events")
    .select(["type", "details"])
    .where("user_id", "=", userId)
    .orderBy("id")
    .execute();
  return rows.map((r) => ({ type: r.type, details: r.details === null ? null : JSON.parse(r.details) }));
}

/**
 * Every row of every table but the ones named, to prove that a refusal changed nothing else (a
 * refusal spends its challenge and may record an audit event, as documented).
 */
export async function snapshotExcept(t: TestApp, ...skipped: string[]): Promise<string> {
  const tables: Record<string, string[]> = {};
  for (const table of await tableNames(t)) {
    if (skipped.includes(table)) continue;
    const { rows } = await sql<Record<string, unknown>>`select * from ${sql.table(table)}`.execute(t.db);
    tables[table] = rows.map((row) => JSON.stringify(row)).sort();
  }
  return JSON.stringify(tables, null, 1);
}

/** The validator's 400 in the error envelope (its sentence as the message). */
export function expectSchemaError(res: LightMyRequestResponse, pattern?: RegExp) {
  expect(res.statusCode, res.body).toBe(400);
  const body = res.json();
  expect(Object.keys(body).sort()).toEqual(["error", "message", "statusCode"]);
  expect(body.statusCode).toBe(400);
  expect(body.error).toBe("Bad Request");
  expect(typeof body.message).toBe("string");
  if (pattern) expect(body.message).toMatch(pattern);
}
