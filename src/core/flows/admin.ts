import { type AuditPage, EmailTakenError } from "../../storage/store.js";
import { AppError, BadRequestError } from "../errors.js";
import { iso } from "../iso-time.js";
import { assertAcceptablePassword } from "../password/policy.js";
import type { RequestMeta } from "../request-meta.js";
import { audit } from "./audit.js";
import type { FlowContext } from "./context.js";
import { assertInvitationMailable, type InvitationState, invitationState, sendInvitation } from "./invitations.js";
import type { MailOptions } from "./mail-codes.js";
import { type TwoFactorState, twoFactorState } from "./two-factor/state.js";

/** The admin API of §5: operators act on accounts; every change lands in the user's audit trail. */

export interface AdminUser {
  userId: number;
  email: string;
  createdAt: string;
  disabled: boolean;
}

export interface AdminUserDetail extends AdminUser {
  twoFactor: TwoFactorState;
  sessions: number;
  /** Present while an invitation can still be accepted. */
  invitation?: InvitationState;
}

async function existing(flow: FlowContext, userId: number) {
  const user = await flow.store.findUserById(userId);
  if (!user) throw new AppError("USER_NOT_FOUND");
  return user;
}

/**
 * Creates an account, with a password or, with `invite`, without one and with an invitation mailed
 * to it (invitations.ts). The invitation mail is rendered before the account is made, so an unknown
 * origin creates nothing; a mail that cannot be delivered leaves the account, which can be invited again.
 */
export async function adminCreateUser(
  flow: FlowContext,
  input: { email: string; password?: string | undefined; invite?: MailOptions | undefined },
  meta: RequestMeta,
): Promise<number> {
  if (input.invite !== undefined) {
    if (input.password !== undefined) throw new BadRequestError("password and invite cannot be used together");
    assertInvitationMailable(flow, input.email, input.invite);
  }
  if (input.password !== undefined) assertAcceptablePassword(input.password);
  const passwordHash = input.password === undefined ? null : await flow.hasher.hash(input.password);
  let userId: number;
  try {
    userId = await flow.store.createUser({ email: input.email, passwordHash, createdAt: flow.clock.now() });
  } catch (error) {
    if (error instanceof EmailTakenError) throw new AppError("EMAIL_ALREADY_IN_USE");
    throw error;
  }
  await audit(flow, "user.created", userId, meta, { by: "admin" });
  if (input.invite !== undefined) await sendInvitation(flow, userId, input.invite, meta);
  return userId;
}

export async function adminListUsers(
  flow: FlowContext,
  query: { email?: string | undefined; offset: number; limit: number },
): Promise<{ users: AdminUser[]; total: number }> {
  const result = await flow.store.listUsers({
    offset: query.offset,
    limit: query.limit,
    ...(query.email ? { emailContains: query.email } : {}),
  });
  return {
    users: result.users.map((u) => ({
      userId: u.id,
      email: u.email,
      createdAt: iso(u.createdAt),
      disabled: u.disabledAt !== null,
    })),
    total: result.total,
  };
}

export async function adminGetUser(flow: FlowContext, userId: number): Promise<AdminUserDetail> {
  const user = await existing(flow, userId);
  const [twoFactor, sessions, invitation] = await Promise.all([
    twoFactorState(flow, userId),
    flow.store.countLiveSessions(userId, flow.clock.now()),
    invitationState(flow, user),
  ]);
  return {
    userId: user.id,
    email: user.email,
    createdAt: iso(user.createdAt),
    disabled: user.disabledAt !== null,
    twoFactor,
    sessions,
    ...(invitation ? { invitation } : {}),
  };
}

export async function adminDeleteUser(flow: FlowContext, userId: number): Promise<void> {
  if (!(await flow.store.deleteUser(userId))) throw new AppError("USER_NOT_FOUND");
}

/** A disabled user cannot log in, refresh or use any token (the guard reads the flag with the session). */
export async function adminSetDisabled(
  flow: FlowContext,
  userId: number,
  disabled: boolean,
  meta: RequestMeta,
): Promise<void> {
  const changed = await flow.store.setUserDisabled(userId, disabled ? flow.clock.now() : null);
  if (!changed) throw new AppError("USER_NOT_FOUND");
  await audit(flow, disabled ? "user.disabled" : "user.enabled", userId, meta, { by: "admin" });
}

export async function adminRevokeSessions(flow: FlowContext, userId: number, meta: RequestMeta): Promise<void> {
  await existing(flow, userId);
  const count = await flow.store.revokeUserSessions(userId, flow.clock.now());
  await audit(flow, "session.revoked", userId, meta, { by: "admin", count });
}

export async function adminResetTwoFactor(flow: FlowContext, userId: number, meta: RequestMeta): Promise<void> {
  if (!(await flow.store.resetTwoFactor(userId))) throw new AppError("USER_NOT_FOUND");
  await audit(flow, "2fa.disabled", userId, meta, { by: "admin", method: "all" });
}

export async function adminUserEvents(flow: FlowContext, userId: number, page: { offset: number; limit: number }) {
  await existing(flow, userId);
  return auditPage(await flow.store.listAuditEvents({ userId, ...page }));
}

/** A page of the audit trail as the admin API and the command line show it. */
export function auditPage(result: AuditPage) {
  return {
    events: result.events.map((e) => ({
      type: e.type,
      at: iso(e.at),
      ip: e.ip,
      userAgent: e.userAgent,
      details: e.details ?? {},
    })),
    total: result.total,
  };
}
