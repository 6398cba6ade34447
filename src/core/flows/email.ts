/** Email address transfer (§3 "User: password and email"): a code to the new address, then the change. */

import { AppError } from "../errors.js";
import { isDisposableAddress } from "../mail/disposable.js";
import type { Principal } from "../tokens/token-guard.js";
import { audit } from "./audit.js";
import type { FlowContext } from "./context.js";
import {
  chargeUnmailedSend,
  checkCode,
  type MailOptions,
  mailOptionsOf,
  sendCode,
  sendNotice,
  userCodeSubject,
} from "./mail-codes.js";

/**
 * `POST /user/email/initiate`: mails a code to the new address; the login email is unchanged for now.
 * The 409 for an address in use tells that an account has it, so it is paced like a send (§4): a code
 * is stored that is never mailed and can never be spent, and within the resend window the answer is 429.
 */
export async function initiateEmailTransfer(
  flow: FlowContext,
  principal: Principal,
  newEmail: string,
  mail: MailOptions,
): Promise<void> {
  if (isDisposableAddress(newEmail)) throw new AppError("FORBIDDEN_MAIL_PROVIDER");
  const send = {
    purpose: "email-transfer",
    subject: userCodeSubject(principal.userId),
    to: newEmail,
    mail,
    throttled: "TOO_MANY_TRANSFER_ATTEMPTS",
  } as const;
  // The account's own address counts as in use too: there is nothing to transfer.
  if (await flow.store.findUserByEmail(newEmail)) {
    await chargeUnmailedSend(flow, send);
    throw new AppError("NEW_EMAIL_ALREADY_IN_USE");
  }
  await sendCode(flow, { ...send, userId: principal.userId, deliver: true });
}

/**
 * `PUT /user/email`: spends the code and changes the login email in one transaction; the unique index
 * decides a race for the address (409, and the code stays unspent). The old address is told.
 */
export async function completeEmailTransfer(flow: FlowContext, principal: Principal, otp: string): Promise<void> {
  const user = await flow.store.findUserById(principal.userId);
  if (!user) throw new AppError("TOKEN_REVOKED");
  const checked = await checkCode(flow, userCodeSubject(user.id), "email-transfer", otp);
  if (!checked) throw new AppError("OTP_INVALID_EXPIRED");
  const newEmail = checked.record.target;
  const outcome = await flow.store.changeEmailWithMailCode({
    key: { subject: checked.record.subject, purpose: checked.record.purpose, id: checked.record.id },
    codeHash: checked.codeHash,
    now: flow.clock.now(),
    maxTries: flow.settings.codes.maxTries,
    userId: user.id,
    newEmail,
  });
  if (outcome === "taken") throw new AppError("NEW_EMAIL_ALREADY_IN_USE");
  if (outcome === "invalid") throw new AppError("OTP_INVALID_EXPIRED");
  await audit(flow, "email.transferred", user.id, principal.meta);
  await sendNotice(flow, user.email, "notice-email-transferred", mailOptionsOf(checked.record), { newEmail });
}
