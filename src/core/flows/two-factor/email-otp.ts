/**
 * Email OTP as a second factor (§3 "User: two-factor methods", §4): setup (a code to the new
 * address), activation, the challenge mail, the check, the wait-time query and deactivation.
 */

import { AppError } from "../../errors.js";
import { isDisposableAddress } from "../../mail/disposable.js";
import type { RequestMeta } from "../../request-meta.js";
import type { Principal } from "../../tokens/token-guard.js";
import { methodActive } from "../../two-factor/methods.js";
import { audit } from "../audit.js";
import type { FlowContext } from "../context.js";
import {
  checkCode,
  codeGuessKind,
  type MailOptions,
  secondsUntilNextSend,
  sendCode,
  sendNotice,
  spendCode,
  userCodeSubject,
} from "../mail-codes.js";
import type { SessionTokens } from "../sessions.js";
import { completeSecondFactor } from "./complete.js";
import { newRecoveryCodes } from "./recovery-codes.js";

async function emailOtpRow(flow: FlowContext, userId: number) {
  return (await flow.store.twoFactor(userId)).emailOtp;
}

/**
 * `POST /user/2fa/email-otp/setup`: mails a code to `email`, which becomes the pending address once the
 * mail is out. An active address stays active until the new one is activated (§3 life cycle).
 */
export async function setupEmailOtp(
  flow: FlowContext,
  principal: Principal,
  email: string,
  mail: MailOptions,
): Promise<void> {
  if (isDisposableAddress(email)) throw new AppError("FORBIDDEN_MAIL_PROVIDER");
  const userId = principal.userId;
  await sendCode(flow, {
    purpose: "email-otp-setup",
    subject: userCodeSubject(userId),
    userId,
    to: email,
    mail,
    throttled: "TOO_MANY_OTP_EMAILS",
    deliver: true,
  });
  await flow.store.setPendingEmailOtp(userId, email);
}

/**
 * `POST /user/2fa/email-otp/enable`: spends the setup code and makes the address it was mailed to the
 * active one. The first active method creates the recovery codes, returned this once; otherwise `[]`.
 */
export async function enableEmailOtp(flow: FlowContext, principal: Principal, otp: string): Promise<string[]> {
  const userId = principal.userId;
  if (!(await emailOtpRow(flow, userId))?.pendingEmail) throw new AppError("EMAIL_OTP_UNINITIALIZED");
  const checked = await checkCode(flow, userCodeSubject(userId), "email-otp-setup", otp);
  if (!checked || !(await spendCode(flow, checked))) throw new AppError("OTP_INVALID_EXPIRED");
  const recovery = newRecoveryCodes(flow);
  const result = await flow.store.activateEmailOtp({
    userId,
    email: checked.record.target,
    now: flow.clock.now(),
    recoveryCodeHashes: recovery.hashes,
  });
  if (!result.activated) throw new AppError("TOKEN_REVOKED");
  await audit(flow, "2fa.enabled", userId, principal.meta, { method: "email_otp" });
  return result.recoveryCodesCreated ? recovery.codes : [];
}

/** `POST /user/2fa/email-otp/challenge`: a code to the active 2FA address. */
export async function challengeEmailOtp(flow: FlowContext, principal: Principal, mail: MailOptions): Promise<void> {
  const userId = principal.userId;
  const row = await emailOtpRow(flow, userId);
  if (!row) throw new AppError("EMAIL_OTP_UNINITIALIZED");
  if (!methodActive(row) || row.email === null) throw new AppError("EMAIL_OTP_INACTIVE");
  await sendCode(flow, {
    purpose: "email-otp-challenge",
    subject: userCodeSubject(userId),
    userId,
    to: row.email,
    mail,
    throttled: "TOO_MANY_OTP_EMAILS",
    deliver: true,
  });
}

/** `POST /user/2fa/email-otp/authenticate`: spends a challenge code, then the tokens of §2. */
export async function authenticateEmailOtp(
  flow: FlowContext,
  principal: Principal,
  otp: string,
  meta: RequestMeta,
): Promise<SessionTokens> {
  const userId = principal.userId;
  const row = await emailOtpRow(flow, userId);
  if (!methodActive(row) || row.email === null) throw new AppError("EMAIL_OTP_INACTIVE");
  const checked = await checkCode(flow, userCodeSubject(userId), "email-otp-challenge", otp);
  // A code mailed to an address that is no longer the active one does not count.
  if (!checked || checked.record.target !== row.email || !(await spendCode(flow, checked))) {
    await audit(flow, "second_factor.failed", userId, meta, { method: "email_otp" });
    throw new AppError("OTP_INVALID_EXPIRED");
  }
  await audit(flow, "second_factor.succeeded", userId, meta, { method: "email_otp" });
  return completeSecondFactor(flow, principal, meta, "email_otp");
}

/**
 * `GET /user/2fa/email-otp/next-email`: the wait before the next mail the user would ask for: the
 * challenge once email OTP is active, the setup mail while it is only pending. While guesses at that
 * purpose's codes must wait longer, that wait is reported: a new code is no use before it is over.
 */
export async function emailOtpNextEmail(flow: FlowContext, principal: Principal): Promise<number> {
  const userId = principal.userId;
  const row = await emailOtpRow(flow, userId);
  if (!row) throw new AppError("EMAIL_OTP_UNINITIALIZED");
  const purpose = methodActive(row) ? "email-otp-challenge" : "email-otp-setup";
  const subject = userCodeSubject(userId);
  const [send, guess] = await Promise.all([
    secondsUntilNextSend(flow, subject, purpose),
    flow.throttle.secondsToWait(subject, codeGuessKind(purpose)),
  ]);
  return Math.max(send, guess);
}

/** `DELETE /user/2fa/email-otp`: the last method off turns 2FA off and deletes the recovery codes. */
export async function deactivateEmailOtp(flow: FlowContext, principal: Principal): Promise<void> {
  if (!(await flow.store.deactivateEmailOtp(principal.userId))) throw new AppError("EMAIL_OTP_ALREADY_INACTIVE");
  await audit(flow, "2fa.disabled", principal.userId, principal.meta, { method: "email_otp" });
  const user = await flow.store.findUserById(principal.userId);
  if (user) await sendNotice(flow, user.email, "notice-2fa-disabled", {}, { method: "email" });
}
