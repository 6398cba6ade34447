import type { TwoFactorRecord } from "../../storage/store.js";

/**
 * A second-factor method is active once enabled; a pending setup is not (the life cycle of §3).
 * The one rule the token guard, the 2FA state and the flows share; the login's SQL mirrors it.
 */
export function methodActive<M extends { enabledAt: number | null }>(
  method: M | undefined,
): method is M & { enabledAt: number } {
  return method?.enabledAt != null;
}

/** 2FA is on while at least one method is active: TOTP, email OTP, or a passkey. */
export function twoFactorEnabled(record: TwoFactorRecord): boolean {
  return methodActive(record.totp) || methodActive(record.emailOtp) || (record.passkeys?.count ?? 0) > 0;
}
