/**
 * Mailed one-time codes (§4), shared by email OTP, password reset, email transfer and sign-up.
 *
 * Sending, in this order: render the mail (an unknown origin or missing template is 500
 * UNABLE_TO_FIND_MAIL_TEMPLATE before anything is stored); store the code, which is also the resend
 * throttle (one statement, so concurrent sends cannot both pass); deliver. An undelivered mail
 * withdraws its code, so the failed send is not charged to the throttle and leaves no live code.
 *
 * Checking: one guess is claimed on the subject's guess throttle of the purpose, counted across sends
 * (§4), then one try on the code, both before the hash is compared (a burst of guesses never gets more
 * comparisons than either budget allows); spending is a second conditional UPDATE that exactly one
 * caller wins.
 */
import { constantTimeEqual } from "../../platform/crypto.js";
import type { MailCodeKey, MailCodePurpose, MailCodeRecord } from "../../storage/store.js";
import { AppError, BadRequestError, type ErrorCode } from "../errors.js";
import type { MailRequest, MailTemplate, MailVars } from "../mail/port.js";
import { isSingleAddress } from "../mail/single-address.js";
import { generateMailCode, hashMailCode, MAIL_CODE_KEY_PURPOSE } from "../otp/codes.js";
import type { MailCodeGuessKind } from "../throttle/guess-throttle.js";
import type { FlowContext } from "./context.js";

/** The mail query of §1: which mail configuration and language to use. */
export interface MailOptions {
  origin?: string | undefined;
  language?: string | undefined;
}

export function userCodeSubject(userId: number): string {
  return `user:${userId}`;
}

/** Reset codes are bound to the address (§4: "reset: to the same address, known or not"). */
export function addressCodeSubject(email: string): string {
  return `email:${email.toLowerCase()}`;
}

/** The template that carries each purpose's code. */
const CODE_TEMPLATE: Readonly<Record<MailCodePurpose, MailTemplate>> = {
  "email-otp-setup": "email-otp-setup",
  "email-otp-challenge": "email-otp-challenge",
  "password-reset": "password-reset",
  "email-transfer": "email-transfer",
  signup: "signup-confirm",
  invitation: "invitation",
};

export interface SendCodeInput {
  purpose: MailCodePurpose;
  subject: string;
  userId: number | null;
  /** Recipient, and the address the code is bound to (stored as the code's target). */
  to: string;
  mail: MailOptions;
  /** The 429 code of the endpoint. */
  throttled: ErrorCode;
  /** False for a reset to an unknown address: the same work, without the delivery (§3). */
  deliver: boolean;
  /**
   * An invitation's code: its own lifetime (`codes.invitationTtlSeconds`, stated in days in the mail)
   * and no resend window, since only an operator sends one and a new one replaces the old at once.
   */
  invitation?: boolean;
  /** A sign-up's chosen password (argon2id), kept with the code; see NewMailCode. */
  passwordHash?: string | null;
  /**
   * Mailed in place of the code (which is then stored bound to nothing, so it can never be spent):
   * a sign-up with an address an account has gets a notice, with the same work and pacing.
   */
  noticeInstead?: MailTemplate;
}

function mailRequest(to: string, template: MailRequest["template"], mail: MailOptions, vars: MailVars): MailRequest {
  return {
    to,
    template,
    vars,
    ...(mail.origin === undefined ? {} : { origin: mail.origin }),
    ...(mail.language === undefined ? {} : { language: mail.language }),
  };
}

/**
 * Renders the mail and stores its code, which is also the resend throttle (429 while the window of the
 * previous send is not over). Nothing is stored when the mail cannot be rendered.
 */
async function storeCode(
  flow: FlowContext,
  input: Omit<SendCodeInput, "deliver">,
): Promise<{ request: MailRequest; key: MailCodeKey }> {
  // The schema's email format allows a little more than one deliverable bare address (e.g. 256 chars).
  if (!isSingleAddress(input.to)) throw new BadRequestError("Invalid email address");
  const now = flow.clock.now();
  const { codes } = flow.settings;
  const ttlSeconds = input.invitation ? codes.invitationTtlSeconds : codes.ttlSeconds;
  const resendSeconds = input.invitation ? 0 : codes.resendSeconds;
  const code = generateMailCode(flow.random);
  const request = mailRequest(
    input.to,
    CODE_TEMPLATE[input.purpose],
    input.mail,
    input.invitation
      ? { code, expiresDays: Math.max(1, Math.round(ttlSeconds / 86_400)) }
      : { code, expiresMinutes: Math.ceil(ttlSeconds / 60) },
  );
  flow.mailer.render(request);

  const mac = flow.keyring.macKey(MAIL_CODE_KEY_PURPOSE);
  const key = { subject: input.subject, purpose: input.purpose, id: flow.random.uuid() };
  const issued = await flow.store.issueMailCode(
    {
      ...key,
      userId: input.userId,
      target: input.to,
      origin: input.mail.origin ?? null,
      language: input.mail.language ?? null,
      codeHash: hashMailCode(mac.key, key, code),
      kid: mac.kid,
      createdAt: now,
      expiresAt: now + ttlSeconds * 1000,
      passwordHash: input.passwordHash ?? null,
    },
    now - resendSeconds * 1000,
    // Other subjects' rows are dropped only past the usual resend window, whatever this send's.
    now - codes.resendSeconds * 1000,
  );
  if (!issued.issued) {
    const waitMs = issued.lastSentAt + resendSeconds * 1000 - now;
    throw new AppError(input.throttled, { retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) });
  }
  return { request, key };
}

/**
 * Charges a send that mails nothing: the same rendering and resend window as `sendCode`, with a code
 * bound to no account, so it can never be spent. Like any send it replaces the subject's code of the
 * purpose. For answers that must be paced like a send (§4: the taken address of a transfer).
 */
export async function chargeUnmailedSend(
  flow: FlowContext,
  input: Omit<SendCodeInput, "deliver" | "userId">,
): Promise<void> {
  await storeCode(flow, { ...input, userId: null });
}

export async function sendCode(flow: FlowContext, input: SendCodeInput): Promise<void> {
  // The notice is rendered before anything is stored, as the code's mail is.
  const notice =
    input.noticeInstead === undefined ? undefined : mailRequest(input.to, input.noticeInstead, input.mail, {});
  if (notice) flow.mailer.render(notice);
  const { request, key } = await storeCode(flow, notice ? { ...input, userId: null, passwordHash: null } : input);
  const sendStartedAt = flow.clock.now();
  try {
    // A reset for an unknown address checks the mail server instead of sending, so that with the
    // server down it fails exactly as a known address does.
    await (input.deliver ? flow.mailer.send(notice ?? request) : flow.mailer.probe(request));
  } catch (error) {
    await flow.store.withdrawMailCode(key);
    throw error;
  }
  if (!input.deliver) {
    // Take as long as a delivery usually does, so timing does not tell the two cases apart.
    await flow.clock.sleep(flow.pacer.typicalMs() - (flow.clock.now() - sendStartedAt));
    return;
  }
  flow.pacer.record(flow.clock.now() - sendStartedAt);
}

/** Whole seconds until the next mail of the purpose may be sent to the subject, 0 if now. */
export async function secondsUntilNextSend(
  flow: FlowContext,
  subject: string,
  purpose: MailCodePurpose,
): Promise<number> {
  const sentAt = await flow.store.mailCodeSentAt(subject, purpose);
  if (sentAt === undefined) return 0;
  return Math.max(0, Math.ceil((sentAt + flow.settings.codes.resendSeconds * 1000 - flow.clock.now()) / 1000));
}

/** A code that matched; `spendCode` makes it used. */
export interface CheckedCode {
  record: MailCodeRecord;
  codeHash: string;
}

/** The guess throttle of a purpose's codes. */
export function codeGuessKind(purpose: MailCodePurpose): MailCodeGuessKind {
  return `otp:${purpose}`;
}

/**
 * Whether a stored code may ever be spent: one bound to an account, or a sign-up's that holds the
 * chosen password. Neither the unmailed codes that pace answers nor a reset to an unknown address are.
 */
function spendable(record: MailCodeRecord): boolean {
  return record.purpose === "signup" ? record.passwordHash !== null : record.userId !== null;
}

/**
 * Claims one guess on the subject's throttle of the purpose (429 TOO_MANY_OTP_CHECKS while it must
 * wait, checking nothing), then counts one try on its live code and compares in constant time. A
 * match clears the throttle. Undefined when there is no live code (none, expired, used, replaced,
 * out of tries), it can never be spent (see `spendable`), or it differs.
 */
export async function checkCode(
  flow: FlowContext,
  subject: string,
  purpose: MailCodePurpose,
  code: string,
): Promise<CheckedCode | undefined> {
  // Claimed for every subject alike, known or not, with or without a live code: the answers and the
  // 429 must not tell a reset to an unknown address from one to a known address.
  await flow.throttle.claim(subject, codeGuessKind(purpose));
  const record = await flow.store.claimMailCodeTry({
    subject,
    purpose,
    now: flow.clock.now(),
    maxTries: flow.settings.codes.maxTries,
  });
  // Without a live code the candidate is still hashed once, so both answers cost the same.
  const kid = record?.kid ?? flow.keyring.activeKid;
  if (!flow.keyring.kids().includes(kid)) return undefined;
  const codeHash = hashMailCode(flow.keyring.macKey(MAIL_CODE_KEY_PURPOSE, kid).key, { purpose, subject }, code);
  // A code that can never be spent was never mailed to anyone who may use it (an unknown reset
  // address, a taken transfer address, a sign-up with an address an account has).
  if (!record || !spendable(record) || !constantTimeEqual(codeHash, record.codeHash)) return undefined;
  await flow.throttle.succeed(subject, codeGuessKind(purpose));
  return { record, codeHash };
}

/** Spends a checked code; of concurrent spenders exactly one gets true. */
export function spendCode(flow: FlowContext, checked: CheckedCode): Promise<boolean> {
  const { record, codeHash } = checked;
  return flow.store.consumeMailCode({
    key: { subject: record.subject, purpose: record.purpose, id: record.id },
    codeHash,
    now: flow.clock.now(),
    maxTries: flow.settings.codes.maxTries,
  });
}

/**
 * A security notice (password changed, email transferred, 2FA method off). The change it reports has
 * already happened, so a notice that cannot be rendered or delivered is logged, not answered as an error.
 */
export async function sendNotice(
  flow: FlowContext,
  to: string,
  template: MailRequest["template"],
  mail: MailOptions,
  vars: MailVars = {},
): Promise<void> {
  try {
    await flow.mailer.send(mailRequest(to, template, mail, vars));
  } catch (error) {
    flow.logger.error({ err: error, template }, "security notice not sent");
  }
}

/** The mail options a code was sent with, for the notice that follows it. */
export function mailOptionsOf(record: MailCodeRecord): MailOptions {
  return { origin: record.origin ?? undefined, language: record.language ?? undefined };
}
