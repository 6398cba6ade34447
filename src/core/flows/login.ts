import { sha256Hex } from "../../platform/crypto.js";
import { AppError } from "../errors.js";
import type { RequestMeta } from "../request-meta.js";
import type { IssuedToken } from "../tokens/tokens.js";
import { audit } from "./audit.js";
import type { FlowContext } from "./context.js";
import { startSessionAfterPassword } from "./sessions.js";

export type LoginResult = { kind: "refresh"; token: IssuedToken } | { kind: "partial"; token: IssuedToken };

/** Unknown usernames get a throttle of their own, so a refusal never tells a known account apart. */
function unknownSubject(username: string): string {
  return `unknown:${sha256Hex(username.toLowerCase())}`;
}

/**
 * `POST /auth/login`. One argon2id verification whatever the outcome: an unknown user is checked
 * against a dummy hash, so the answer and its timing are those of a wrong password (ASVS 2.2.1).
 */
export async function login(
  ctx: FlowContext,
  input: { username: string; password: string },
  meta: RequestMeta,
): Promise<LoginResult> {
  const { user, subject } = await ctx.throttle.claimPasswordLogin(input.username, unknownSubject(input.username));

  const matches = await ctx.hasher.verify(user?.passwordHash ?? ctx.dummyHash, input.password);
  if (user && user.passwordHash === null) throw new AppError("NO_PASSWORD_INFO");
  if (!user || !matches || user.passwordHash === null) {
    await audit(ctx, "login.failed", user?.id ?? null, meta, { reason: "password" });
    throw new AppError("PASSWORD_INCORRECT");
  }
  if (user.disabledAt !== null) {
    await audit(ctx, "login.failed", user.id, meta, { reason: "disabled" });
    throw new AppError("ACCOUNT_DISABLED");
  }

  if (ctx.hasher.needsRehash(user.passwordHash)) {
    await ctx.store.setPasswordHash(user.id, await ctx.hasher.hash(input.password));
  }

  // Clears the throttle and, without a second factor, opens the session: one transaction.
  const refresh = await startSessionAfterPassword(ctx, user.id, subject, meta);
  if (refresh !== undefined) return { kind: "refresh", token: refresh };
  const expiresAt = ctx.clock.now() + ctx.settings.tokens.partialTtlSeconds * 1000;
  const partial = await ctx.tokens.issue(
    "partial",
    { userId: user.id, tokenGeneration: user.tokenGeneration },
    expiresAt,
  );
  await audit(ctx, "login.partial", user.id, meta);
  return { kind: "partial", token: partial };
}
