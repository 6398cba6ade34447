import type { Store } from "../../storage/store.js";
import { AppError } from "../errors.js";
import { NO_META, type RequestMeta } from "../request-meta.js";
import { twoFactorEnabled } from "../two-factor/methods.js";
import type { TokenClaims, TokenKind, TokenService } from "./tokens.js";

/**
 * What an endpoint accepts (§2 and the auth column of §3):
 * - `refresh`: the refresh endpoints (the flow checks the token's row);
 * - `access`: an access token of a live session;
 * - `accessOrPartial`: the same, or a partial token (second factor pending);
 * - `sudo`: a sudo token only;
 * - `sudoOrAccessIf2faOff`: a sudo token, or an access token while the account has no active 2FA.
 */
export type Requirement = "refresh" | "access" | "accessOrPartial" | "sudo" | "sudoOrAccessIf2faOff";

export interface Principal {
  userId: number;
  /** Undefined for a partial token. */
  sessionId: string | undefined;
  kind: TokenKind;
  claims: TokenClaims;
  /** The caller's address and user agent, for the audit trail (filled in by the HTTP layer). */
  meta: RequestMeta;
}

const ACCEPTED: Record<Requirement, readonly TokenKind[]> = {
  refresh: ["refresh"],
  access: ["access"],
  accessOrPartial: ["access", "partial"],
  sudo: ["sudo"],
  sudoOrAccessIf2faOff: ["sudo", "access"],
};

/** The cookie (§1) an endpoint reads when no Authorization header is sent, in order of preference. */
export const COOKIES_FOR: Record<Requirement, readonly string[]> = {
  refresh: ["refreshToken"],
  access: ["accessToken"],
  accessOrPartial: ["accessToken", "partialToken"],
  sudo: ["accessToken"],
  sudoOrAccessIf2faOff: ["accessToken"],
};

function refuseKind(requirement: Requirement, kind: TokenKind): AppError {
  if (kind === "partial") return new AppError("2FA_REQUIRED_PARTIAL_TOKEN");
  if (kind === "access" && requirement === "sudo") return new AppError("SUDO_TOKEN_REQUIRED");
  return new AppError("WRONG_TOKEN_TYPE");
}

export class TokenGuard {
  constructor(
    private readonly tokens: TokenService,
    private readonly store: Store,
  ) {}

  async authenticate(token: string | undefined, requirement: Requirement): Promise<Principal> {
    if (token === undefined || token === "") throw new AppError("NO_TOKEN_PROVIDED");
    const claims = await this.tokens.verify(token);
    if (!ACCEPTED[requirement].includes(claims.typ)) throw refuseKind(requirement, claims.typ);
    const principal: Principal = { userId: claims.sub, sessionId: claims.sid, kind: claims.typ, claims, meta: NO_META };
    if (claims.typ === "refresh") return principal;
    if (claims.typ === "partial") {
      const user = await this.store.findUserById(claims.sub);
      if (!user) throw new AppError("TOKEN_REVOKED");
      if (user.disabledAt !== null) throw new AppError("ACCOUNT_DISABLED");
      // Revoking the user's sessions (password reset or change, the admin) moved the generation on.
      if (user.tokenGeneration !== (claims.gen ?? 0)) throw new AppError("TOKEN_REVOKED");
      // A partial token is good for one session: once a second factor turned it into one, it is done.
      if (await this.store.partialTokenSpent(claims.jti)) throw new AppError("TOKEN_REVOKED");
      return principal;
    }
    // Access and sudo tokens: one indexed read, so revocation takes effect at once on every node.
    const status = claims.sid === undefined ? undefined : await this.store.sessionStatus(claims.sid);
    if (!status || status.revokedAt !== null) throw new AppError("TOKEN_REVOKED");
    if (status.userId !== claims.sub) throw new AppError("INVALID_TOKEN");
    if (status.userDisabled) throw new AppError("ACCOUNT_DISABLED");
    if (requirement === "sudoOrAccessIf2faOff" && claims.typ === "access") {
      if (twoFactorEnabled(await this.store.twoFactor(claims.sub))) throw new AppError("SUDO_TOKEN_REQUIRED");
    }
    return principal;
  }
}
