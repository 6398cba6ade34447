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
  flow: FlowContext,
  input: { username: string; password: string },
  meta: RequestMeta,
): Promise<LoginResult> {
  const { user, subject } = await flow.throttle.claimPasswordLogin(input.username, unknownSubject(input.username));

  const matches = await flow.hasher.verify(user?.passwordHash ?? flow.dummyHash, input.password);
  if (user && user.passwordHash === null) throw new AppError("NO_PASSWORD_INFO");
  if (!user || !matches || user.passwordHash === null) {
    await audit(flow, "login.failed", user?.id ?? null, meta, { reason: "password" });
    throw new AppError("PASSWORD_INCORRECT");
  }
  if (user.disabledAt !== null) {
    await audit(flow, "login.failed", user.id, meta, { reason: "disabled" });
    throw new AppError("ACCOUNT_DISABLED");
  }

  if (flow.hasher.needsRehash(user.passwordHash)) {
    await flow.store.setPasswordHash(user.id, await flow.hasher.hash(input.password));
  }

  // Clears the throttle and, without a second factor, opens the session: one transaction.
  const refresh = await startSessionAfterPassword(flow, user.id, subject, meta);
  if (refresh !== undefined) return { kind: "refresh", token: refresh };
  const expiresAt = flow.clock.now() + flow.settings.tokens.partialTtlSeconds * 1000;
  const partial = await flow.tokens.issue(
    "partial",
    { userId: user.id, tokenGeneration: user.tokenGeneration },
    expiresAt,
  );
  await audit(flow, "login.partial", user.id, meta);
  return { kind: "partial", token: partial };
}
