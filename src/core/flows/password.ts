/**
 * Password reset by mailed code and password change (§3 "User: password and email", §2 revocation).
 */

import { AppError } from "../errors.js";
import type { SecurityEvent } from "../events.js";
import { isDisposableAddress } from "../mail/disposable.js";
import { assertAcceptablePassword } from "../password/policy.js";
import type { RequestMeta } from "../request-meta.js";
import { type GuessKind, userSubject } from "../throttle/guess-throttle.js";
import type { Principal } from "../tokens/token-guard.js";
import type { FlowContext } from "./context.js";
import {
  addressCodeSubject,
  type CheckedCode,
  checkCode,
  type MailOptions,
  mailOptionsOf,
  sendCode,
  sendNotice,
} from "./mail-codes.js";

/**
 * `POST /user/password/reset/send`. An unknown address gets the same work — lookup, rendering, a
 * stored code (bound to no account, so it can never be spent), the per-address throttle — and only
 * the delivery is skipped, so the answer does not tell whether an account exists (ASVS 2.5.2).
 */
export async function sendPasswordReset(flow: FlowContext, email: string, mail: MailOptions): Promise<void> {
  if (isDisposableAddress(email)) throw new AppError("FORBIDDEN_MAIL_PROVIDER");
  const user = await flow.store.findUserByEmail(email);
  await sendCode(flow, {
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
  flow: FlowContext,
  email: string,
  otp: string,
): Promise<{ checked: CheckedCode; userId: number; email: string } | undefined> {
  const user = await flow.store.findUserByEmail(email);
  const checked = await checkCode(flow, addressCodeSubject(email), "password-reset", otp);
  if (!user || !checked || checked.record.userId !== user.id) return undefined;
  return { checked, userId: user.id, email: user.email };
}

/** `POST /user/password/reset/validate`: the code is not spent, but the check counts as a try. */
export async function validatePasswordReset(flow: FlowContext, email: string, otp: string): Promise<void> {
  if (!(await checkResetCode(flow, email, otp))) throw new AppError("OTP_INVALID_EXPIRED");
}

/**
 * `PUT /user/password/otp`: the password rules first (a refused password costs no try), then one
 * transaction spends the code by a conditional UPDATE (of concurrent uses exactly one wins), sets
 * the password, revokes every session and partial token of the user (§2), clears the password
 * throttle and records the event: a failure anywhere leaves all of it as it was.
 */
export async function resetPasswordWithCode(
  flow: FlowContext,
  input: { userEmail: string; otp: string; newPassword: string },
  meta: RequestMeta,
): Promise<void> {
  assertAcceptablePassword(input.newPassword);
  const found = await checkResetCode(flow, input.userEmail, input.otp);
  if (!found) throw new AppError("OTP_INVALID_EXPIRED");
  const passwordHash = await flow.hasher.hash(input.newPassword);
  const now = flow.clock.now();
  const event: SecurityEvent = { type: "password.reset", userId: found.userId, ip: meta.ip, userAgent: meta.userAgent };
  const { record, codeHash } = found.checked;
  const reset = await flow.store.resetPasswordWithMailCode({
    code: {
      key: { subject: record.subject, purpose: record.purpose, id: record.id },
      codeHash,
      maxTries: flow.settings.codes.maxTries,
    },
    userId: found.userId,
    passwordHash,
    now,
    event: { ...event, userId: found.userId, at: now },
    // Proving control of the mailbox ends a lock-out by wrong passwords.
    clearThrottle: { subject: userSubject(found.userId), kind: "password" satisfies GuessKind },
  });
  if (!reset) throw new AppError("OTP_INVALID_EXPIRED");
  flow.events.written(event);
  await sendNotice(flow, found.email, "notice-password-reset", mailOptionsOf(found.checked.record));
}

/**
 * `PUT /user/password/old-password`: the old password is a guess like a login (the same per-account
 * throttle, claimed before verifying). One transaction sets the new password, revokes every other
 * session and every partial token of the user (the caller's session, with its tokens, stays) and
 * records the event.
 */
export async function changePassword(
  flow: FlowContext,
  principal: Principal,
  input: { oldPassword: string; newPassword: string },
): Promise<void> {
  const user = await flow.store.findUserById(principal.userId);
  if (!user) throw new AppError("TOKEN_REVOKED");
  if (user.passwordHash === null) throw new AppError("NO_PASSWORD_INFO");
  assertAcceptablePassword(input.newPassword);
  const subject = userSubject(user.id);
  await flow.throttle.claim(subject, "password");
  if (!(await flow.hasher.verify(user.passwordHash, input.oldPassword))) throw new AppError("PASSWORD_INCORRECT");
  await flow.throttle.succeed(subject, "password");

  const passwordHash = await flow.hasher.hash(input.newPassword);
  const now = flow.clock.now();
  const { meta } = principal;
  const event: SecurityEvent = { type: "password.changed", userId: user.id, ip: meta.ip, userAgent: meta.userAgent };
  await flow.store.changePassword({
    userId: user.id,
    passwordHash,
    keepSessionId: principal.sessionId,
    now,
    event: { ...event, userId: user.id, at: now },
  });
  flow.events.written(event);
  await sendNotice(flow, user.email, "notice-password-changed", {});
}
