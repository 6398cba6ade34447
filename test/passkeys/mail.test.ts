import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type MailApp, startMailApp } from "../mail-flows/fixture.js";
import { type TestApp, testDialects } from "../support/harness.js";
import { del, expectError, expectNoContent, post, signIn } from "../support/http.js";
import type { SmtpSink } from "../support/smtp.js";
import { enable, newAuthenticator, passkeySession, patch, registrationOptions } from "./support.js";

describe.each(testDialects())("passkey security notices by mail on $name", (dialect) => {
  let m: MailApp | undefined;
  let t: TestApp;
  let smtp: SmtpSink;

  beforeEach(async () => {
    m = await startMailApp(dialect);
    ({ t, smtp } = m);
    await t.createUser("alice@example.com");
  });
  afterEach(async () => {
    await m?.close();
    m = undefined;
  });

  it("adding a passkey mails the owner a notice naming it; removing one mails another", async () => {
    const { access } = await signIn(t, "alice@example.com");
    const authenticator = newAuthenticator();
    const credential = authenticator.register(await registrationOptions(t, access));
    expect((await enable(t, access, credential, "Laptop")).statusCode).toBe(200);

    const added = await smtp.next();
    expect(added.to).toEqual(["alice@example.com"]);
    expect(added.subject).toBe("A passkey was added to your account");
    expect(added.text).toContain('A passkey named "Laptop" was added to your account alice@example.com.');
    expect(added.html).toContain("Laptop");

    // A rename mails nothing.
    const { sudoToken, accessToken } = await passkeySession(t, authenticator);
    expect(
      (await patch(t, `/user/2fa/passkeys/${credential.id}`, accessToken, { name: "Old laptop" })).statusCode,
    ).toBe(200);
    expectNoContent(await del(t, `/user/2fa/passkeys/${credential.id}`, sudoToken));
    const removed = await smtp.next();
    expect(removed.to).toEqual(["alice@example.com"]);
    expect(removed.subject).toBe("A passkey was removed from your account");
    expect(removed.text).toContain('"Old laptop"');
    expect(smtp.pending()).toEqual([]);
  });

  it("the mail query picks the language: a notice in Dutch and in German", async () => {
    const { access } = await signIn(t, "alice@example.com");
    const authenticator = newAuthenticator();
    const credential = authenticator.register(await registrationOptions(t, access));
    const res = await post(t, "/user/2fa/passkey/enable?language=nl", access, { credential, name: "Sleutel" });
    expect(res.statusCode, res.body).toBe(200);
    const added = await smtp.next();
    expect(added.subject).toBe("Er is een passkey toegevoegd aan je account");
    expect(added.text).toContain("Sleutel");

    const { sudoToken } = await passkeySession(t, authenticator);
    expectNoContent(await del(t, `/user/2fa/passkeys/${credential.id}?language=de`, sudoToken));
    expect((await smtp.next()).subject).toBe("Passkey aus Ihrem Konto entfernt");
  });

  it("a refused registration or deletion mails nothing", async () => {
    const { access } = await signIn(t, "alice@example.com");
    const authenticator = newAuthenticator();
    const options = await registrationOptions(t, access);
    expectError(
      await enable(t, access, authenticator.register(options, { origin: "https://evil.example" })),
      401,
      "PASSKEY_INVALID",
    );
    const credential = authenticator.register(await registrationOptions(t, access));
    expect((await enable(t, access, credential)).statusCode).toBe(200);
    await smtp.next();
    const { sudoToken } = await passkeySession(t, authenticator);
    expectError(await del(t, "/user/2fa/passkeys/AAAAAAAAAAAAAAAAAAAAAA", sudoToken), 404, "PASSKEY_NOT_FOUND");
    expect(smtp.pending()).toEqual([]);
  });
});
