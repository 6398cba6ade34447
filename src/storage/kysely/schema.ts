import type { Generated } from "kysely";

/** Times are integer milliseconds since the Unix epoch (BIGINT on PostgreSQL, INTEGER on SQLite). */
export interface UsersTable {
  id: Generated<number>;
  email: string;
  /** Lower-cased email: the login key (§1, compared case-insensitively). */
  email_lower: string;
  password_hash: string | null;
  disabled_at: number | null;
  created_at: number;
}

export interface SessionsTable {
  id: string;
  user_id: number;
  created_at: number;
  /** Absolute end of the session (refresh lifetime, §2). */
  expires_at: number;
  revoked_at: number | null;
  ip: string | null;
  user_agent: string | null;
}

export interface RefreshTokensTable {
  jti: string;
  session_id: string;
  issued_at: number;
  used_at: number | null;
}

export interface ThrottlesTable {
  subject: string;
  kind: string;
  failures: number;
  next_allowed_at: number;
}

export interface SigningKeysTable {
  kid: string;
  private_pem: string;
  public_pem: string;
  created_at: number;
}

export interface UserTotpTable {
  user_id: number;
  /** Sealed (AES-256-GCM, key id) active secret; null while TOTP is inactive. */
  secret_enc: string | null;
  /** Sealed secret from the latest setup, waiting for activation. */
  pending_secret_enc: string | null;
  enabled_at: number | null;
  /** The highest RFC 6238 time step accepted so far (§4: a step is accepted once only). */
  last_used_step: number | null;
}

export interface UserEmailOtpTable {
  user_id: number;
  email: string | null;
  pending_email: string | null;
  enabled_at: number | null;
}

export interface RecoveryCodesTable {
  user_id: number;
  code_hash: string;
  created_at: number;
  used_at: number | null;
}

export interface Database {
  users: UsersTable;
  sessions: SessionsTable;
  refresh_tokens: RefreshTokensTable;
  throttles: ThrottlesTable;
  signing_keys: SigningKeysTable;
  user_totp: UserTotpTable;
  user_email_otp: UserEmailOtpTable;
  recovery_codes: RecoveryCodesTable;
}
