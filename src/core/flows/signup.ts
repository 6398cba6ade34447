/**
 * Sign-up by the person themselves (LATCHKEY_SIGNUP): an address and a password, a code mailed to
 * the address, then the account exists and the person is signed in.
 *
 * A pending sign-up is its code's row (purpose "signup", subject the address, see mail-codes.ts):
 * the chosen password's hash waits there until the code is spent. So it lives as long as the code,
 * a later sign-up (past the resend wait) replaces it, and it never reserves the address: the account
 * is made only when the code is spent, and the unique index on the address decides against a
 * confirmation that comes after an account was made some other way.
 */
import { AppError } from "../errors.js";
import type { SecurityEvent } from "../events.js";
import { isDisposableAddress } from "../mail/disposable.js";
import { assertAcceptablePassword } from "../password/policy.js";
import type { RequestMeta } from "../request-meta.js";
import { userSubject } from "../throttle/guess-throttle.js";
import type { FlowContext, SignupPolicy } from "./context.js";
import { addressCodeSubject, checkCode, type MailOptions, sendCode } from "./mail-codes.js";
import { issueAccessAndSudo, type SessionTokens, startSessionAfterPassword } from "./sessions.js";

/** The lower-cased domain of an address, without a trailing dot. */
function domainOf(email: string): string {
  return email
    .slice(email.lastIndexOf("@") + 1)
    .toLowerCase()
    .replace(/\.$/, "");
}

/** Whether sign-up is on at all: when it is off, its endpoints and pages do not exist (404). */
export function signupOpen(policy: SignupPolicy): boolean {
  return policy.mode !== "off";
}

function assertSignupOn(flow: FlowContext): void {
  if (!signupOpen(flow.settings.signup)) throw new AppError("ROUTE_NOT_FOUND");
}

/**
 * `POST /user/signup`. The refusals that do not depend on whether the address has an account come
 * first (off, domain, throw-away provider, password rules). Then the same work for every address:
 * the password is hashed, the mail rendered, a code stored (which is the resend wait of the address,
 * 429 TOO_MANY_SIGNUP_ATTEMPTS within it) and one mail delivered. A new address gets the code; an
 * address an account has gets a notice instead, and its code is stored without the password, so it
 * can never be spent. The answer is 204 either way: it does not tell whether an account exists.
 */
export async function startSignup(
  flow: FlowContext,
  input: { email: string; password: string },
  mail: MailOptions,
): Promise<void> {
  assertSignupOn(flow);
  const policy = flow.settings.signup;
  if (policy.mode === "domains" && !policy.domains.includes(domainOf(input.email))) {
    throw new AppError("SIGNUP_DOMAIN_NOT_ALLOWED");
  }
  if (isDisposableAddress(input.email)) throw new AppError("FORBIDDEN_MAIL_PROVIDER");
  assertAcceptablePassword(input.password);
  const existing = await flow.store.findUserByEmail(input.email);
  // Hashed in both cases, so that both take the same time.
  const passwordHash = await flow.hasher.hash(input.password);
  await sendCode(flow, {
    purpose: "signup",
    subject: addressCodeSubject(input.email),
    userId: null,
    to: existing?.email ?? input.email,
    mail,
    throttled: "TOO_MANY_SIGNUP_ATTEMPTS",
    deliver: true,
    passwordHash,
    ...(existing ? { noticeInstead: "notice-signup-existing" as const } : {}),
  });
}

/**
 * `POST /user/signup/confirm`. Checks the code as every mailed code is checked (one guess on the
 * address's throttle, one try on the code, 401 OTP_INVALID_EXPIRED), then one transaction spends it,
 * creates the account with the password chosen at sign-up and records `user.created` {by: "signup"}:
 * of concurrent confirmations exactly one creates the account. An account made meanwhile by other
 * means keeps the address (409 EMAIL_ALREADY_IN_USE, told only to whoever holds the mailed code).
 * The person is then signed in: a session as a login without a second factor opens.
 */
export async function confirmSignup(
  flow: FlowContext,
  input: { email: string; code: string },
  meta: RequestMeta,
): Promise<SessionTokens> {
  assertSignupOn(flow);
  const checked = await checkCode(flow, addressCodeSubject(input.email), "signup", input.code);
  const passwordHash = checked?.record.passwordHash;
  if (!checked || passwordHash === null || passwordHash === undefined) throw new AppError("OTP_INVALID_EXPIRED");
  const { record, codeHash } = checked;
  const now = flow.clock.now();
  const event: SecurityEvent = {
    type: "user.created",
    userId: null,
    ip: meta.ip,
    userAgent: meta.userAgent,
    details: { by: "signup" },
  };
  const result = await flow.store.createUserWithMailCode({
    code: {
      key: { subject: record.subject, purpose: record.purpose, id: record.id },
      codeHash,
      now,
      maxTries: flow.settings.codes.maxTries,
    },
    user: { email: record.target, passwordHash, createdAt: now },
    event: { type: event.type, at: now, ip: event.ip, userAgent: event.userAgent, details: event.details },
  });
  if (result.outcome !== "created") {
    throw new AppError(result.outcome === "taken" ? "EMAIL_ALREADY_IN_USE" : "OTP_INVALID_EXPIRED");
  }
  const { userId } = result;
  flow.events.written({ ...event, userId });
  const refresh = await startSessionAfterPassword(flow, userId, userSubject(userId), meta);
  // A new account has no second factor, so the session always opens.
  if (refresh === undefined) throw new Error("a new account's session did not open");
  return { refresh, ...(await issueAccessAndSudo(flow, userId, refresh.sessionId)) };
}
