/**
 * Recovery codes (§3, §4): 10 single-use codes, stored only as `<kid>:<HMAC-SHA-256 hex>` under a
 * key derived from the keyring for the purpose "recovery-code". The kid travels with the hash, and a
 * candidate is hashed under every configured kid, so codes keep working after a key rotation for as
 * long as the old key stays listed.
 */

import { AppError } from "../../errors.js";
import { generateRecoveryCodes, hashRecoveryCode, normaliseRecoveryCode } from "../../recovery/recovery.js";
import type { RequestMeta } from "../../request-meta.js";
import { userSubject } from "../../throttle/guess-throttle.js";
import type { Principal } from "../../tokens/token-guard.js";
import { audit } from "../audit.js";
import type { FlowContext } from "../context.js";
import { sendNotice } from "../mail-codes.js";
import type { SessionTokens } from "../sessions.js";
import { completeSecondFactor } from "./complete.js";

const MAC_PURPOSE = "recovery-code";

function storedHash(flow: FlowContext, normalised: string, kid?: string): string {
  const mac = flow.keyring.macKey(MAC_PURPOSE, kid);
  return `${mac.kid}:${hashRecoveryCode(mac.key, normalised)}`;
}

/** A fresh set: the codes to show once, and their storage form under the active key. */
export function newRecoveryCodes(flow: FlowContext): { codes: string[]; hashes: string[] } {
  const codes = generateRecoveryCodes(flow.random);
  return { codes, hashes: codes.map((code) => storedHash(flow, code)) };
}

/**
 * `POST /user/2fa/recovery-code/authenticate`. The throttle is claimed before the code is looked at,
 * also for a code of the wrong shape. One conditional UPDATE spends the code: of concurrent uses of
 * one code exactly one wins.
 */
export async function authenticateRecoveryCode(
  flow: FlowContext,
  principal: Principal,
  input: string,
  meta: RequestMeta,
): Promise<SessionTokens> {
  const userId = principal.userId;
  if (!(await flow.store.twoFactor(userId)).recoveryCodes) throw new AppError("RECOVERY_CODES_UNINITIALIZED");
  await flow.throttle.claim(userSubject(userId), "recovery");

  const normalised = normaliseRecoveryCode(input);
  const codeHashes = normalised === null ? [] : flow.keyring.kids().map((kid) => storedHash(flow, normalised, kid));
  if (codeHashes.length === 0 || !(await flow.store.useRecoveryCode({ userId, codeHashes, now: flow.clock.now() }))) {
    await audit(flow, "second_factor.failed", userId, meta, { method: "recovery_code" });
    throw new AppError("RECOVERY_CODE_INVALID");
  }
  await flow.throttle.succeed(userSubject(userId), "recovery");
  await audit(flow, "recovery_code.used", userId, meta);
  await audit(flow, "second_factor.succeeded", userId, meta, { method: "recovery_code" });
  return completeSecondFactor(flow, principal, meta, "recovery_code");
}

/** `GET /user/2fa/recovery-code/next-guess`. */
export async function recoveryCodeNextGuess(flow: FlowContext, principal: Principal): Promise<number> {
  if (!(await flow.store.twoFactor(principal.userId)).recoveryCodes) {
    throw new AppError("RECOVERY_CODES_UNINITIALIZED");
  }
  return flow.throttle.secondsToWait(userSubject(principal.userId), "recovery");
}

/** `POST /user/2fa/recovery-code/reset`: 10 new codes; the old set stops working in the same transaction. */
export async function resetRecoveryCodes(flow: FlowContext, principal: Principal): Promise<string[]> {
  const fresh = newRecoveryCodes(flow);
  const replaced = await flow.store.replaceRecoveryCodes({
    userId: principal.userId,
    codeHashes: fresh.hashes,
    now: flow.clock.now(),
  });
  if (!replaced) throw new AppError("2FA_IS_DISABLED");
  await audit(flow, "recovery_codes.reset", principal.userId, principal.meta);
  const user = await flow.store.findUserById(principal.userId);
  if (user) await sendNotice(flow, user.email, "notice-recovery-codes-reset", {});
  return fresh.codes;
}
