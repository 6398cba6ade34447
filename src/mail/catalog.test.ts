import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MAIL_TEMPLATES } from "../core/mail/port.js";
import { loadMailCatalog } from "./catalog.js";
import { DEFAULT_MAIL_DIR, maskEmail } from "./index.js";

const GOOD = { from: "a@example.com", fromName: "Test", defaultLanguage: "en" };

describe("loadMailCatalog", () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "latchkey-catalog-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function origin(name: string, json: unknown): string {
    const path = join(dir, name);
    mkdirSync(path, { recursive: true });
    writeFileSync(join(path, "origin.json"), typeof json === "string" ? json : JSON.stringify(json));
    return join(path, "origin.json");
  }

  it("loads the shipped default origin with all templates in en, nl, fr and de", () => {
    const catalog = loadMailCatalog(DEFAULT_MAIL_DIR);
    const loaded = catalog.origin();
    expect(loaded?.config).toEqual({
      ...GOOD,
      from: "no-reply@latchkey.local",
      fromName: "Latchkey",
      resetUrl: undefined,
      inviteUrl: undefined,
      smtpUrl: undefined,
      totpIssuer: undefined,
      brand: { name: "Latchkey", logoUrl: undefined, accentColor: "#1f5fbf", backgroundColor: "#f3f5f8" },
    });
    expect([...(loaded?.languages.keys() ?? [])].sort()).toEqual(["de", "en", "fr", "nl"]);
    for (const templates of loaded?.languages.values() ?? []) expect(templates.size).toBe(MAIL_TEMPLATES.length);
  });

  it.each([
    ["not JSON", "{ nope", /not valid JSON/],
    ["a missing field", { from: "a@example.com", defaultLanguage: "en" }, /fromName/],
    ["an unknown key", { ...GOOD, resetURL: "https://x.example" }, /Invalid mail origin file/],
    ["a bad language", { ...GOOD, defaultLanguage: "english" }, /defaultLanguage/],
    ["two senders", { ...GOOD, from: "a@example.com, b@example.com" }, /"from"/],
    ["a CR/LF in fromName", { ...GOOD, fromName: "Evil\r\nBcc: x@y.z" }, /fromName/],
    ["a javascript: resetUrl", { ...GOOD, resetUrl: "javascript:alert(1)" }, /resetUrl/],
    ["a javascript: inviteUrl", { ...GOOD, inviteUrl: "javascript:alert(1)" }, /inviteUrl/],
    ["an http smtpUrl", { ...GOOD, smtpUrl: "http://mail.example.com" }, /smtpUrl/],
  ])("refuses an origin.json with %s, naming the file", (_label, json, pattern) => {
    const file = origin("broken", json);
    expect(() => loadMailCatalog(dir)).toThrow(pattern);
    expect(() => loadMailCatalog(dir)).toThrow(file);
  });

  it("refuses an origin folder without origin.json", () => {
    mkdirSync(join(dir, "empty"));
    expect(() => loadMailCatalog(dir)).toThrow(join(dir, "empty", "origin.json"));
  });

  it("refuses a template with a missing part, an unknown template name and broken syntax", () => {
    origin("o", GOOD);
    const en = join(dir, "o", "en");
    mkdirSync(en);
    writeFileSync(join(en, "password-reset.subject.hbs"), "s");
    writeFileSync(join(en, "password-reset.text.hbs"), "t");
    expect(() => loadMailCatalog(dir)).toThrow(join(en, "password-reset.html.hbs"));
    writeFileSync(join(en, "password-reset.html.hbs"), "{{#if code}}unclosed");
    expect(() => loadMailCatalog(dir)).toThrow(join(en, "password-reset.html.hbs"));
    writeFileSync(join(en, "password-reset.html.hbs"), "ok");
    expect(loadMailCatalog(dir).origin("o")?.languages.get("en")?.has("password-reset")).toBe(true);
    writeFileSync(join(en, "pasword-reset.text.hbs"), "typo");
    expect(() => loadMailCatalog(dir)).toThrow(/Unknown mail template file/);
  });

  it("refuses invalid origin and language folder names", () => {
    origin("o", GOOD);
    mkdirSync(join(dir, "o", "english"));
    expect(() => loadMailCatalog(dir)).toThrow(/two-letter/);
    rmSync(join(dir, "o", "english"), { recursive: true });
    mkdirSync(join(dir, "bad name"));
    expect(() => loadMailCatalog(dir)).toThrow(/invalid name/);
  });

  it("refuses a missing mail directory", () => {
    expect(() => loadMailCatalog(join(dir, "absent"))).toThrow();
  });
});

describe("maskEmail", () => {
  it.each([
    ["john@example.com", "j***@example.com"],
    ["j@example.com", "j***@example.com"],
    ["élodie@example.fr", "é***@example.fr"],
    ["@example.com", "***@example.com"],
    ["no-at-sign", "***"],
  ])("%s → %s", (input, expected) => {
    expect(maskEmail(input)).toBe(expected);
  });
});
