import type { ColumnType, Generated } from "kysely";

/** Times are integer milliseconds since the Unix epoch (BIGINT on PostgreSQL, INTEGER on SQLite). */
/**
 * What `email_lower` holds for an address, and what a lookup by address compares with it: every
 * write of the column and every read by it goes through here, so the two cannot drift apart.
 */
export function emailKey(email: string): string {
  return email.toLowerCase();
}

export interface UsersTable {
  id: Generated<number>;
  email: string;
  /** Lower-cased email: the login key (§1, compared case-insensitively). */
  email_lower: string;
  password_hash: string | null;
  disabled_at: number | null;
  created_at: number;
  /** Moves on whenever every session of the user is revoked; partial tokens carry the value they were issued under. */
  token_generation: Generated<number>;
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
  /** The session's start, moved on by rotations and access tokens issued from it (migration 2026-12-03-001, §6). */
  last_used_at: number;
  /** Space-separated AuthMethod values; null for sessions from before 2026-12-07-004. */
  auth_methods: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface RefreshTokensTable {
  jti: string;
  session_id: string;
  issued_at: number;
  used_at: number | null;
  /** The jti its rotation returned (set together with used_at). */
  replaced_by: string | null;
}

export interface ThrottlesTable {
  subject: string;
  kind: string;
  failures: number;
  next_allowed_at: number;
}

export interface SigningKeysTable {
  kid: string;
  /** Sealed with the encryption keyring (see SigningKeyRecord). */
  private_key_enc: string;
  public_pem: string;
  created_at: number;
  activates_at: number;
  /** "EdDSA" or "RS256" (SigningAlgorithm). */
  alg: Generated<string>;
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

/** Partial tokens that already produced a session (migration 2026-11-27-002): each is good for one. */
export interface SpentPartialTokensTable {
  jti: string;
  user_id: number;
  /** The token's own expiry: after it the row can go, since the token no longer verifies. */
  expires_at: number;
}

/**
 * Mailed one-time codes (migration 2026-11-27-003): at most one per subject and purpose, so a new
 * send replaces the previous code, and the row's `created_at` is the resend throttle's clock.
 */
export interface MailCodesTable {
  /** `user:<id>`, or `email:<lower-cased address>` for password resets (bound to the address). */
  subject: string;
  purpose: string;
  /** Changes with every send: claims and consumption name it, so a replaced code is dead. */
  id: string;
  user_id: number | null;
  /** The address the code was mailed to (the pending 2FA address, the new login address …). */
  target: string;
  /** The mail query of the send, reused for the security notice that follows the code. */
  origin: string | null;
  language: string | null;
  /** HMAC-SHA-256 of the code under keyring.macKey("mail-code", kid). */
  code_hash: string;
  kid: string;
  tries: number;
  created_at: number;
  expires_at: number;
  consumed_at: number | null;
  /** A sign-up's chosen password (argon2id) until its code is spent (migration 2026-12-04-002); else null. */
  password_hash: string | null;
}

/** Passkeys (migration 2026-12-05-001): WebAuthn credentials, a second-factor method like TOTP. */
export interface PasskeysTable {
  /** The credential id, base64url. */
  id: string;
  user_id: number;
  /** The COSE public key, base64url. */
  public_key: string;
  /** The authenticator's signature counter as last seen (0 for authenticators that keep none). */
  counter: number;
  /** JSON array of transport hints. */
  transports: string;
  name: string;
  /** 1 when the credential is backed up (synced), else 0. */
  backed_up: number;
  device_type: string;
  created_at: number;
  last_used_at: number | null;
}

/** Challenges handed out for a WebAuthn ceremony (migration 2026-12-05-001); each is taken once. */
export interface WebauthnChallengesTable {
  /** base64url, as it comes back in the client data. */
  challenge: string;
  purpose: string;
  /** The user it was made for; null for a sign-in without a username. */
  user_id: number | null;
  expires_at: number;
}

/**
 * The audit trail. An event concerns a user, or (migration 2026-12-07-001) an OAuth client with
 * `user_id` null.
 */
export interface AuditEventsTable {
  id: Generated<number>;
  user_id: number | null;
  type: string;
  at: number;
  ip: string | null;
  user_agent: string | null;
  /** JSON object of non-secret details. */
  details: string | null;
  /** The OAuth client the event concerns (migration 2026-12-07-001); null for a user's event. */
  client_id: string | null;
}

/** The OAuth clients (migration 2026-12-07-001): the applications that sign in with Latchkey. */
export interface OauthClientsTable {
  /** The client_id. */
  id: string;
  name: string;
  /** SHA-256 (hex) of the client secret; null for a public client. */
  secret_hash: string | null;
  /** JSON array of absolute URLs. */
  redirect_uris: string;
  /** JSON array of absolute URLs. */
  post_logout_redirect_uris: string;
  /** Space-separated scopes. */
  scopes: string;
  /** 1 for an application of the operator's own (no consent asked), else 0. */
  first_party: number;
  /** "RS256" or "EdDSA" (migration 2026-12-07-005). */
  id_token_alg: Generated<string>;
  created_at: number;
  updated_at: number;
}

/**
 * The OpenID provider's stored artifacts (migration 2026-12-07-002), written by src/oidc/adapter.ts:
 * one row per model and artifact id, the id kept only as its SHA-256.
 */
export interface OidcPayloadsTable {
  /** oidc-provider's model name: AuthorizationCode, RefreshToken, AccessToken, Session, Grant … */
  model: string;
  /** SHA-256 hex of the artifact's id (a bearer secret for codes and tokens). */
  id_hash: string;
  /** The payload as JSON, without the id. */
  payload: string;
  /** The grant the artifact belongs to, for revoking them all at once. */
  grant_id: string | null;
  /** SHA-256 hex of a session's uid, for the lookup by uid. */
  uid_hash: string | null;
  /** A device flow's user code, for the lookup by user code. */
  user_code: string | null;
  /** When it may go; null for no expiry. */
  expires_at: number | null;
  /** Set once, by the one caller whose conditional UPDATE consumed it. */
  consumed_at: number | null;
}

export interface Database {
  oidc_payloads: OidcPayloadsTable;
  audit_events: AuditEventsTable;
  oauth_clients: OauthClientsTable;
  users: UsersTable;
  sessions: SessionsTable;
  refresh_tokens: RefreshTokensTable;
  throttles: ThrottlesTable;
  signing_keys: SigningKeysTable;
  user_totp: UserTotpTable;
  passkeys: PasskeysTable;
  webauthn_challenges: WebauthnChallengesTable;
  user_email_otp: UserEmailOtpTable;
  recovery_codes: RecoveryCodesTable;
  mail_codes: MailCodesTable;
  spent_partial_tokens: SpentPartialTokensTable;
}
