import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AppError } from "../core/errors.js";
import { MAIL_TEMPLATES, type Mailer, type MailRequest } from "../core/mail/port.js";
import { createMailer, DEFAULT_MAIL_DIR } from "./index.js";

const LANGUAGES = ["en", "nl", "fr", "de"] as const;
const noLog = () => {};

function expectTemplateError(fn: () => unknown): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(AppError);
  expect((caught as AppError).code).toBe("UNABLE_TO_FIND_MAIL_TEMPLATE");
}

/** A temp mail dir: a copy of the shipped `default` origin plus `shop` (resetUrl, Dutch default, en+nl only). */
function makeMailDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "latchkey-mail-"));
  cpSync(join(DEFAULT_MAIL_DIR, "default"), join(dir, "default"), { recursive: true });
  const shop = join(dir, "shop");
  cpSync(join(DEFAULT_MAIL_DIR, "default", "en"), join(shop, "en"), { recursive: true });
  cpSync(join(DEFAULT_MAIL_DIR, "default", "nl"), join(shop, "nl"), { recursive: true });
  writeFileSync(
    join(shop, "origin.json"),
    JSON.stringify({
      from: "shop@example.com",
      fromName: "Example Shop",
      defaultLanguage: "nl",
      resetUrl: "https://shop.example.com/reset?email={{email}}&code={{code}}",
      inviteUrl: "https://shop.example.com/invitation?email={{email}}&code={{code}}",
      totpIssuer: "Example Shop",
    }),
  );
  return dir;
}

describe("render with the shipped templates", () => {
  const mailer = createMailer({ mailDir: DEFAULT_MAIL_DIR, outboxDir: "unused", log: noLog });

  for (const language of LANGUAGES) {
    for (const template of MAIL_TEMPLATES) {
      it(`${language}/${template} renders every part with the code`, () => {
        const mail = mailer.render({
          to: "user@example.com",
          template,
          language,
          vars: { code: "314159", expiresMinutes: 15, expiresDays: 15, method: "totp", newEmail: "john@example.org" },
        });
        expect(mail.language).toBe(language);
        expect(mail.origin).toBe("default");
        expect(mail.from).toBe("no-reply@latchkey.local");
        expect(mail.fromName).toBe("Latchkey");
        expect(mail.subject.length).toBeGreaterThan(5);
        expect(mail.subject).not.toMatch(/[\r\n]/);
        expect(mail.subject).not.toContain("{{");
        expect(mail.text).not.toContain("{{");
        expect(mail.html).toContain(`<html lang="${language}">`);
        if (template.startsWith("notice-")) {
          expect(mail.text).toContain("Latchkey");
        } else {
          expect(mail.text).toContain("314159");
          expect(mail.html).toContain("314159");
          expect(mail.text).toContain("15");
        }
      });
    }
  }

  it("names the 2FA method in the notice", () => {
    const totp = mailer.render({ to: "u@example.com", template: "notice-2fa-disabled", vars: { method: "TOTP" } });
    expect(totp.text).toContain("TOTP");
    const email = mailer.render({ to: "u@example.com", template: "notice-2fa-disabled", vars: { method: "email" } });
    expect(email.text).toContain("email codes");
    expect(email.text).not.toContain("TOTP");
  });

  it("masks the new address in the transfer notice", () => {
    const mail = mailer.render({
      to: "old@example.com",
      template: "notice-email-transferred",
      language: "fr",
      vars: { newEmail: "jane.doe@example.org" },
    });
    expect(mail.text).toContain("j***@example.org");
    expect(mail.html).toContain("j***@example.org");
    expect(mail.text).not.toContain("jane.doe");
  });

  it("falls back to the default language for an unknown one, and uses it when none is given", () => {
    const req: MailRequest = { to: "u@example.com", template: "email-otp-setup", vars: { code: "111222" } };
    expect(mailer.render({ ...req, language: "es" }).language).toBe("en");
    expect(mailer.render({ ...req, language: "NL" }).language).toBe("nl");
    const none = mailer.render(req);
    expect(none.language).toBe("en");
    expect(none.subject).toBe("Confirm two-step verification by email");
  });

  it("refuses unknown and malformed origins and languages", () => {
    const base: MailRequest = { to: "u@example.com", template: "email-otp-challenge", vars: { code: "123456" } };
    for (const origin of ["nope", "../etc", "..", "default/../default", "a/b", "", ".hidden", "x".repeat(300)]) {
      expectTemplateError(() => mailer.render({ ...base, origin }));
    }
    for (const language of ["../en", "eng", "e", "en-US", ""]) {
      expectTemplateError(() => mailer.render({ ...base, language }));
    }
  });

  it("escapes variables in html but not in text", () => {
    const mail = mailer.render({
      to: "u@example.com",
      template: "notice-password-changed",
      vars: { email: "<script>alert(1)</script>" },
    });
    expect(mail.html).not.toContain("<script>");
    expect(mail.html).toContain("&lt;script&gt;");
    expect(mail.text).toContain("<script>alert(1)</script>");
  });

  it("rejects recipients that are not one bare address", () => {
    const base: MailRequest = { to: "", template: "notice-password-changed", vars: {} };
    for (const to of [
      "a@example.com\r\nBcc: x@evil.com",
      "a@example.com, b@example.com",
      "A <a@example.com>",
      "nope",
    ]) {
      expect(() => mailer.render({ ...base, to })).toThrow(/single address/);
    }
  });

  it("reports no TOTP issuer for the default origin", () => {
    expect(mailer.totpIssuer()).toBeUndefined();
    expect(mailer.totpIssuer("../etc")).toBeUndefined();
  });
});

describe("render with a second origin", () => {
  let dir: string;
  let mailer: Mailer;

  beforeAll(() => {
    dir = makeMailDir();
    mailer = createMailer({ mailDir: dir, outboxDir: join(dir, "outbox"), log: noLog });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const reset = (origin?: string): MailRequest => ({
    to: "ann+shop@example.com",
    template: "password-reset",
    language: "en",
    vars: { code: "042042", expiresMinutes: 30 },
    ...(origin === undefined ? {} : { origin }),
  });

  it("adds the reset link only when the origin has resetUrl", () => {
    const shop = mailer.render(reset("shop"));
    const link = "https://shop.example.com/reset?email=ann%2Bshop%40example.com&code=042042";
    expect(shop.text).toContain(link);
    expect(shop.html).toContain(
      'href="https://shop.example.com/reset?email&#x3D;ann%2Bshop%40example.com&amp;code&#x3D;042042"',
    );
    expect(shop.from).toBe("shop@example.com");
    expect(shop.fromName).toBe("Example Shop");

    const plain = mailer.render(reset());
    expect(plain.text).not.toContain("https://");
    expect(plain.html).not.toContain("<a ");
    expect(plain.text).toContain("042042");
  });

  it("adds the invitation link only when the origin has inviteUrl, and only to the invitation", () => {
    const invite = (origin?: string) =>
      mailer.render({
        to: "ann+shop@example.com",
        template: "invitation",
        language: "en",
        vars: { code: "042042", expiresDays: 1 },
        ...(origin === undefined ? {} : { origin }),
      });
    const shop = invite("shop");
    expect(shop.text).toContain("https://shop.example.com/invitation?email=ann%2Bshop%40example.com&code=042042");
    expect(shop.text).toContain("1 day");
    expect(shop.text).not.toContain("1 days");
    const plain = invite();
    expect(plain.text).not.toContain("https://");
    expect(plain.html).not.toContain("<a ");
    expect(plain.text).toContain("042042");
    // The reset mail of the same origin keeps its own link.
    expect(mailer.render(reset("shop")).text).not.toContain("/invitation");
  });

  it("falls back to the origin's own default language", () => {
    const mail = mailer.render({ ...reset("shop"), language: "de" });
    expect(mail.language).toBe("nl");
    expect(mail.subject).toBe("Stel je Example Shop-wachtwoord opnieuw in");
  });

  it("exposes the origin's TOTP issuer", () => {
    expect(mailer.totpIssuer("shop")).toBe("Example Shop");
    expect(mailer.totpIssuer("missing")).toBeUndefined();
  });

  it("fails when neither the language nor the default language has the template", () => {
    const broken = mkdtempSync(join(tmpdir(), "latchkey-mail-"));
    mkdirSync(join(broken, "solo", "fr"), { recursive: true });
    writeFileSync(
      join(broken, "solo", "origin.json"),
      JSON.stringify({ from: "a@example.com", fromName: "Solo", defaultLanguage: "en" }),
    );
    for (const part of ["subject", "text", "html"]) {
      writeFileSync(join(broken, "solo", "fr", `notice-password-changed.${part}.hbs`), "Bonjour {{email}}");
    }
    const solo = createMailer({ mailDir: broken, outboxDir: join(broken, "outbox"), log: noLog });
    expect(
      solo.render({
        to: "a@example.com",
        template: "notice-password-changed",
        origin: "solo",
        language: "fr",
        vars: {},
      }).text,
    ).toBe("Bonjour a@example.com");
    expectTemplateError(() =>
      solo.render({
        to: "a@example.com",
        template: "notice-password-changed",
        origin: "solo",
        language: "de",
        vars: {},
      }),
    );
    expectTemplateError(() => solo.render({ to: "a@example.com", template: "notice-password-changed", vars: {} }));
    rmSync(broken, { recursive: true, force: true });
  });

  it("collapses line breaks in a rendered subject", () => {
    const multi = mkdtempSync(join(tmpdir(), "latchkey-mail-"));
    mkdirSync(join(multi, "default", "en"), { recursive: true });
    writeFileSync(
      join(multi, "default", "origin.json"),
      JSON.stringify({ from: "a@example.com", fromName: "Multi", defaultLanguage: "en" }),
    );
    const files = { subject: "Hello\r\n{{email}}\nBcc: evil@example.com\n", text: "t", html: "h" };
    for (const [part, body] of Object.entries(files)) {
      writeFileSync(join(multi, "default", "en", `notice-password-changed.${part}.hbs`), body);
    }
    const m = createMailer({ mailDir: multi, outboxDir: join(multi, "outbox"), log: noLog });
    const mail = m.render({ to: "a@example.com", template: "notice-password-changed", vars: {} });
    expect(mail.subject).toBe("Hello a@example.com Bcc: evil@example.com");
    rmSync(multi, { recursive: true, force: true });
  });
});
