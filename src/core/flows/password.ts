/**
 * Password reset by mailed code and password change (§3 "User: password and email", §2 revocation).
 */

import { AppError } from "../errors.js";
import { isDisposableAddress } from "../mail/disposable.js";
import { assertAcceptablePassword } from "../password/policy.js";
import { userSubject } from "../throttle/guard.js";
import type { Principal } from "../tokens/guard.js";
import { audit } from "./audit.js";
import type { FlowContext, RequestMeta } from "./context.js";
import {
  addressCodeSubject,
  type CheckedCode,
  checkCode,
  type MailOptions,
  mailOptionsOf,
  sendCode,
  sendNotice,
  spendCode,
} from "./mail-codes.js";

/**
 * `POST /user/password/reset/send`. An unknown address gets the same work — lookup, rendering, a
 * stored code (bound to no account, so it can never be spent), the per-address throttle — and only
 * the delivery is skipped, so the answer does not tell whether an account exists (ASVS 2.5.2).
 */
export async function sendPasswordReset(ctx: FlowContext, email: string, mail: MailOptions): Promise<void> {
  if (isDisposableAddress(email)) throw new AppError("FORBIDDEN_MAIL_PROVIDER");
  const user = await ctx.store.findUserByEmail(email);
  await sendCode(ctx, {
    purpose: "password-reset",
    subject: addressCodeSubject(email),
    userId: user?.id ?? null,
    to: user?.email ?? email,
    mail,
    throttled: "TOO_MANY_RESET_MAIL_ATTEMPTS",
    deliver: user !== undefined,
  });
}

/** A matching reset code of the account that has the address now, or undefined. Counts one try. */
async function checkResetCode(
  ctx: FlowContext,
  email: string,
  otp: string,
): Promise<{ checked: CheckedCode; userId: number; email: string } | undefined> {
  const user = await ctx.store.findUserByEmail(email);
  const checked = await checkCode(ctx, addressCodeSubject(email), "password-reset", otp);
  if (!user || !checked || checked.record.userId !== user.id) return undefined;
  return { checked, userId: user.id, email: user.email };
}

/** `POST /user/password/reset/validate`: the code is not spent, but the check counts as a try. */
export async function validatePasswordReset(ctx: FlowContext, email: string, otp: string): Promise<void> {
  if (!(await checkResetCode(ctx, email, otp))) throw new AppError("OTP_INVALID_EXPIRED");
}

/**
 * `PUT /user/password/otp`: the password rules first (a refused password costs no try), then the code
 * is spent by one conditional UPDATE (of concurrent uses exactly one wins), the password set and
 * every session of the user revoked (§2).
 */
export async function resetPasswordWithCode(
  ctx: FlowContext,
  input: { userEmail: string; otp: string; newPassword: string },
  meta: RequestMeta,
): Promise<void> {
  assertAcceptablePassword(input.newPassword);
  const found = await checkResetCode(ctx, input.userEmail, input.otp);
  if (!found) throw new AppError("OTP_INVALID_EXPIRED");
  const passwordHash = await ctx.hasher.hash(input.newPassword);
  if (!(await spendCode(ctx, found.checked))) throw new AppError("OTP_INVALID_EXPIRED");
  await ctx.store.setPasswordHash(found.userId, passwordHash);
  await ctx.store.revokeUserSessions(found.userId, ctx.clock.now());
  // Proving control of the mailbox ends a lock-out by wrong passwords.
  await ctx.throttle.succeed(userSubject(found.userId), "password");
  await audit(ctx, "password.reset", found.userId, meta);
  await sendNotice(ctx, found.email, "notice-password-reset", mailOptionsOf(found.checked.record));
}

/**
 * `PUT /user/password/old-password`: the old password is a guess like a login (the same per-account
 * throttle, claimed before verifying). Every other session of the user is revoked; the caller's stays.
 */
export async function changePassword(
  ctx: FlowContext,
  principal: Principal,
  input: { oldPassword: string; newPassword: string },
): Promise<void> {
  const user = await ctx.store.findUserById(principal.userId);
  if (!user) throw new AppError("TOKEN_REVOKED");
  if (user.passwordHash === null) throw new AppError("NO_PASSWORD_INFO");
  assertAcceptablePassword(input.newPassword);
  const subject = userSubject(user.id);
  await ctx.throttle.claim(subject, "password");
  if (!(await ctx.hasher.verify(user.passwordHash, input.oldPassword))) throw new AppError("PASSWORD_INCORRECT");
  await ctx.throttle.succeed(subject, "password");

  await ctx.store.setPasswordHash(user.id, await ctx.hasher.hash(input.newPassword));
  await ctx.store.revokeUserSessions(user.id, ctx.clock.now(), principal.sessionId);
  await audit(ctx, "password.changed", user.id, principal.meta);
  await sendNotice(ctx, user.email, "notice-password-changed", {});
}
