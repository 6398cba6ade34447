import { LatchkeyError, NetworkError, SESSION_ENDED_CODES, UnexpectedResponseError } from "./errors.js";
import { decodeClaims } from "./jwt.js";
import type { paths } from "./openapi.js";
import { MemoryStore, type StoredSession, type TokenStore } from "./store.js";

type Method = "get" | "post" | "put" | "delete";
type Operation<P extends keyof paths, M extends Method> = NonNullable<paths[P][M]>;
/** The JSON body an endpoint takes, from the OpenAPI document. */
export type RequestBody<P extends keyof paths, M extends Method> =
  Operation<P, M> extends { requestBody: { content: { "application/json": infer B } } } ? B : never;
/** The JSON answer of an endpoint's 200, from the OpenAPI document. */
export type ResponseBody<P extends keyof paths, M extends Method> =
  Operation<P, M> extends { responses: { 200: { content: { "application/json": infer R } } } } ? R : never;

export type TwoFactorStatus = ResponseBody<"/user/2fa", "get">;
export type Sessions = ResponseBody<"/user/sessions", "get">;
export type IssuedTokens = ResponseBody<"/user/2fa/totp/authenticate", "post">;
export interface Wait {
  /** Whole seconds until the next attempt is allowed; 0 when it is allowed now. */
  duration: number;
}
/** The mail query of the endpoints that send mail: which origin's templates, in which language. */
export interface MailOptions {
  origin?: string;
  language?: string;
}

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
}

export interface LatchkeyClientOptions {
  /** The service's base URL, such as `https://auth.example.com`. */
  baseUrl: string;
  /** Where the session is kept; a `MemoryStore` unless told. */
  store?: TokenStore;
  fetch?: typeof fetch;
  clock?: Clock;
  /** Renew the access token this long before it expires (ms). Default 30 000. */
  renewBeforeMs?: number;
  /** A 429 on a safe call is retried once after its `retryAfter` when that is at most this (s). Default 10. */
  maxRetryAfterSeconds?: number;
  /** How to wait before such a retry; `setTimeout` unless told. */
  sleep?: (ms: number) => Promise<void>;
}

export interface SignedIn {
  kind: "signedIn";
}

/** A correct password on an account with a second factor: finish with one of the methods. */
export interface SecondFactorRequired {
  kind: "secondFactor";
  /** The active methods (`GET /user/2fa`). */
  methods: { totp: boolean; emailOtp: boolean; recoveryCodes: boolean; passkey: boolean };
  totp(code: string): Promise<SignedIn>;
  /**
   * The options for `navigator.credentials.get()` (base64url fields, as `PublicKeyCredential.
   * parseRequestOptionsFromJSON` takes them); `passkey` then completes with the credential's JSON.
   */
  passkeyOptions(): Promise<PasskeyRequestOptions>;
  passkey(credential: PasskeyAssertion): Promise<SignedIn>;
  /** Mails a code to the account's 2FA address (`emailCode` then completes with it). */
  sendEmailCode(mail?: MailOptions): Promise<void>;
  emailCode(code: string): Promise<SignedIn>;
  recoveryCode(code: string): Promise<SignedIn>;
}

export type SignInResult = SignedIn | SecondFactorRequired;

/** Options for `navigator.credentials.get()`, as JSON. */
export type PasskeyRequestOptions = ResponseBody<"/auth/passkey/challenge", "post">;
/** Options for `navigator.credentials.create()`, as JSON. */
export type PasskeyCreationOptions = ResponseBody<"/user/2fa/passkey/setup", "post">;
/**
 * The extension outputs are any object: the DOM's and WebAuthn libraries' own types for them
 * (`AuthenticationExtensionsClientOutputs`) have no index signature, and must be accepted as they are.
 */
type WithExtensionResults<T> = Omit<T, "clientExtensionResults"> & { clientExtensionResults: object };
/** What `navigator.credentials.get()` gave, as `credential.toJSON()` writes it. */
export type PasskeyAssertion = WithExtensionResults<RequestBody<"/auth/passkey/login", "post">["credential"]>;
/** What `navigator.credentials.create()` gave, as `credential.toJSON()` writes it. */
export type PasskeyAttestation = WithExtensionResults<RequestBody<"/user/2fa/passkey/enable", "post">["credential"]>;
export type Passkey = ResponseBody<"/user/2fa/passkeys", "get">["passkeys"][number];

type Auth = "none" | "access" | "sudo" | "refresh" | { token: string };

interface CallOptions {
  auth: Auth;
  body?: unknown;
  query?: Record<string, string | boolean | undefined>;
  /** The answer: JSON, a bare token (text), or nothing (204). */
  expect: "json" | "token" | "none";
  /** May a 429 be retried after its wait? Only for calls that change nothing. */
  safe?: boolean;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * A client of one Latchkey service: signs in (with the second factor when the account has one),
 * keeps the session in its store and the access token fresh, and calls the user-facing API.
 */
export class LatchkeyClient {
  readonly #baseUrl: string;
  readonly #store: TokenStore;
  readonly #fetch: typeof fetch;
  readonly #clock: Clock;
  readonly #renewBeforeMs: number;
  readonly #maxRetryAfter: number;
  readonly #sleep: (ms: number) => Promise<void>;
  /** Server time minus our time, learnt from the `iat` of tokens just issued (ms). */
  #skewMs = 0;
  #renewal: Promise<string> | undefined;
  #sudo: string | undefined;

  constructor(options: LatchkeyClientOptions) {
    this.#baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.#store = options.store ?? new MemoryStore();
    this.#fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.#clock = options.clock ?? { now: () => Date.now() };
    this.#renewBeforeMs = options.renewBeforeMs ?? 30_000;
    this.#maxRetryAfter = options.maxRetryAfterSeconds ?? 10;
    this.#sleep = options.sleep ?? defaultSleep;
  }

  get store(): TokenStore {
    return this.#store;
  }

  /** Whether the store holds a session (it may still have ended on the server). */
  async isSignedIn(): Promise<boolean> {
    return (await this.#store.load()) !== undefined;
  }

  // ---- signing in -------------------------------------------------------------------------

  /** `POST /auth/login`; with 2FA on, the answer says which second factors can finish it. */
  async signIn(email: string, password: string): Promise<SignInResult> {
    const body: RequestBody<"/auth/login", "post"> = { username: email, password };
    const token = await this.#call<string>("POST", "/auth/login", { auth: "none", body, expect: "token" });
    const claims = decodeClaims(token);
    if (claims?.typ !== "partial") {
      this.#sudo = undefined;
      await this.#saveSession({ refreshToken: token });
      return { kind: "signedIn" };
    }
    const status = await this.#call<TwoFactorStatus>("GET", "/user/2fa", {
      auth: { token },
      expect: "json",
      safe: true,
    });
    const finish = async (path: string, field: string, code: unknown): Promise<SignedIn> => {
      const tokens = await this.#call<IssuedTokens>("POST", path, {
        auth: { token },
        body: { [field]: code },
        expect: "json",
      });
      await this.#adopt(tokens);
      return { kind: "signedIn" };
    };
    return {
      kind: "secondFactor",
      methods: {
        totp: status.totp !== undefined,
        emailOtp: status.emailOtp !== undefined,
        recoveryCodes: status.recoveryCodes !== undefined,
        passkey: status.passkeys !== undefined,
      },
      totp: (code) => finish("/user/2fa/totp/authenticate", "totp", code),
      passkeyOptions: () =>
        this.#call<PasskeyRequestOptions>("POST", "/user/2fa/passkey/challenge", {
          auth: { token },
          body: {},
          expect: "json",
        }),
      passkey: (credential) => finish("/user/2fa/passkey/authenticate", "credential", credential),
      sendEmailCode: async (mail) => {
        await this.#call("POST", "/user/2fa/email-otp/challenge", {
          auth: { token },
          body: {},
          query: { ...mail },
          expect: "none",
        });
      },
      emailCode: (code) => finish("/user/2fa/email-otp/authenticate", "otp", code),
      recoveryCode: (code) => finish("/user/2fa/recovery-code/authenticate", "recoveryCode", code),
    };
  }

  /** `POST /auth/passkey/challenge`: options for a sign-in with a passkey, without a username. */
  passkeySignInOptions(): Promise<PasskeyRequestOptions> {
    return this.#call("POST", "/auth/passkey/challenge", { auth: "none", body: {}, expect: "json" });
  }

  /** `POST /auth/passkey/login`: the passkey (with user verification) is both factors. */
  async signInWithPasskey(credential: PasskeyAssertion): Promise<SignedIn> {
    await this.#adopt(
      await this.#call<IssuedTokens>("POST", "/auth/passkey/login", {
        auth: "none",
        body: { credential },
        expect: "json",
      }),
    );
    return { kind: "signedIn" };
  }

  /** `POST /user/signup`: mails a code to the address (204 whether or not it has an account). */
  async signUp(email: string, password: string, mail?: MailOptions): Promise<void> {
    const body: RequestBody<"/user/signup", "post"> = { email, password };
    await this.#call("POST", "/user/signup", { auth: "none", body, query: { ...mail }, expect: "none" });
  }

  /** `POST /user/signup/confirm`: creates the account and signs in. */
  async confirmSignUp(email: string, code: string): Promise<SignedIn> {
    const body: RequestBody<"/user/signup/confirm", "post"> = { email, code };
    await this.#adopt(
      await this.#call<IssuedTokens>("POST", "/user/signup/confirm", { auth: "none", body, expect: "json" }),
    );
    return { kind: "signedIn" };
  }

  /** `POST /user/invitation/accept`: sets the password and signs in. */
  async acceptInvitation(email: string, code: string, password: string): Promise<SignedIn> {
    const body: RequestBody<"/user/invitation/accept", "post"> = { email, code, password };
    await this.#adopt(
      await this.#call<IssuedTokens>("POST", "/user/invitation/accept", { auth: "none", body, expect: "json" }),
    );
    return { kind: "signedIn" };
  }

  /**
   * `POST /auth/logout`, then the session leaves the store. A transient failure (network, 5xx)
   * throws and keeps it, so the logout can be tried again.
   */
  async signOut(): Promise<void> {
    try {
      await this.#call("POST", "/auth/logout", { auth: "refresh", expect: "none" });
    } catch (error) {
      if (!(error instanceof LatchkeyError && error.status === 401)) throw error;
    }
    this.#sudo = undefined;
    await this.#store.clear();
  }

  // ---- tokens -----------------------------------------------------------------------------

  /**
   * A valid access token: the stored one while it has more than `renewBeforeMs` to live, else a
   * renewed one. Concurrent callers share one renewal; clients sharing the store take its lock.
   */
  async accessToken(): Promise<string> {
    const session = await this.#requireSession();
    if (session.accessToken && this.#fresh(session.accessToken)) return session.accessToken;
    return this.#renew(session.accessToken);
  }

  /** `GET /auth/accesstoken/validate`. */
  validateAccessToken(): Promise<ResponseBody<"/auth/accesstoken/validate", "get">> {
    return this.#call("GET", "/auth/accesstoken/validate", { auth: "access", expect: "json", safe: true });
  }

  /** `GET /auth/refreshtoken/validate`. */
  validateRefreshToken(): Promise<ResponseBody<"/auth/refreshtoken/validate", "get">> {
    return this.#call("GET", "/auth/refreshtoken/validate", { auth: "refresh", expect: "json", safe: true });
  }

  // ---- two-factor methods -----------------------------------------------------------------

  twoFactorStatus(): Promise<TwoFactorStatus> {
    return this.#call("GET", "/user/2fa", { auth: "access", expect: "json", safe: true });
  }
  /** `POST /user/2fa/totp/setup`: the `otpauth://` URL to show as a QR code. */
  setUpTotp(): Promise<ResponseBody<"/user/2fa/totp/setup", "post">> {
    return this.#call("POST", "/user/2fa/totp/setup", { auth: "sudo", body: {}, expect: "json" });
  }
  enableTotp(totp: string): Promise<ResponseBody<"/user/2fa/totp/enable", "post">> {
    return this.#call("POST", "/user/2fa/totp/enable", { auth: "access", body: { totp }, expect: "json" });
  }
  /** A step-up with a TOTP code: the sudo token it gives is kept for the sensitive calls. */
  async verifyTotp(totp: string): Promise<void> {
    await this.#adopt(
      await this.#call<IssuedTokens>("POST", "/user/2fa/totp/authenticate", {
        auth: "access",
        body: { totp },
        expect: "json",
      }),
    );
  }
  totpNextGuess(): Promise<Wait> {
    return this.#call("GET", "/user/2fa/totp/next-guess", { auth: "access", expect: "json", safe: true });
  }
  async disableTotp(): Promise<void> {
    await this.#call("DELETE", "/user/2fa/totp", { auth: "sudo", expect: "none" });
  }
  async setUpEmailOtp(email: string, mail?: MailOptions): Promise<void> {
    await this.#call("POST", "/user/2fa/email-otp/setup", {
      auth: "sudo",
      body: { email },
      query: { ...mail },
      expect: "none",
    });
  }
  enableEmailOtp(otp: string): Promise<ResponseBody<"/user/2fa/email-otp/enable", "post">> {
    return this.#call("POST", "/user/2fa/email-otp/enable", { auth: "access", body: { otp }, expect: "json" });
  }
  /** Mails a code for a step-up (`verifyEmailOtp`). */
  async sendEmailOtp(mail?: MailOptions): Promise<void> {
    await this.#call("POST", "/user/2fa/email-otp/challenge", {
      auth: "access",
      body: {},
      query: { ...mail },
      expect: "none",
    });
  }
  async verifyEmailOtp(otp: string): Promise<void> {
    await this.#adopt(
      await this.#call<IssuedTokens>("POST", "/user/2fa/email-otp/authenticate", {
        auth: "access",
        body: { otp },
        expect: "json",
      }),
    );
  }
  emailOtpNextEmail(): Promise<Wait> {
    return this.#call("GET", "/user/2fa/email-otp/next-email", { auth: "access", expect: "json", safe: true });
  }
  async disableEmailOtp(): Promise<void> {
    await this.#call("DELETE", "/user/2fa/email-otp", { auth: "sudo", expect: "none" });
  }
  async verifyRecoveryCode(recoveryCode: string): Promise<void> {
    await this.#adopt(
      await this.#call<IssuedTokens>("POST", "/user/2fa/recovery-code/authenticate", {
        auth: "access",
        body: { recoveryCode },
        expect: "json",
      }),
    );
  }
  recoveryCodeNextGuess(): Promise<Wait> {
    return this.#call("GET", "/user/2fa/recovery-code/next-guess", { auth: "access", expect: "json", safe: true });
  }
  resetRecoveryCodes(): Promise<ResponseBody<"/user/2fa/recovery-code/reset", "post">> {
    return this.#call("POST", "/user/2fa/recovery-code/reset", { auth: "sudo", body: {}, expect: "json" });
  }

  /** `POST /user/2fa/passkey/setup`: options for `navigator.credentials.create()`. */
  passkeyRegistrationOptions(): Promise<PasskeyCreationOptions> {
    return this.#call("POST", "/user/2fa/passkey/setup", { auth: "sudo", body: {}, expect: "json" });
  }
  /** `POST /user/2fa/passkey/enable`: the recovery codes come back when it is the first method. */
  registerPasskey(
    credential: PasskeyAttestation,
    name?: string,
    mail?: MailOptions,
  ): Promise<ResponseBody<"/user/2fa/passkey/enable", "post">> {
    return this.#call("POST", "/user/2fa/passkey/enable", {
      auth: "sudo",
      body: { credential, ...(name === undefined ? {} : { name }) },
      query: { ...mail },
      expect: "json",
    });
  }
  async listPasskeys(): Promise<Passkey[]> {
    const list = await this.#call<ResponseBody<"/user/2fa/passkeys", "get">>("GET", "/user/2fa/passkeys", {
      auth: "access",
      expect: "json",
      safe: true,
    });
    return list.passkeys;
  }
  renamePasskey(passkeyId: string, name: string): Promise<Passkey> {
    return this.#call("PATCH", `/user/2fa/passkeys/${encodeURIComponent(passkeyId)}`, {
      auth: "access",
      body: { name },
      expect: "json",
    });
  }
  async deletePasskey(passkeyId: string, mail?: MailOptions): Promise<void> {
    await this.#call("DELETE", `/user/2fa/passkeys/${encodeURIComponent(passkeyId)}`, {
      auth: "sudo",
      query: { ...mail },
      expect: "none",
    });
  }
  /** Options for a step-up with a passkey (`verifyPasskey`). */
  passkeyOptions(): Promise<PasskeyRequestOptions> {
    return this.#call("POST", "/user/2fa/passkey/challenge", { auth: "access", body: {}, expect: "json" });
  }
  /** A step-up with a passkey: the sudo token it gives is kept for the sensitive calls. */
  async verifyPasskey(credential: PasskeyAssertion): Promise<void> {
    await this.#adopt(
      await this.#call<IssuedTokens>("POST", "/user/2fa/passkey/authenticate", {
        auth: "access",
        body: { credential },
        expect: "json",
      }),
    );
  }

  // ---- password and email -----------------------------------------------------------------

  async sendPasswordReset(email: string, mail?: MailOptions): Promise<void> {
    await this.#call("POST", "/user/password/reset/send", {
      auth: "none",
      body: { email },
      query: { ...mail },
      expect: "none",
    });
  }
  async checkPasswordReset(email: string, otp: string): Promise<void> {
    await this.#call("POST", "/user/password/reset/validate", { auth: "none", body: { email, otp }, expect: "none" });
  }
  /** `PUT /user/password/otp`: every session of the user ends, this client's stored one too. */
  async resetPassword(userEmail: string, otp: string, newPassword: string): Promise<void> {
    const body: RequestBody<"/user/password/otp", "put"> = { userEmail, otp, newPassword };
    await this.#call("PUT", "/user/password/otp", { auth: "none", body, expect: "none" });
  }
  async changePassword(oldPassword: string, newPassword: string): Promise<void> {
    const body: RequestBody<"/user/password/old-password", "put"> = { oldPassword, newPassword };
    await this.#call("PUT", "/user/password/old-password", { auth: "sudo", body, expect: "none" });
  }
  async startEmailChange(email: string, mail?: MailOptions): Promise<void> {
    await this.#call("POST", "/user/email/initiate", {
      auth: "sudo",
      body: { email },
      query: { ...mail },
      expect: "none",
    });
  }
  async confirmEmailChange(otp: string): Promise<void> {
    await this.#call("PUT", "/user/email", { auth: "access", body: { otp }, expect: "none" });
  }

  // ---- sessions ---------------------------------------------------------------------------

  listSessions(): Promise<Sessions> {
    return this.#call("GET", "/user/sessions", { auth: "access", expect: "json", safe: true });
  }
  async revokeSession(sessionId: string): Promise<void> {
    await this.#call("DELETE", `/user/sessions/${encodeURIComponent(sessionId)}`, { auth: "access", expect: "none" });
  }
  async revokeOtherSessions(): Promise<void> {
    await this.#call("POST", "/user/sessions/revoke-others", { auth: "access", body: {}, expect: "none" });
  }

  // ---- internals --------------------------------------------------------------------------

  #serverNow(): number {
    return this.#clock.now() + this.#skewMs;
  }

  #fresh(token: string): boolean {
    const exp = decodeClaims(token)?.exp;
    return typeof exp === "number" && exp * 1000 - this.#renewBeforeMs > this.#serverNow();
  }

  #learnSkew(token: string): void {
    const iat = decodeClaims(token)?.iat;
    if (typeof iat === "number") this.#skewMs = iat * 1000 - this.#clock.now();
  }

  async #requireSession(): Promise<StoredSession> {
    const session = await this.#store.load();
    if (!session) throw new LatchkeyError("NOT_SIGNED_IN", 401);
    return session;
  }

  async #saveSession(session: StoredSession): Promise<void> {
    this.#learnSkew(session.accessToken ?? session.refreshToken);
    await this.#store.save(session);
  }

  async #adopt(tokens: IssuedTokens): Promise<void> {
    for (const token of [tokens.accessToken, tokens.refreshToken, tokens.sudoToken]) {
      if (decodeClaims(token) === undefined)
        throw new UnexpectedResponseError("the service answered a token that is not a JWT", 200);
    }
    await this.#saveSession({ refreshToken: tokens.refreshToken, accessToken: tokens.accessToken });
    this.#sudo = tokens.sudoToken;
  }

  /** One renewal per client at a time; across clients of one store, the store's lock. */
  #renew(stale: string | undefined): Promise<string> {
    if (this.#renewal) return this.#renewal;
    const renewal = (async () => {
      try {
        return await this.#store.withLock(() => this.#renewLocked(stale));
      } finally {
        this.#renewal = undefined;
      }
    })();
    this.#renewal = renewal;
    return renewal;
  }

  async #renewLocked(stale: string | undefined): Promise<string> {
    // Another holder of the lock may have renewed while we waited for it: use its token.
    const session = await this.#requireSession();
    if (session.accessToken && session.accessToken !== stale && this.#fresh(session.accessToken)) {
      return session.accessToken;
    }
    try {
      const refreshToken = await this.#call<string>("GET", "/auth/refreshtoken", {
        auth: { token: session.refreshToken },
        expect: "token",
      });
      // The successor is stored before anything else can fail: the used token is dead now.
      await this.#store.save({ refreshToken });
      const accessToken = await this.#call<string>("GET", "/auth/accesstoken", {
        auth: { token: refreshToken },
        expect: "token",
      });
      await this.#saveSession({ refreshToken, accessToken });
      return accessToken;
    } catch (error) {
      if (error instanceof LatchkeyError && error.status === 401 && SESSION_ENDED_CODES.has(error.code)) {
        this.#sudo = undefined;
        await this.#store.clear();
      }
      throw error;
    }
  }

  async #bearer(auth: Auth): Promise<string | undefined> {
    if (auth === "none") return undefined;
    if (typeof auth === "object") return auth.token;
    if (auth === "refresh") return (await this.#requireSession()).refreshToken;
    if (auth === "sudo" && this.#sudo && this.#fresh(this.#sudo)) return this.#sudo;
    // "Sudo, or access if 2FA is off": without a live sudo token the access token is tried.
    return this.accessToken();
  }

  async #call<T>(method: string, path: string, options: CallOptions): Promise<T> {
    const token = await this.#bearer(options.auth);
    try {
      return await this.#send<T>(method, path, options, token);
    } catch (error) {
      // An access token the server already counts as expired (our clock behind): renew once.
      const usesAccess = options.auth === "access" || (options.auth === "sudo" && token !== this.#sudo);
      if (usesAccess && error instanceof LatchkeyError && error.code === "TOKEN_EXPIRED") {
        return this.#send<T>(method, path, options, await this.#renew(token));
      }
      throw error;
    }
  }

  async #send<T>(method: string, path: string, options: CallOptions, token: string | undefined): Promise<T> {
    const url = new URL(this.#baseUrl + path);
    for (const [key, value] of Object.entries(options.query ?? {})) {
      if (value !== undefined) url.searchParams.set(key, String(value));
    }
    const headers: Record<string, string> = { accept: "application/json, text/plain" };
    if (token !== undefined) headers.authorization = `Bearer ${token}`;
    if (options.body !== undefined) headers["content-type"] = "application/json";
    const init: RequestInit = { method, headers };
    if (options.body !== undefined) init.body = JSON.stringify(options.body);

    for (let attempt = 0; ; attempt++) {
      let res: Response;
      let text: string;
      try {
        res = await this.#fetch(url, init);
        text = await res.text();
      } catch (error) {
        throw new NetworkError(`${method} ${path}: ${error instanceof Error ? error.message : String(error)}`, {
          cause: error,
        });
      }
      if (res.ok) return this.#read<T>(res, text, options, method, path);
      const refusal = envelope(text);
      if (!refusal) {
        throw new UnexpectedResponseError(`${method} ${path}: ${res.status} without the error envelope`, res.status);
      }
      const error = new LatchkeyError(refusal.message, res.status, refusal.retryAfter);
      const wait = refusal.retryAfter;
      if (res.status === 429 && options.safe && attempt === 0 && wait !== undefined && wait <= this.#maxRetryAfter) {
        await this.#sleep(wait * 1000);
        continue;
      }
      throw error;
    }
  }

  #read<T>(res: Response, text: string, options: CallOptions, method: string, path: string): T {
    if (options.expect === "none") return undefined as T;
    if (options.expect === "token") {
      const token = text.trim();
      if (decodeClaims(token) === undefined) {
        throw new UnexpectedResponseError(`${method} ${path}: the answer is not a token`, res.status);
      }
      return token as T;
    }
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new UnexpectedResponseError(`${method} ${path}: the answer is not JSON`, res.status);
    }
  }
}

/** The §1 error envelope, when `text` is one. */
function envelope(text: string): { message: string; retryAfter?: number } | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== "object" || parsed === null) return undefined;
    const { message, retryAfter } = parsed as { message?: unknown; retryAfter?: unknown };
    if (typeof message !== "string") return undefined;
    return typeof retryAfter === "number" ? { message, retryAfter } : { message };
  } catch {
    return undefined;
  }
}
