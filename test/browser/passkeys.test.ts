import type { BrowserContext, CDPSession, Page } from "playwright-core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  DESKTOP,
  describeBrowser,
  localhostPasskeyEnv,
  look,
  newContext,
  noticeText,
  screenshot,
  serveAppOnLocalhost,
  submit,
  useBrowser,
} from "../support/browser.js";
import { createTestApp, type TestApp, testDialects } from "../support/harness.js";
import { PASSWORD } from "../support/http.js";
import { closedPort } from "../support/smtp.js";

// Passkeys on the pages in Chromium, with Chromium's own virtual authenticator (DevTools' WebAuthn
// domain) standing in for a phone or a laptop's fingerprint reader: registration on the account
// pages, the sign-in with a passkey alone from /login, the passkey as second step and at /reauth.
// WebAuthn needs a secure context and an RP id that is a name: the app is served as
// http://localhost:<port>, its relying party "localhost".

const EMAIL = "alice@example.com";

/** A browser whose autofill does not offer passkeys (no conditional mediation): only the button does. */
const WITHOUT_AUTOFILL = "PublicKeyCredential.isConditionalMediationAvailable = () => Promise.resolve(false);";

/** A platform authenticator that verifies its user (a fingerprint reader, say) and keeps passkeys. */
async function addAuthenticator(context: BrowserContext, page: Page): Promise<{ cdp: CDPSession; id: string }> {
  const cdp = await context.newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2",
      transport: "internal",
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return { cdp, id: authenticatorId };
}

async function credentialsOf(cdp: CDPSession, authenticatorId: string) {
  return (await cdp.send("WebAuthn.getCredentials", { authenticatorId })).credentials;
}

async function heading(page: Page): Promise<string> {
  return ((await page.locator("h1").textContent()) ?? "").trim();
}

async function follow(page: Page, role: "button" | "link", name: string, url?: string | RegExp): Promise<void> {
  const loaded = url === undefined ? page.waitForEvent("load") : page.waitForURL(url);
  await Promise.all([loaded, page.getByRole(role, { name, exact: true }).click()]);
}

async function signInWithPassword(page: Page, base: string): Promise<void> {
  await page.goto(`${base}/login`);
  await page.getByLabel("Email address").fill(EMAIL);
  await page.getByLabel("Password").fill(PASSWORD);
  await submit(page, "Sign in");
}

async function signOut(page: Page): Promise<void> {
  await follow(page, "button", "Sign out", /\/login\?done=signed-out$/);
}

describeBrowser("passkey pages in Chromium", () => {
  const browser = useBrowser();

  describe.each(testDialects())("$name", (dialect) => {
    let t: TestApp;
    let base: string;
    const contexts: BrowserContext[] = [];
    beforeEach(async () => {
      const port = await closedPort();
      t = await createTestApp(dialect, { env: localhostPasskeyEnv(port) });
      base = await serveAppOnLocalhost(t, port);
    });
    afterEach(async () => {
      for (const context of contexts.splice(0)) await context.close();
      await t.close();
    });

    async function open(
      options: Parameters<typeof newContext>[1] = {},
    ): Promise<{ context: BrowserContext; page: Page }> {
      const context = await newContext(browser(), { viewport: DESKTOP, ...options });
      contexts.push(context);
      return { context, page: await context.newPage() };
    }

    it("adds a passkey on the account pages, signs in with it alone from /login, then as the second step, and removes it after /reauth", async () => {
      const userId = await t.createUser(EMAIL);
      const { context, page } = await open();
      const { cdp, id } = await addAuthenticator(context, page);
      await page.goto(`${base}/login`);
      expect(await page.getByRole("textbox", { name: "Email address" }).getAttribute("autocomplete")).toBe(
        "username webauthn",
      );
      await look(page, "passkey login start");
      await signInWithPassword(page, base);
      expect(new URL(page.url()).pathname).toBe("/account");
      expect(await page.getByRole("heading", { name: "Passkeys" }).isVisible()).toBe(true);
      await look(page, "passkeys account");

      // Registration: 2FA is off, so no /reauth; the first passkey turns it on with recovery codes.
      await follow(page, "link", "Add a passkey");
      expect(await heading(page)).toBe("Add a passkey");
      expect(await page.getByRole("button", { name: "Create a passkey" }).isVisible()).toBe(true);
      expect(await page.getByText("This browser cannot use passkeys.").isVisible()).toBe(false);
      await look(page, "passkey add");
      await page.getByLabel("Name (optional)").fill("Laptop");
      await submit(page, "Create a passkey");
      expect(await heading(page)).toBe("Your recovery codes");
      expect(await noticeText(page)).toContain("The passkey was added, and two-step verification is on.");
      expect(await page.locator("#recovery-codes li").count()).toBe(10);
      await look(page, "passkey added codes");
      const held = await credentialsOf(cdp, id);
      expect(held).toHaveLength(1);
      expect(held[0]?.isResidentCredential).toBe(true);
      expect((await t.deps.store.listPasskeys(userId)).map((p) => p.name)).toEqual(["Laptop"]);

      await follow(page, "link", "I have saved them");
      expect(await page.getByRole("heading", { name: "Passkeys On" }).isVisible()).toBe(true);
      await look(page, "passkeys two-factor overview");
      await page.goto(`${base}/account`);
      expect(await page.getByText("Passkeys (1)").isVisible()).toBe(true);
      await look(page, "passkeys account on");
      await page.goto(`${base}/account/two-factor`);
      await follow(page, "link", "Manage your passkeys");
      expect(await heading(page)).toBe("Your passkeys");
      expect(await page.getByRole("heading", { name: "Laptop" }).isVisible()).toBe(true);
      expect(await page.locator("main").textContent()).toContain("Not used yet");
      await look(page, "passkeys list");

      // Renaming needs no second factor.
      await page.getByRole("link", { name: "Rename" }).click();
      await page.waitForURL(/\/account\/passkeys\/rename\?passkey=/);
      await look(page, "passkey rename");
      await page.getByLabel("Name", { exact: true }).fill("Work laptop");
      await submit(page, "Save the name", `${base}/account/passkeys?done=renamed`);
      expect(await noticeText(page)).toContain("The passkey was renamed.");

      // The sign-in with the passkey alone, offered in the email field's autofill (conditional
      // mediation): Chromium's authenticator picks the passkey at once, as a person would from the list.
      await signOut(page);
      await page.waitForURL(`${base}/account`);
      expect(await heading(page)).toBe("Your account");
      const signIns = await t.deps.store.listAuditEvents({ userId, offset: 0, limit: 20 });
      expect(signIns.events.filter((e) => e.type === "login.succeeded").map((e) => e.details)).toContainEqual({
        method: "passkey",
      });

      // And with the button, in a browser without that autofill.
      await context.addInitScript(WITHOUT_AUTOFILL);
      await signOut(page);
      const button = page.getByRole("button", { name: "Sign in with a passkey" });
      expect(await button.isVisible()).toBe(true);
      await look(page, "passkey login");
      expect(new URL(page.url()).pathname).toBe("/login");
      await Promise.all([page.waitForURL(`${base}/account`), button.click()]);
      expect(await heading(page)).toBe("Your account");

      // The second step after the password: the passkey first, another way offered.
      await signOut(page);
      await signInWithPassword(page, base);
      expect(new URL(page.url()).pathname).toBe("/login/second-factor");
      expect(await page.getByText("Use your passkey").isVisible()).toBe(true);
      expect(await page.getByRole("link", { name: "Use a recovery code" }).isVisible()).toBe(true);
      await look(page, "passkey second factor");
      await Promise.all([
        page.waitForURL(`${base}/account`),
        page.getByRole("button", { name: "Use a passkey" }).click(),
      ]);
      expect(await heading(page)).toBe("Your account");

      // Removing wants a second factor just checked: /reauth with the passkey, then the confirm page.
      t.clock.advanceSeconds(301);
      await page.goto(`${base}/account/passkeys`);
      await follow(page, "link", "Remove");
      expect(new URL(page.url()).pathname).toBe("/reauth");
      expect(await heading(page)).toBe("Confirm it is you before this change");
      await look(page, "passkey reauth");
      await Promise.all([
        page.waitForURL(/\/account\/passkeys\/remove\?passkey=/),
        page.getByRole("button", { name: "Use a passkey" }).click(),
      ]);
      expect(await heading(page)).toBe("Remove a passkey");
      expect(await page.locator("main").textContent()).toContain("Remove the passkey “Work laptop”?");
      await look(page, "passkey remove");
      await submit(page, "Remove the passkey", `${base}/account/passkeys?done=two-factor-off`);
      expect(await noticeText(page)).toContain("Two-step verification is off");
      expect(await page.getByText("You have no passkeys yet.").isVisible()).toBe(true);
      expect(await t.deps.store.listPasskeys(userId)).toEqual([]);
    });

    it("shows the refusal of a passkey this site does not know on /login, and says so when the dialog is cancelled", async () => {
      await t.createUser(EMAIL);
      const { context, page } = await open();
      const { cdp, id } = await addAuthenticator(context, page);
      await signInWithPassword(page, base);
      await page.goto(`${base}/account/passkeys/add`);
      await submit(page, "Create a passkey");
      const [credential] = await credentialsOf(cdp, id);
      expect(credential).toBeDefined();

      // Removed on the server (an admin's 2FA reset), kept by the authenticator.
      await t.deps.store.resetTwoFactor(await t.deps.store.findUserByEmail(EMAIL).then((u) => u?.id ?? 0));
      await context.addInitScript(WITHOUT_AUTOFILL);
      await follow(page, "link", "I have saved them");
      await signOut(page);
      await Promise.all([
        page.waitForURL(`${base}/login/passkey`),
        page.getByRole("button", { name: "Sign in with a passkey" }).click(),
      ]);
      expect(await page.getByRole("alert").textContent()).toContain("This passkey is not registered here");
      await look(page, "passkey login unknown");

      // An authenticator that holds nothing for this site: the dialog ends without an answer.
      await cdp.send("WebAuthn.removeCredential", {
        authenticatorId: id,
        credentialId: credential?.credentialId ?? "",
      });
      await page.goto(`${base}/login`);
      await page.getByRole("button", { name: "Sign in with a passkey" }).click();
      const alert = page.locator("[data-passkey-error]");
      await alert.waitFor({ state: "visible" });
      expect(await alert.textContent()).toMatch(/cancelled or timed out|could not be used/);
      expect(new URL(page.url()).pathname).toBe("/login");
      await look(page, "passkey login cancelled");
    });

    it("without JavaScript, or without WebAuthn, hides the passkey button and says why; the password still signs in", async () => {
      await t.createUser(EMAIL);
      const noScript = await open({ javaScriptEnabled: false });
      await noScript.page.goto(`${base}/login`);
      expect(await noScript.page.getByRole("button", { name: "Sign in with a passkey" }).isVisible()).toBe(false);
      // (Chromium's switch for JavaScript does not show <noscript>, a browser without script does.)
      expect(await noScript.page.locator("noscript").innerHTML()).toContain(
        "Passkeys need JavaScript, which is off in this browser.",
      );
      // (axe needs script: the page is the login page checked with script on, less the button.)
      await screenshot(noScript.page, "passkey login no script");
      await signInWithPassword(noScript.page, base);
      expect(new URL(noScript.page.url()).pathname).toBe("/account");

      const old = await open();
      await old.context.addInitScript("delete window.PublicKeyCredential;");
      await old.page.goto(`${base}/login`);
      const note = old.page.getByText("This browser cannot use passkeys.");
      await note.waitFor({ state: "visible" });
      expect(await old.page.getByRole("button", { name: "Sign in with a passkey" }).isVisible()).toBe(false);
      await look(old.page, "passkey login no webauthn");
    });

    it("at an address passkeys are not for (127.0.0.1 for localhost), hides the button and links to the one they are for", async () => {
      const port = new URL(base).port;
      const { page } = await open();
      await page.goto(`http://127.0.0.1:${port}/login?lang=en`);
      const note = page.getByText("Passkeys work at this address:");
      await note.waitFor({ state: "visible" });
      const link = page.getByRole("link", { name: base });
      expect(await link.getAttribute("href")).toBe(`${base}/login?lang=en`);
      expect(await page.getByRole("button", { name: "Sign in with a passkey" }).isVisible()).toBe(false);
      await look(page, "passkey login other address");
      await link.click();
      await page.getByRole("button", { name: "Sign in with a passkey" }).waitFor({ state: "visible" });
      expect(await page.getByText("Passkeys work at this address:").isVisible()).toBe(false);
    });
  });
});
