import { EmailTakenError } from "../../storage/store.js";
import { AppError } from "../errors.js";
import { iso } from "../iso-time.js";
import { assertAcceptablePassword } from "../password/policy.js";
import type { RequestMeta } from "../request-meta.js";
import { audit } from "./audit.js";
import type { FlowContext } from "./context.js";
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
}

async function existing(ctx: FlowContext, userId: number) {
  const user = await ctx.store.findUserById(userId);
  if (!user) throw new AppError("USER_NOT_FOUND");
  return user;
}

export async function adminCreateUser(
  ctx: FlowContext,
  input: { email: string; password?: string | undefined },
  meta: RequestMeta,
): Promise<number> {
  if (input.password !== undefined) assertAcceptablePassword(input.password);
  const passwordHash = input.password === undefined ? null : await ctx.hasher.hash(input.password);
  try {
    const userId = await ctx.store.createUser({ email: input.email, passwordHash, createdAt: ctx.clock.now() });
    await audit(ctx, "user.created", userId, meta, { by: "admin" });
    return userId;
  } catch (error) {
    if (error instanceof EmailTakenError) throw new AppError("EMAIL_ALREADY_IN_USE");
    throw error;
  }
}

export async function adminListUsers(
  ctx: FlowContext,
  query: { email?: string | undefined; offset: number; limit: number },
): Promise<{ users: AdminUser[]; total: number }> {
  const result = await ctx.store.listUsers({
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

export async function adminGetUser(ctx: FlowContext, userId: number): Promise<AdminUserDetail> {
  const user = await existing(ctx, userId);
  const [twoFactor, sessions] = await Promise.all([
    twoFactorState(ctx, userId),
    ctx.store.countLiveSessions(userId, ctx.clock.now()),
  ]);
  return {
    userId: user.id,
    email: user.email,
    createdAt: iso(user.createdAt),
    disabled: user.disabledAt !== null,
    twoFactor,
    sessions,
  };
}

export async function adminDeleteUser(ctx: FlowContext, userId: number): Promise<void> {
  if (!(await ctx.store.deleteUser(userId))) throw new AppError("USER_NOT_FOUND");
}

/** A disabled user cannot log in, refresh or use any token (the guard reads the flag with the session). */
export async function adminSetDisabled(
  ctx: FlowContext,
  userId: number,
  disabled: boolean,
  meta: RequestMeta,
): Promise<void> {
  const changed = await ctx.store.setUserDisabled(userId, disabled ? ctx.clock.now() : null);
  if (!changed) throw new AppError("USER_NOT_FOUND");
  await audit(ctx, disabled ? "user.disabled" : "user.enabled", userId, meta, { by: "admin" });
}

export async function adminRevokeSessions(ctx: FlowContext, userId: number, meta: RequestMeta): Promise<void> {
  await existing(ctx, userId);
  const count = await ctx.store.revokeUserSessions(userId, ctx.clock.now());
  await audit(ctx, "session.revoked", userId, meta, { by: "admin", count });
}

export async function adminResetTwoFactor(ctx: FlowContext, userId: number, meta: RequestMeta): Promise<void> {
  if (!(await ctx.store.resetTwoFactor(userId))) throw new AppError("USER_NOT_FOUND");
  await audit(ctx, "2fa.disabled", userId, meta, { by: "admin", method: "all" });
}

export async function adminUserEvents(ctx: FlowContext, userId: number, page: { offset: number; limit: number }) {
  await existing(ctx, userId);
  const result = await ctx.store.listAuditEvents({ userId, ...page });
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
