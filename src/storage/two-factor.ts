/**
 * Two-factor: TOTP, email OTP and recovery codes. Methods that change which methods are active
 * ("2FA on/off") first lock the user's row (`UPDATE users … WHERE id = ?`), so they run one at a
 * time per user on both dialects; that is how "the first method creates the recovery codes" and
 * "the last one deletes them" stay true under concurrent requests.
 */

export interface TwoFactorRecord {
  totp: { secretEnc: string | null; pendingSecretEnc: string | null; enabledAt: number | null } | undefined;
  emailOtp: { email: string | null; pendingEmail: string | null; enabledAt: number | null } | undefined;
  recoveryCodes: { createdAt: number; remaining: number } | undefined;
  /** The user's passkeys: how many, and when the first was added; undefined when none. */
  passkeys: { count: number; createdAt: number } | undefined;
}

/** The user_totp row: sealed secrets (AES-256-GCM with key id, aad `totp:<userId>`). */
export interface TotpState {
  secretEnc: string | null;
  pendingSecretEnc: string | null;
  enabledAt: number | null;
  lastUsedStep: number | null;
}

/** What turning a method on stores with it when it is the first: the recovery codes' hashes. */
interface FirstMethodCodes {
  now: number;
  recoveryCodeHashes: string[];
}

/** The pending secret `pendingSecretEnc` checked with a code of TOTP step `step`. */
export interface TotpActivation extends FirstMethodCodes {
  userId: number;
  pendingSecretEnc: string;
  step: number;
}

export interface EmailOtpActivation extends FirstMethodCodes {
  userId: number;
  email: string;
}

/** Whether this caller turned the method on, and whether it stored the recovery codes with it. */
export interface MethodActivated {
  activated: boolean;
  recoveryCodesCreated: boolean;
}

/** A code of TOTP step `step` checked against the active secret `secretEnc`. */
export interface TotpStepUse {
  userId: number;
  secretEnc: string;
  step: number;
}

/** Recovery codes of a user, by hash (a candidate's hashes under every key id, or a new set). */
export interface RecoveryCodeHashes {
  userId: number;
  codeHashes: string[];
  now: number;
}

export interface TwoFactorStore {
  /** The three second-factor records of a user, in one read. */
  twoFactor(userId: number): Promise<TwoFactorRecord>;
  /** The stored TOTP state of a user (sealed secrets, never plaintext), or undefined if never set up. */
  totpState(userId: number): Promise<TotpState | undefined>;
  /** Upserts the pending secret (one statement); an active secret is left as it is (§3 life cycle). */
  setPendingTotpSecret(userId: number, pendingSecretEnc: string): Promise<void>;
  /**
   * Activates the pending secret, in one transaction under the user lock: a conditional UPDATE
   * `… WHERE pending_secret_enc = :checked` decides (a concurrent setup or enable makes it lose).
   * The winner stores `step` as last_used_step; if no method was active before, the user's recovery
   * codes are replaced by `recoveryCodeHashes`. Returns whether this caller won and whether codes were stored.
   */
  activateTotp(activation: TotpActivation): Promise<MethodActivated>;
  /**
   * Accepts TOTP step `step` once (RFC 6238 §5.2): one conditional UPDATE
   * `… WHERE enabled_at IS NOT NULL AND secret_enc = :checked AND (last_used_step IS NULL OR last_used_step < :step)`.
   * True only for the caller whose UPDATE changed the row.
   */
  useTotpStep(use: TotpStepUse): Promise<boolean>;
  /**
   * Deactivates TOTP (and drops a pending secret) under the user lock; when no method stays active the
   * recovery codes are deleted in the same transaction. False when TOTP was not active.
   */
  deactivateTotp(userId: number): Promise<boolean>;
  /**
   * Spends one unused recovery code: one conditional UPDATE `SET used_at = :now WHERE user_id = :id AND
   * code_hash IN (:hashes) AND used_at IS NULL`; `codeHashes` are the candidate's hashes under every key
   * id. True only for the caller whose UPDATE changed a row.
   */
  useRecoveryCode(use: RecoveryCodeHashes): Promise<boolean>;
  /**
   * Replaces every recovery code of the user with `codeHashes`, in one transaction under the user lock,
   * only while a method is active. False (nothing changed) when 2FA is off.
   */
  replaceRecoveryCodes(replacement: RecoveryCodeHashes): Promise<boolean>;
  /** Upserts the address a setup code was mailed to; an active email OTP stays active (§3 life cycle). */
  setPendingEmailOtp(userId: number, email: string): Promise<void>;
  /**
   * Makes `email` the active 2FA address (one transaction under the user lock). If no method was
   * active before, the recovery codes are replaced by `recoveryCodeHashes`.
   */
  activateEmailOtp(activation: EmailOtpActivation): Promise<MethodActivated>;
  /**
   * Deactivates email OTP under the user lock; when no method stays active the recovery codes are
   * deleted in the same transaction. False when email OTP was not active.
   */
  deactivateEmailOtp(userId: number): Promise<boolean>;
}
