/**
 * Passkeys (WebAuthn): a second-factor method like TOTP, and a sign-in without a password. The
 * ceremonies are @simplewebauthn/server's; what is ours is the life cycle around them:
 * - challenges are made here (the platform's randomness), kept on the server for 5 minutes, bound
 *   to a purpose and (but for the sign-in without a username) to the user, and taken once: the
 *   response that names one spends it, whatever the outcome, so a replay finds nothing;
 * - the first passkey of a user without another method turns 2FA on and creates the recovery codes,
 *   the last one removed turns it off (the §3 life cycle, in the store under the user lock);
 * - the signature counter must go forward (when the authenticator keeps one): a counter that does
 *   not is refused and recorded, since it means a cloned authenticator; the store moves it on with
 *   one conditional UPDATE, so of concurrent uses one wins;
 * - a sign-in without a password requires user verification and the user handle, which must be the
 *   credential's user: the passkey is then both factors.
 */

import {
  type AuthenticationResponseJSON,
  generateAuthenticationOptions,
  generateRegistrationOptions,
  type PublicKeyCredentialCreationOptionsJSON,
  type PublicKeyCredentialRequestOptionsJSON,
  type RegistrationResponseJSON,
  verifyAuthenticationResponse,
  verifyRegistrationResponse,
} from "@simplewebauthn/server";
import { decodeAttestationObject, parseAuthenticatorData } from "@simplewebauthn/server/helpers";
import type { AuditEventRecord, PasskeyRecord, WebAuthnPurpose } from "../../../storage/store.js";
import { AppError } from "../../errors.js";
import type { SecurityEvent } from "../../events.js";
import { iso } from "../../iso-time.js";
import type { RequestMeta } from "../../request-meta.js";
import type { Principal } from "../../tokens/token-guard.js";
import { audit } from "../audit.js";
import type { FlowContext } from "../context.js";
import { type MailOptions, sendNotice } from "../mail-codes.js";
import { firstRefreshToken, issueAccessAndSudo, newSession, type SessionTokens } from "../sessions.js";
import { completeSecondFactor } from "./complete.js";
import { newRecoveryCodes } from "./recovery-codes.js";

/** How long a ceremony's challenge stays good; also the timeout the browser is given. */
export const CHALLENGE_TTL_MS = 5 * 60_000;
/** Passkeys one user may have. */
export const MAX_PASSKEYS = 20;
/** ES256, EdDSA and RS256: what platform and roaming authenticators make. */
const ALGORITHMS = [-7, -8, -257];

/**
 * A ceremony's answer as it arrives (the JSON of WebAuthn Level 3, shape-checked by the route's
 * schema). Browsers send `null` for an attachment or user handle they do not have, and may name
 * transports newer than the library's list: both are narrowed to what the library takes.
 */
interface CredentialInput {
  id: string;
  rawId: string;
  type: "public-key";
  authenticatorAttachment?: string | null | undefined;
  clientExtensionResults: Record<string, unknown>;
}
export interface RegistrationInput extends CredentialInput {
  response: {
    clientDataJSON: string;
    attestationObject: string;
    authenticatorData?: string | undefined;
    transports?: string[] | undefined;
    publicKeyAlgorithm?: number | undefined;
    publicKey?: string | undefined;
  };
}
export interface AuthenticationInput extends CredentialInput {
  response: {
    clientDataJSON: string;
    authenticatorData: string;
    signature: string;
    userHandle?: string | null | undefined;
  };
}

const TRANSPORTS = new Set(["ble", "cable", "hybrid", "internal", "nfc", "smart-card", "usb"]);
type Transport = NonNullable<RegistrationResponseJSON["response"]["transports"]>[number];

function knownTransports(transports: readonly string[] | undefined): Transport[] {
  return (transports ?? []).filter((t): t is Transport => TRANSPORTS.has(t)).slice(0, 8);
}

function attachment(input: CredentialInput): Pick<RegistrationResponseJSON, "authenticatorAttachment"> {
  const value = input.authenticatorAttachment;
  return value === "platform" || value === "cross-platform" ? { authenticatorAttachment: value } : {};
}

function registrationResponse(input: RegistrationInput): RegistrationResponseJSON {
  const { transports, ...response } = input.response;
  return {
    id: input.id,
    rawId: input.rawId,
    type: input.type,
    clientExtensionResults: input.clientExtensionResults,
    response: { ...response, transports: knownTransports(transports) },
    ...attachment(input),
  };
}

function authenticationResponse(input: AuthenticationInput): AuthenticationResponseJSON {
  const { userHandle, ...signed } = input.response;
  return {
    id: input.id,
    rawId: input.rawId,
    type: input.type,
    clientExtensionResults: input.clientExtensionResults,
    response: { ...signed, ...(userHandle ? { userHandle } : {}) },
    ...attachment(input),
  };
}

export interface PasskeyView {
  passkeyId: string;
  name: string;
  createdAt: string;
  lastUsedAt: string | null;
  backedUp: boolean;
  transports: string[];
}

function view(passkey: PasskeyRecord): PasskeyView {
  return {
    passkeyId: passkey.credentialId,
    name: passkey.name,
    createdAt: iso(passkey.createdAt),
    lastUsedAt: passkey.lastUsedAt === null ? null : iso(passkey.lastUsedAt),
    backedUp: passkey.backedUp,
    transports: passkey.transports,
  };
}

const ADD_REFUSED = {
  limit: "PASSKEY_LIMIT_REACHED",
  exists: "PASSKEY_ALREADY_REGISTERED",
  no_user: "TOKEN_REVOKED",
} as const;

/** Whether passkeys can be used at all: a relying party id could be derived or was configured. */
export function passkeysEnabled(flow: FlowContext): boolean {
  return flow.settings.passkeys !== undefined;
}

function relyingParty(flow: FlowContext): NonNullable<FlowContext["settings"]["passkeys"]> {
  const rp = flow.settings.passkeys;
  if (!rp) throw new AppError("ROUTE_NOT_FOUND");
  return rp;
}

/** The user handle an authenticator keeps with a credential: the account's id, never its address. */
function userHandle(userId: number): Uint8Array<ArrayBuffer> {
  return new Uint8Array(Buffer.from(`latchkey:${userId}`, "utf8"));
}

const BASE64URL = /^[A-Za-z0-9_-]*$/;

function fromBase64url(value: string): Buffer {
  if (!BASE64URL.test(value) || value.length % 4 === 1) throw new AppError("PASSKEY_RESPONSE_MALFORMED");
  return Buffer.from(value, "base64url");
}

/**
 * The challenge a response answers, from its client data, before anything is looked up or spent:
 * a response that cannot be read is a 400 and changes nothing.
 */
function challengeOf(response: { id: string; rawId: string; response: { clientDataJSON: string } }): string {
  fromBase64url(response.id);
  if (response.rawId !== response.id) throw new AppError("PASSKEY_RESPONSE_MALFORMED");
  let clientData: unknown;
  try {
    clientData = JSON.parse(fromBase64url(response.response.clientDataJSON).toString("utf8"));
  } catch {
    throw new AppError("PASSKEY_RESPONSE_MALFORMED");
  }
  const challenge = (clientData as { challenge?: unknown } | null)?.challenge;
  if (typeof challenge !== "string" || challenge === "" || !BASE64URL.test(challenge)) {
    throw new AppError("PASSKEY_RESPONSE_MALFORMED");
  }
  return challenge;
}

/** Authenticator data that parses (flags, counter, and the credential data it says it carries). */
function readableAuthenticatorData(bytes: Uint8Array<ArrayBuffer>): void {
  try {
    parseAuthenticatorData(bytes);
  } catch {
    throw new AppError("PASSKEY_RESPONSE_MALFORMED");
  }
}

/** An attestation object that is CBOR with a byte-string `authData` that parses. */
function readableAttestation(attestationObject: string): void {
  let authData: unknown;
  try {
    authData = decodeAttestationObject(new Uint8Array(fromBase64url(attestationObject))).get("authData");
  } catch {
    throw new AppError("PASSKEY_RESPONSE_MALFORMED");
  }
  if (!(authData instanceof Uint8Array)) throw new AppError("PASSKEY_RESPONSE_MALFORMED");
  readableAuthenticatorData(new Uint8Array(authData));
}

async function newChallenge(flow: FlowContext, purpose: WebAuthnPurpose, userId: number | null): Promise<Buffer> {
  const bytes = flow.random.bytes(32);
  const now = flow.clock.now();
  await flow.store.saveWebAuthnChallenge(
    { challenge: bytes.toString("base64url"), purpose, userId, expiresAt: now + CHALLENGE_TTL_MS },
    now,
  );
  return bytes;
}

/** Spends the challenge a response names; refused unless it is live and was made for this purpose and user. */
async function takeChallenge(
  flow: FlowContext,
  challenge: string,
  purpose: WebAuthnPurpose,
  userId: number | null,
): Promise<void> {
  const taken = await flow.store.takeWebAuthnChallenge(challenge);
  if (!taken || taken.purpose !== purpose || taken.userId !== userId || taken.expiresAt <= flow.clock.now()) {
    throw new AppError("PASSKEY_CHALLENGE_INVALID");
  }
}

/** The name a passkey gets: the one given (trimmed), or "Passkey <n>". */
function passkeyName(given: string | undefined, count: number): string {
  const trimmed = given?.trim() ?? "";
  return trimmed === "" ? `Passkey ${count + 1}` : trimmed;
}

/** `POST /user/2fa/passkey/setup`: the options for `navigator.credentials.create()`. */
export async function passkeyRegistrationOptions(
  flow: FlowContext,
  principal: Principal,
): Promise<PublicKeyCredentialCreationOptionsJSON> {
  const rp = relyingParty(flow);
  const user = await flow.store.findUserById(principal.userId);
  if (!user) throw new AppError("TOKEN_REVOKED");
  const existing = await flow.store.listPasskeys(user.id);
  if (existing.length >= MAX_PASSKEYS) throw new AppError("PASSKEY_LIMIT_REACHED");
  const challenge = await newChallenge(flow, "registration", user.id);
  return generateRegistrationOptions({
    rpName: rp.rpName,
    rpID: rp.rpId,
    userName: user.email,
    userDisplayName: user.email,
    userID: userHandle(user.id),
    challenge: new Uint8Array(challenge),
    timeout: CHALLENGE_TTL_MS,
    attestationType: "none",
    excludeCredentials: existing.map((p) => ({ id: p.credentialId, transports: p.transports })),
    authenticatorSelection: { residentKey: "preferred", userVerification: "preferred" },
    supportedAlgorithmIDs: ALGORITHMS,
  });
}

/**
 * `POST /user/2fa/passkey/enable`: checks the authenticator's answer to a registration challenge of
 * this user and stores the passkey. The first 2FA method creates the recovery codes, returned once.
 */
export async function registerPasskey(
  flow: FlowContext,
  principal: Principal,
  input: { credential: RegistrationInput; name?: string | undefined },
  mail: MailOptions = {},
): Promise<{ passkey: PasskeyView; recoveryCodes: string[] }> {
  const rp = relyingParty(flow);
  const credential = registrationResponse(input.credential);
  const challenge = challengeOf(credential);
  readableAttestation(credential.response.attestationObject);
  await takeChallenge(flow, challenge, "registration", principal.userId);

  let verified: Awaited<ReturnType<typeof verifyRegistrationResponse>>;
  try {
    verified = await verifyRegistrationResponse({
      response: credential,
      expectedChallenge: challenge,
      expectedOrigin: [...rp.origins],
      expectedRPID: rp.rpId,
      requireUserVerification: false,
      supportedAlgorithmIDs: ALGORITHMS,
    });
  } catch {
    throw new AppError("PASSKEY_INVALID");
  }
  if (!verified.verified || !verified.registrationInfo) throw new AppError("PASSKEY_INVALID");
  const info = verified.registrationInfo;

  const now = flow.clock.now();
  const count = (await flow.store.listPasskeys(principal.userId)).length;
  const passkey: Omit<PasskeyRecord, "lastUsedAt"> = {
    credentialId: info.credential.id,
    userId: principal.userId,
    publicKey: Buffer.from(info.credential.publicKey).toString("base64url"),
    counter: info.credential.counter,
    transports: knownTransports(credential.response.transports),
    name: passkeyName(input.name, count),
    backedUp: info.credentialBackedUp,
    deviceType: info.credentialDeviceType,
    createdAt: now,
  };
  const recovery = newRecoveryCodes(flow);
  const added = await flow.store.addPasskey({ passkey, limit: MAX_PASSKEYS, now, recoveryCodeHashes: recovery.hashes });
  if (added.outcome !== "added") throw new AppError(ADD_REFUSED[added.outcome]);

  await audit(flow, "2fa.enabled", principal.userId, principal.meta, { method: "passkey" });
  const user = await flow.store.findUserById(principal.userId);
  if (user) await sendNotice(flow, user.email, "notice-passkey-added", mail, { passkeyName: passkey.name });
  return {
    passkey: view({ ...passkey, lastUsedAt: null }),
    recoveryCodes: added.recoveryCodesCreated ? recovery.codes : [],
  };
}

/** `GET /user/2fa/passkeys`: newest first. */
export async function listPasskeys(flow: FlowContext, userId: number): Promise<PasskeyView[]> {
  return (await flow.store.listPasskeys(userId)).map(view);
}

/** `PATCH /user/2fa/passkeys/{passkeyId}`. */
export async function renamePasskey(
  flow: FlowContext,
  principal: Principal,
  passkeyId: string,
  name: string,
): Promise<PasskeyView> {
  const trimmed = name.trim();
  if (trimmed === "" || !(await flow.store.renamePasskey(principal.userId, passkeyId, trimmed))) {
    if (trimmed === "") throw new AppError("PASSKEY_NAME_INVALID");
    throw new AppError("PASSKEY_NOT_FOUND");
  }
  const passkey = await flow.store.findPasskey(passkeyId);
  if (!passkey || passkey.userId !== principal.userId) throw new AppError("PASSKEY_NOT_FOUND");
  return view(passkey);
}

/** `DELETE /user/2fa/passkeys/{passkeyId}`: the last method gone turns 2FA off (§3 life cycle). */
export async function deletePasskey(
  flow: FlowContext,
  principal: Principal,
  passkeyId: string,
  mail: MailOptions = {},
): Promise<void> {
  const removed = await flow.store.deletePasskey(principal.userId, passkeyId);
  if (!removed) throw new AppError("PASSKEY_NOT_FOUND");
  await audit(flow, "2fa.disabled", principal.userId, principal.meta, { method: "passkey" });
  const user = await flow.store.findUserById(principal.userId);
  if (user) await sendNotice(flow, user.email, "notice-passkey-removed", mail, { passkeyName: removed.name });
}

/** `POST /user/2fa/passkey/challenge`: the options for `navigator.credentials.get()` with the user's passkeys. */
export async function passkeySecondFactorOptions(
  flow: FlowContext,
  principal: Principal,
): Promise<PublicKeyCredentialRequestOptionsJSON> {
  const rp = relyingParty(flow);
  const passkeys = await flow.store.listPasskeys(principal.userId);
  if (passkeys.length === 0) throw new AppError("PASSKEYS_UNINITIALIZED");
  const challenge = await newChallenge(flow, "second_factor", principal.userId);
  return generateAuthenticationOptions({
    rpID: rp.rpId,
    allowCredentials: passkeys.map((p) => ({ id: p.credentialId, transports: knownTransports(p.transports) })),
    challenge: new Uint8Array(challenge),
    timeout: CHALLENGE_TTL_MS,
    userVerification: "preferred",
  });
}

/** `POST /auth/passkey/challenge`: options for a sign-in without a username (discoverable credentials). */
export async function passkeySignInOptions(flow: FlowContext): Promise<PublicKeyCredentialRequestOptionsJSON> {
  const rp = relyingParty(flow);
  const challenge = await newChallenge(flow, "sign_in", null);
  return generateAuthenticationOptions({
    rpID: rp.rpId,
    allowCredentials: [],
    challenge: new Uint8Array(challenge),
    timeout: CHALLENGE_TTL_MS,
    userVerification: "required",
  });
}

interface VerifiedAssertion {
  passkey: PasskeyRecord;
  newCounter: number;
}

/**
 * The checks both assertion flows make, in order: the response can be read, its challenge is live
 * and this purpose's (spent now), the credential is registered (to `userId` when one is expected),
 * the signature, origin, RP id and flags verify, and the counter goes forward.
 */
async function verifyAssertion(
  flow: FlowContext,
  input: AuthenticationInput,
  purpose: "second_factor" | "sign_in",
  userId: number | null,
  meta: RequestMeta,
): Promise<VerifiedAssertion> {
  const rp = relyingParty(flow);
  const credential = authenticationResponse(input);
  const challenge = challengeOf(credential);
  readableAuthenticatorData(new Uint8Array(fromBase64url(credential.response.authenticatorData)));
  fromBase64url(credential.response.signature);
  if (credential.response.userHandle) fromBase64url(credential.response.userHandle);
  await takeChallenge(flow, challenge, purpose, userId);

  const passkey = await flow.store.findPasskey(credential.id);
  if (!passkey || (userId !== null && passkey.userId !== userId)) {
    if (userId !== null)
      await audit(flow, "second_factor.failed", userId, meta, { method: "passkey", reason: "unknown" });
    throw new AppError("PASSKEY_UNKNOWN");
  }
  const failed = (reason: string) =>
    purpose === "sign_in"
      ? audit(flow, "login.failed", passkey.userId, meta, { method: "passkey", reason })
      : audit(flow, "second_factor.failed", passkey.userId, meta, { method: "passkey", reason });

  // A sign-in names its account by the credential alone, so the authenticator must also return the
  // user handle it keeps with it, and that handle must be the credential's user. As a second factor
  // the user is known already: a handle is checked when the authenticator sends one.
  const handle = credential.response.userHandle;
  const handleRequired = purpose === "sign_in";
  if (
    (handleRequired && !handle) ||
    (handle && !Buffer.from(userHandle(passkey.userId)).equals(fromBase64url(handle)))
  ) {
    await failed("user_handle");
    throw new AppError("PASSKEY_INVALID");
  }
  let newCounter: number;
  try {
    const verified = await verifyAuthenticationResponse({
      response: credential,
      expectedChallenge: challenge,
      expectedOrigin: [...rp.origins],
      expectedRPID: rp.rpId,
      // The counter is checked below, against the stored one, so that its refusal has its own code.
      credential: {
        id: passkey.credentialId,
        publicKey: new Uint8Array(Buffer.from(passkey.publicKey, "base64url")),
        counter: 0,
        transports: knownTransports(passkey.transports),
      },
      requireUserVerification: purpose === "sign_in",
    });
    if (!verified.verified) throw new Error("not verified");
    newCounter = verified.authenticationInfo.newCounter;
  } catch {
    await failed("verification");
    throw new AppError("PASSKEY_INVALID");
  }
  if ((newCounter > 0 || passkey.counter > 0) && newCounter <= passkey.counter) {
    await counterRefused(flow, passkey, newCounter, meta);
  }
  return { passkey, newCounter };
}

/** A counter that did not go forward: recorded, refused. */
async function counterRefused(
  flow: FlowContext,
  passkey: PasskeyRecord,
  counter: number,
  meta: RequestMeta,
): Promise<never> {
  await audit(flow, "passkey.counter_invalid", passkey.userId, meta, {
    passkeyName: passkey.name,
    stored: passkey.counter,
    presented: counter,
  });
  throw new AppError("PASSKEY_COUNTER_INVALID");
}

/** The use lost to a concurrent one (the counter moved) or to the passkey's removal. */
async function lostUse(flow: FlowContext, assertion: VerifiedAssertion, meta: RequestMeta): Promise<never> {
  const now = await flow.store.findPasskey(assertion.passkey.credentialId);
  if (!now) throw new AppError("PASSKEY_UNKNOWN");
  return counterRefused(flow, now, assertion.newCounter, meta);
}

/**
 * `POST /user/2fa/passkey/authenticate`: a passkey as the second step of a password login (partial
 * token) or as a step-up (access token); the tokens the other authenticate endpoints give.
 */
export async function authenticatePasskey(
  flow: FlowContext,
  principal: Principal,
  credential: AuthenticationInput,
  meta: RequestMeta,
): Promise<SessionTokens> {
  const assertion = await verifyAssertion(flow, credential, "second_factor", principal.userId, meta);
  const used = await flow.store.usePasskey({
    credentialId: assertion.passkey.credentialId,
    userId: principal.userId,
    counter: assertion.newCounter,
    now: flow.clock.now(),
  });
  if (!used) await lostUse(flow, assertion, meta);
  await audit(flow, "second_factor.succeeded", principal.userId, meta, { method: "passkey" });
  return completeSecondFactor(flow, principal, meta, "passkey");
}

/**
 * `POST /auth/passkey/login`: a sign-in without a password. The passkey (with user verification) is
 * both factors, so the answer is a full session's tokens, as after a second factor.
 */
export async function signInWithPasskey(
  flow: FlowContext,
  credential: AuthenticationInput,
  meta: RequestMeta,
): Promise<SessionTokens> {
  const assertion = await verifyAssertion(flow, credential, "sign_in", null, meta);
  const userId = assertion.passkey.userId;
  const { session, refreshJti } = newSession(flow, userId, meta, ["passkey"]);
  const event: SecurityEvent = {
    type: "login.succeeded",
    userId,
    ip: meta.ip,
    userAgent: meta.userAgent,
    details: { method: "passkey" },
  };
  const record: AuditEventRecord = { ...event, userId, at: session.createdAt };
  const outcome = await flow.store.signInWithPasskey({
    use: {
      credentialId: assertion.passkey.credentialId,
      userId,
      counter: assertion.newCounter,
      now: session.createdAt,
    },
    session,
    refreshJti,
    event: record,
  });
  if (outcome === "disabled") throw new AppError("ACCOUNT_DISABLED");
  if (outcome === "lost") await lostUse(flow, assertion, meta);
  flow.events.written(event);
  const refresh = await firstRefreshToken(flow, session, refreshJti);
  return { refresh, ...(await issueAccessAndSudo(flow, userId, session.id)) };
}
