import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { LightMyRequestResponse } from "fastify";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  createTestApp,
  createTestDatabase,
  type TestApp,
  type TestDatabase,
  testDialects,
} from "../support/harness.js";
import {
  accessFor,
  authenticateTotp,
  authenticatorFrom,
  codeAt,
  enrolTotp,
  get,
  login,
  message,
  PASSWORD,
  post,
  wrongCodeAt,
} from "./support.js";

/** Exactly one 200; every other answer a refusal of the code or of the guess. */
function expectOneWinner(results: LightMyRequestResponse[], ...refusals: string[]): void {
  const statuses = results.map((res) => res.statusCode);
  expect(statuses.filter((status) => status === 200)).toHaveLength(1);
  for (const res of results.filter((r) => r.statusCode !== 200)) {
    expect(refusals).toContain(message(res));
  }
}

/** One login per request, as an attacker replaying a code from several logins would (one at a time:
 * concurrent password checks would meet the password throttle instead). */
async function logins(t: TestApp, count: number): Promise<string[]> {
  const tokens: string[] = [];
  for (let i = 0; i < count; i++) tokens.push(await login(t, "alice@example.com"));
  return tokens;
}

describe.each(testDialects())("single use under concurrency on $name", (dialect) => {
  let t: TestApp;

  beforeEach(async () => {
    t = await createTestApp(dialect);
  });
  afterEach(async () => {
    await t.close();
  });

  it("ten concurrent TOTP checks with one valid code: exactly one 200", async () => {
    const { totp } = await enrolTotp(t);
    const code = codeAt(totp, t.clock.now());
    const results = await Promise.all((await logins(t, 10)).map((partial) => authenticateTotp(t, partial, code)));
    expectOneWinner(results, "TOTP_INVALID", "TOO_MANY_TOTP_CHECKS");
    const sessions = await t.db.selectFrom("sessions").select("id").execute();
    expect(sessions).toHaveLength(2); // the enrolment login's, and the winner's
  });

  it("five concurrent uses of one recovery code: exactly one wins, the code is spent once", async () => {
    const { recoveryCodes } = await enrolTotp(t);
    const partials = await logins(t, 5);
    const results = await Promise.all(
      partials.map((partial) =>
        post(t, "/user/2fa/recovery-code/authenticate", partial, { recoveryCode: recoveryCodes[0] }),
      ),
    );
    expectOneWinner(results, "RECOVERY_CODE_INVALID", "TOO_MANY_RECOVERY_CODE_CHECKS");
    const winner = results.find((res) => res.statusCode === 200)?.json();
    expect((await get(t, "/user/2fa", winner.accessToken)).json().recoveryCodes.remaining).toBe(9);
  });

  it("concurrent activations with one code: one wins and gets the only set of recovery codes", async () => {
    await t.createUser("alice@example.com", PASSWORD);
    const access = await accessFor(t, await login(t, "alice@example.com"));
    const totp = authenticatorFrom((await post(t, "/user/2fa/totp/setup", access, {})).json().url);
    const code = codeAt(totp, t.clock.now());
    const results = await Promise.all(
      Array.from({ length: 5 }, () => post(t, "/user/2fa/totp/enable", access, { totp: code })),
    );
    // Losers either lost the conditional UPDATE or came after it, when nothing was pending any more.
    expectOneWinner(results, "TOTP_INVALID", "TOO_MANY_TOTP_CHECKS", "TOTP_UNINITIALIZED");
    expect(await t.db.selectFrom("recovery_codes").select("code_hash").execute()).toHaveLength(10);
  });
});

describe.each(testDialects())("two nodes sharing one database on $name", (dialect) => {
  let dir: string;
  let database: TestDatabase;
  let a: TestApp;
  let b: TestApp;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "latchkey-nodes-"));
    database = await createTestDatabase(dialect, join(dir, "shared.sqlite"));
    a = await createTestApp(dialect, { database });
    b = await createTestApp(dialect, { database, clock: a.clock });
  });
  afterEach(async () => {
    await b.close();
    await a.close();
    await database.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("ten concurrent TOTP checks with one code, split over two nodes: exactly one 200", async () => {
    const { totp } = await enrolTotp(a);
    const code = codeAt(totp, a.clock.now());
    const results = await Promise.all(
      (await logins(b, 10)).map((partial, i) => authenticateTotp(i % 2 === 0 ? a : b, partial, code)),
    );
    expectOneWinner(results, "TOTP_INVALID", "TOO_MANY_TOTP_CHECKS");
    // The step is spent for both nodes (each check after the wait the counted guesses before it left).
    const again = await login(a, "alice@example.com");
    for (const node of [a, b]) {
      a.clock.advanceSeconds((await get(node, "/user/2fa/totp/next-guess", again)).json().duration);
      expect(message(await authenticateTotp(node, again, code))).toBe("TOTP_INVALID");
    }
  });

  it("one recovery code used on both nodes at once: exactly one wins", async () => {
    const { recoveryCodes } = await enrolTotp(a);
    const partials = await logins(a, 4);
    const results = await Promise.all(
      partials.map((partial, i) =>
        post(i % 2 === 0 ? a : b, "/user/2fa/recovery-code/authenticate", partial, { recoveryCode: recoveryCodes[3] }),
      ),
    );
    expectOneWinner(results, "RECOVERY_CODE_INVALID", "TOO_MANY_RECOVERY_CODE_CHECKS");
  });

  it("shares the guess throttle: failures on one node make the other wait", async () => {
    const { totp } = await enrolTotp(a);
    const partial = await login(a, "alice@example.com");
    for (let i = 0; i < 5; i++) {
      const node = i % 2 === 0 ? a : b;
      expect(message(await authenticateTotp(node, partial, wrongCodeAt(totp, a.clock.now())))).toBe("TOTP_INVALID");
    }
    expect((await get(b, "/user/2fa/totp/next-guess", partial)).json()).toEqual({ duration: 1 });
    expect(message(await authenticateTotp(b, partial, codeAt(totp, a.clock.now())))).toBe("TOO_MANY_TOTP_CHECKS");
  });
});
