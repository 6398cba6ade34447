import type { TwoFactorRecord } from "../../storage/store.js";

/** 2FA is on while at least one method is active (the life cycle of §3). */
export function twoFactorEnabled(record: TwoFactorRecord): boolean {
  return record.totp?.enabledAt != null || record.emailOtp?.enabledAt != null;
}
