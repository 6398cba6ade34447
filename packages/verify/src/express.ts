import type { NextFunction, Request, Response } from "express";
import { errorEnvelope, InvalidTokenError, VerifyError } from "./errors.js";
import type { LatchkeyClaims, Verifier, VerifyOptions } from "./verifier.js";

declare global {
  namespace Express {
    interface Request {
      /** The verified access token's claims, set by expressLatchkey. */
      latchkeyUser?: LatchkeyClaims;
    }
  }
}

export type ExpressLatchkeyOptions = VerifyOptions;

/**
 * Express middleware (Express 5) that lets through only requests with a good access token in
 * `Authorization: Bearer …`, and puts its claims in `req.latchkeyUser`. A refused token is answered
 * with 401 (503 when the keys or the service cannot be reached) in Latchkey's error envelope.
 */
export function expressLatchkey(
  verifier: Verifier,
  options: ExpressLatchkeyOptions = {},
): (req: Request, res: Response, next: NextFunction) => Promise<void> {
  return async (req, res, next) => {
    let claims: LatchkeyClaims;
    try {
      claims = await verifier.verifyAuthorization(req.headers.authorization, options);
    } catch (error) {
      const refused = error instanceof VerifyError ? error : new InvalidTokenError({ cause: error });
      res.status(refused.status).json(errorEnvelope(refused));
      return;
    }
    req.latchkeyUser = claims;
    next();
  };
}
