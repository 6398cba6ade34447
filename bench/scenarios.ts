/** The request generators of each scenario. Each returns the varying part of the next request. */
import { HOTP, Secret } from "otpauth";
import { BENCH_PASSWORD, email, type Minter, refreshJti, sessionId, totpSecret } from "./lib/ids.js";
import type { RequestShape } from "./lib/load.js";

const ACCESS_TTL_SECONDS = 300;

function bearer(token: string): RequestShape {
  return { headers: { authorization: `Bearer ${token}` } };
}

/** `count` access tokens; token k belongs to user `userOf(k)` and its seeded session. */
export function accessTokens(minter: Minter, count: number, userOf: (k: number) => number): RequestShape[] {
  const shapes: RequestShape[] = [];
  for (let k = 0; k < count; k++) {
    const user = userOf(k);
    shapes.push(bearer(minter.mint("access", user, sessionId(user), ACCESS_TTL_SECONDS)));
  }
  return shapes;
}

/** The seeded refresh token of users 1..count (its jti is the refresh_tokens row). */
export function refreshTokens(minter: Minter, count: number, ttlSeconds: number): RequestShape[] {
  const shapes: RequestShape[] = [];
  for (let user = 1; user <= count; user++) {
    shapes.push(bearer(minter.mint("refresh", user, sessionId(user), ttlSeconds, refreshJti(user))));
  }
  return shapes;
}

/**
 * Login bodies of the given users, in order: a fixed list, built into request buffers before the run
 * (see LoadSpec), so the load generator spends nothing per login that the raw argon2id probe, which
 * has no client, does not spend either.
 */
export function logins(users: readonly number[]): RequestShape[] {
  return users.map((user) => ({
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username: email(user), password: BENCH_PASSWORD }),
  }));
}

const TOTP_PERIOD_MS = 30_000;

/**
 * TOTP step-up over users first..first+count-1, each with its access token. A step is accepted once
 * per user (RFC 6238 §5.2; the server keeps the last used step), so each user is sent the code of the
 * current step, or of the next one (inside the ±1 window) when the current one was already sent, and
 * is skipped when both are spent. Users are visited in turn, so one user never has two requests in
 * flight. Every answer is counted by status: a 401 here would be a real refusal.
 */
export function totpAuthentications(minter: Minter, first: number, count: number): () => RequestShape {
  const users = Array.from({ length: count }, (_, k) => {
    const user = first + k;
    return {
      auth: `Bearer ${minter.mint("access", user, sessionId(user), ACCESS_TTL_SECONDS)}`,
      secret: new Secret({ buffer: Uint8Array.from(totpSecret(user)).buffer }),
      lastStep: Number.NEGATIVE_INFINITY,
    };
  });
  let cursor = 0;
  return () => {
    const current = Math.floor(Date.now() / TOTP_PERIOD_MS);
    let user = users[cursor % count];
    for (let tries = 0; tries < count; tries++) {
      user = users[cursor++ % count];
      if (user && Math.max(current, user.lastStep + 1) <= current + 1) break;
    }
    if (!user) throw new Error("no TOTP users");
    // When every user has spent both steps the code is sent anyway, and its 401 is counted.
    const step = Math.max(current, user.lastStep + 1);
    user.lastStep = step;
    const code = HOTP.generate({ secret: user.secret, algorithm: "SHA1", digits: 6, counter: step });
    return {
      headers: { authorization: user.auth, "content-type": "application/json" },
      body: JSON.stringify({ totp: code }),
    };
  };
}
