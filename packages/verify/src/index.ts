export {
  errorEnvelope,
  InvalidTokenError,
  JwksUnavailableError,
  NoTokenError,
  ServiceUnavailableError,
  TokenExpiredError,
  TokenRevokedError,
  VerifyError,
  type VerifyErrorCode,
  WrongTokenTypeError,
} from "./errors.js";
export { type ExpressLatchkeyOptions, expressLatchkey } from "./express.js";
export { type FastifyLatchkeyOptions, fastifyLatchkey, latchkeyPreHandler } from "./fastify.js";
export {
  bearerToken,
  createVerifier,
  type LatchkeyClaims,
  type Verifier,
  type VerifierClock,
  type VerifierOptions,
  type VerifyOptions,
} from "./verifier.js";
