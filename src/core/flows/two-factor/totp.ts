/**
 * TOTP as a second factor (§3 "User: two-factor methods", §4): setup, activation, the check, and
 * deactivation. Secrets are sealed with the keyring under aad `totp:<userId>`, so a sealed secret
 * copied to another user's row does not decrypt.
 */

import { AppError } from "../../errors.js";
import type { RequestMeta } from "../../request-meta.js";
import { type Keyring, SecretDecryptError } from "../../secrets/keyring.js";
import { userSubject } from "../../throttle/guess-throttle.js";
import type { Principal } from "../../tokens/token-guard.js";
import { generateTotpSecret, matchTotp, totpUrl } from "../../totp/totp.js";
import { methodActive } from "../../two-factor/methods.js";
import { audit } from "../audit.js";
import type { FlowContext } from "../context.js";
import { sendNotice } from "../mail-codes.js";
import type { SessionTokens } from "../sessions.js";
import { completeSecondFactor } from "./complete.js";
import { newRecoveryCodes } from "./recovery-codes.js";

/** Binds a sealed TOTP secret to its owner: moved to another user's row, it no longer decrypts. */
export function totpAad(userId: number): string {
  return `totp:${userId}`;
}

function openSecret(keyring: Keyring, sealed: string, userId: number): Buffer {
  try {
    return keyring.decrypt(sealed, totpAad(userId));
  } catch (error) {
    if (error instanceof SecretDecryptError) throw new AppError("TOTP_CORRUPT");
    throw error;
  }
}

/**
 * The issuer shown in authenticator apps: configured (config refuses a colon), or the host name of
 * the service's issuer URL (without the port, whose colon would split the otpauth label).
 */
export function totpIssuer(flow: FlowContext): string {
  return flow.settings.totpIssuer ?? new URL(flow.settings.issuer).hostname.replaceAll(":", "");
}

/**
 * `POST /user/2fa/totp/setup`: a new secret, pending until activated. An active secret stays active
 * (and keeps working) until the new one is activated (§3 life cycle).
 */
export async function setupTotp(flow: FlowContext, principal: Principal): Promise<{ url: string }> {
  const user = await flow.store.findUserById(principal.userId);
  if (!user) throw new AppError("TOKEN_REVOKED");
  const secret = generateTotpSecret(flow.random);
  await flow.store.setPendingTotpSecret(user.id, flow.keyring.encrypt(secret, totpAad(user.id), flow.random));
  return { url: totpUrl({ secret, issuer: totpIssuer(flow), account: user.email }) };
}

/**
 * The otpauth URL of the secret waiting for activation, or undefined when none is. For a face that
 * shows the QR code again after a wrong confirmation code: the caller must hold what setup needed.
 */
export async function pendingTotpUrl(flow: FlowContext, principal: Principal): Promise<string | undefined> {
  const user = await flow.store.findUserById(principal.userId);
  const pending = user ? ((await flow.store.totpState(user.id))?.pendingSecretEnc ?? null) : null;
  if (!user || pending === null) return undefined;
  const secret = openSecret(flow.keyring, pending, user.id);
  return totpUrl({ secret, issuer: totpIssuer(flow), account: user.email });
}

/**
 * `POST /user/2fa/totp/enable`: checks a code of the pending secret and activates it. The first
 * active method creates the recovery codes, returned this once; otherwise the answer is `[]`.
 */
export async function enableTotp(flow: FlowContext, principal: Principal, code: string): Promise<string[]> {
  const userId = principal.userId;
  const pending = (await flow.store.totpState(userId))?.pendingSecretEnc ?? null;
  if (pending === null) throw new AppError("TOTP_UNINITIALIZED");
  await flow.throttle.claim(userSubject(userId), "totp");

  const now = flow.clock.now();
  const match = matchTotp({ secret: openSecret(flow.keyring, pending, userId), code, nowMs: now, lastUsedStep: null });
  if (!match) throw new AppError("TOTP_INVALID");
  const recovery = newRecoveryCodes(flow);
  const result = await flow.store.activateTotp({
    userId,
    pendingSecretEnc: pending,
    step: match.step,
    now,
    recoveryCodeHashes: recovery.hashes,
  });
  // Lost to a concurrent enable or a newer setup: the checked secret is no longer the pending one.
  if (!result.activated) throw new AppError("TOTP_INVALID");
  await flow.throttle.succeed(userSubject(userId), "totp");
  await audit(flow, "2fa.enabled", userId, principal.meta, { method: "totp" });
  return result.recoveryCodesCreated ? recovery.codes : [];
}

/**
 * `POST /user/2fa/totp/authenticate`. The throttle is claimed before the code is looked at; the code's
 * step is then accepted by one conditional UPDATE, so of any number of concurrent requests with one
 * code (on any node) exactly one wins (RFC 6238 §5.2).
 */
export async function authenticateTotp(
  flow: FlowContext,
  principal: Principal,
  code: string,
  meta: RequestMeta,
): Promise<SessionTokens> {
  const userId = principal.userId;
  const state = await flow.store.totpState(userId);
  const sealed = methodActive(state) ? state.secretEnc : null;
  if (!state || sealed === null) throw new AppError("TOTP_UNINITIALIZED");
  await flow.throttle.claim(userSubject(userId), "totp");

  const match = matchTotp({
    secret: openSecret(flow.keyring, sealed, userId),
    code,
    nowMs: flow.clock.now(),
    lastUsedStep: state.lastUsedStep,
  });
  if (!match || !(await flow.store.useTotpStep({ userId, secretEnc: sealed, step: match.step }))) {
    await audit(flow, "second_factor.failed", userId, meta, { method: "totp" });
    throw new AppError("TOTP_INVALID");
  }
  await flow.throttle.succeed(userSubject(userId), "totp");
  await audit(flow, "second_factor.succeeded", userId, meta, { method: "totp" });
  return completeSecondFactor(flow, principal, meta, "totp");
}

/** `GET /user/2fa/totp/next-guess`: the same wait the next TOTP check would be refused with. */
export async function totpNextGuess(flow: FlowContext, principal: Principal): Promise<number> {
  const state = await flow.store.totpState(principal.userId);
  if (!state || (!methodActive(state) && state.pendingSecretEnc === null)) {
    throw new AppError("TOTP_UNINITIALIZED");
  }
  return flow.throttle.secondsToWait(userSubject(principal.userId), "totp");
}

/** `DELETE /user/2fa/totp`. The last method gone turns 2FA off and deletes the recovery codes. */
export async function disableTotp(flow: FlowContext, principal: Principal): Promise<void> {
  if (!(await flow.store.deactivateTotp(principal.userId))) throw new AppError("TOTP_ALREADY_INACTIVE");
  await audit(flow, "2fa.disabled", principal.userId, principal.meta, { method: "totp" });
  const user = await flow.store.findUserById(principal.userId);
  if (user) await sendNotice(flow, user.email, "notice-2fa-disabled", {}, { method: "totp" });
}
