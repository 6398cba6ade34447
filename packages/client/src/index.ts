export {
  type Clock,
  type IssuedTokens,
  LatchkeyClient,
  type LatchkeyClientOptions,
  type MailOptions,
  type Passkey,
  type PasskeyAssertion,
  type PasskeyAttestation,
  type PasskeyCreationOptions,
  type PasskeyRequestOptions,
  type RequestBody,
  type ResponseBody,
  type SecondFactorRequired,
  type Sessions,
  type SignedIn,
  type SignInResult,
  type TwoFactorStatus,
  type Wait,
} from "./client.js";
export { LatchkeyError, NetworkError, SESSION_ENDED_CODES, UnexpectedResponseError } from "./errors.js";
export { decodeClaims, type TokenClaims } from "./jwt.js";
export type { components, paths } from "./openapi.js";
export {
  LocalMutex,
  LocalStorageStore,
  type LocalStorageStoreOptions,
  MemoryStore,
  type StoredSession,
  type TokenStore,
} from "./store.js";
