/**
 * Invitations (§5, §3 "User: invitation"): an operator creates an account without a password and the
 * person gets a mail with a code (and, where the origin has `inviteUrl`, a link) to choose it.
 *
 * The invitation is a mailed code of purpose "invitation" (the machinery of mail-codes.ts: a keyed
 * hash, tries, single use, a new send replacing the old), bound to the account's address like a
 * reset code, so an unknown address is checked exactly like a known one. It lives
 * `codes.invitationTtlSeconds` (7 days by default) and has no resend window: only an operator sends
 * one. Guesses count on the address's `otp:invitation` throttle, across sends.
 *
 * Accepting spends the code, sets the first password (only on an account that has none), opens a
 * session as a login does and records `invitation.accepted` and `login.succeeded`, in one
 * transaction. Other sessions and the token generation are left alone (an account without a password
 * has none to end). An account without a password cannot have a second factor (setting one up needs a
 * sign-in), so the session opens at once.
 */
import { AppError, BadRequestError } from "../errors.js";
import type { SecurityEvent } from "../events.js";
import { iso } from "../iso-time.js";
import { isSingleAddress } from "../mail/single-address.js";
import { assertAcceptablePassword } from "../password/policy.js";
import type { RequestMeta } from "../request-meta.js";
import { audit } from "./audit.js";
import type { FlowContext } from "./context.js";
import { addressCodeSubject, checkCode, type MailOptions, sendCode } from "./mail-codes.js";
import { issueAccessAndSudo, type SessionTokens } from "./sessions.js";

const PURPOSE = "invitation";

/** The pending state `GET /admin/users/{id}` shows; absent when there is none. */
export interface InvitationState {
  pending: true;
  expiresAt: string;
}

/**
 * Checks, before any account is made, that an invitation mail can be rendered for `email` with these
 * options: an unknown origin is a 500 UNABLE_TO_FIND_MAIL_TEMPLATE with nothing created.
 */
export function assertInvitationMailable(flow: FlowContext, email: string, mail: MailOptions): void {
  if (!isSingleAddress(email)) throw new BadRequestError("Invalid email address");
  flow.mailer.render({
    to: email,
    template: PURPOSE,
    vars: { code: "000000", expiresDays: 1 },
    ...(mail.origin === undefined ? {} : { origin: mail.origin }),
    ...(mail.language === undefined ? {} : { language: mail.language }),
  });
}

/**
 * Mails an invitation to the account (on creation, or again later: the new code replaces the old).
 * 409 INVITATION_NOT_NEEDED when the account has a password already. A mail that cannot be delivered
 * leaves no code (500 MAIL_DELIVERY_FAILED); the account stays, and the invitation can be sent again.
 */
export async function sendInvitation(
  flow: FlowContext,
  userId: number,
  mail: MailOptions,
  meta: RequestMeta,
): Promise<void> {
  const user = await flow.store.findUserById(userId);
  if (!user) throw new AppError("USER_NOT_FOUND");
  if (user.passwordHash !== null) throw new AppError("INVITATION_NOT_NEEDED");
  await sendCode(flow, {
    purpose: PURPOSE,
    subject: addressCodeSubject(user.email),
    userId: user.id,
    to: user.email,
    mail,
    throttled: "TOO_MANY_OTP_EMAILS",
    deliver: true,
    invitation: true,
  });
  await audit(flow, "invitation.sent", user.id, meta, {
    by: "admin",
    origin: mail.origin ?? null,
    language: mail.language ?? null,
  });
}

/** Whether the account has an invitation that can still be accepted. */
export async function invitationState(
  flow: FlowContext,
  user: { id: number; email: string; passwordHash: string | null },
): Promise<InvitationState | undefined> {
  if (user.passwordHash !== null) return undefined;
  const live = await flow.store.liveMailCode(
    addressCodeSubject(user.email),
    PURPOSE,
    flow.clock.now(),
    flow.settings.codes.maxTries,
  );
  if (!live || live.userId !== user.id) return undefined;
  return { pending: true, expiresAt: iso(live.expiresAt) };
}

/**
 * `POST /user/invitation/accept`: the password rules first (a refused password costs no try), then one
 * guess on the address's throttle and one try on its code; a wrong, expired, used or replaced code,
 * an address without an invitation and an account that has a password meanwhile all answer 401
 * INVITATION_INVALID. Of concurrent accepts of one code exactly one wins.
 */
export async function acceptInvitation(
  flow: FlowContext,
  input: { email: string; code: string; password: string },
  meta: RequestMeta,
): Promise<SessionTokens> {
  assertAcceptablePassword(input.password);
  const user = await flow.store.findUserByEmail(input.email);
  const checked = await checkCode(flow, addressCodeSubject(input.email), PURPOSE, input.code);
  if (!user || !checked || checked.record.userId !== user.id || user.passwordHash !== null) {
    throw new AppError("INVITATION_INVALID");
  }
  // As a login answers a disabled account with the right password; the code stays unspent.
  if (user.disabledAt !== null) throw new AppError("ACCOUNT_DISABLED");

  const passwordHash = await flow.hasher.hash(input.password);
  const now = flow.clock.now();
  const session = {
    id: flow.random.uuid(),
    userId: user.id,
    createdAt: now,
    expiresAt: now + flow.settings.tokens.refreshTtlSeconds * 1000,
    ip: meta.ip,
    userAgent: meta.userAgent,
    methods: ["password"] as const,
  };
  const refreshJti = flow.tokens.newJti();
  const base = { userId: user.id, ip: meta.ip, userAgent: meta.userAgent };
  const events: SecurityEvent[] = [
    { type: "invitation.accepted", ...base },
    { type: "login.succeeded", ...base },
  ];
  const { record, codeHash } = checked;
  const accepted = await flow.store.acceptInvitation({
    code: {
      key: { subject: record.subject, purpose: record.purpose, id: record.id },
      codeHash,
      maxTries: flow.settings.codes.maxTries,
    },
    userId: user.id,
    passwordHash,
    now,
    session,
    refreshJti,
    events: events.map((event) => ({ ...event, userId: user.id, at: now })),
  });
  if (!accepted) throw new AppError("INVITATION_INVALID");
  for (const event of events) flow.events.written(event);
  const refresh = await flow.tokens.issue(
    "refresh",
    { userId: user.id, sessionId: session.id },
    session.expiresAt,
    refreshJti,
  );
  return { refresh, ...(await issueAccessAndSudo(flow, user.id, session.id)) };
}
