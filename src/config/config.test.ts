import { describe, expect, it } from "vitest";
import { KEY_RELOAD_INTERVAL_MS } from "../core/tokens/signing-keys.js";
import { ConfigError, loadConfig, MAX_KEY_RELOAD_SECONDS } from "./config.js";

describe("config", () => {
  it("has the contract's defaults", () => {
    const config = loadConfig({});
    expect(config.port).toBe(8080);
    expect(config.host).toBe("127.0.0.1");
    expect(config.databaseUrl).toBe("sqlite:./data/latchkey.db");
    expect(config.issuer).toBe("http://127.0.0.1:8080");
    expect(config.tokens).toEqual({
      refreshTtlSeconds: 1_209_600,
      accessTtlSeconds: 300,
      sudoTtlSeconds: 300,
      partialTtlSeconds: 600,
      refreshGraceSeconds: 10,
    });
    expect(config.throttle).toEqual({ freeFailures: 5, maxWaitSeconds: 3600 });
    expect(config.keyReloadSeconds).toBe(30);
  });

  it("lets a node read the signing keys more often than the interval a rotation waits for, never less often", () => {
    expect(MAX_KEY_RELOAD_SECONDS * 1000).toBe(KEY_RELOAD_INTERVAL_MS);
    expect(loadConfig({ LATCHKEY_KEY_RELOAD_SECONDS: "2" }).keyReloadSeconds).toBe(2);
    expect(() => loadConfig({ LATCHKEY_KEY_RELOAD_SECONDS: "31" })).toThrow(/LATCHKEY_KEY_RELOAD_SECONDS/);
    expect(() => loadConfig({ LATCHKEY_KEY_RELOAD_SECONDS: "0" })).toThrow(/LATCHKEY_KEY_RELOAD_SECONDS/);
  });

  it("reports every problem at once", () => {
    try {
      loadConfig({
        LATCHKEY_PORT: "eighty",
        LATCHKEY_DATABASE_URL: "mysql://x",
        LATCHKEY_ARGON2_MEMORY_KIB: "1024",
        LATCHKEY_LOG_LEVEL: "loud",
      });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      const problems = (error as ConfigError).problems;
      expect(problems).toHaveLength(4);
      expect(problems.join("\n")).toMatch(/LATCHKEY_PORT.*LATCHKEY_DATABASE_URL.*LATCHKEY_LOG_LEVEL.*ARGON2_MEMORY/s);
    }
  });

  it("refuses a TOTP issuer with a colon (it would split the otpauth label)", () => {
    expect(() => loadConfig({ LATCHKEY_TOTP_ISSUER: "Acme:Prod" })).toThrow(
      /LATCHKEY_TOTP_ISSUER must not contain a colon/,
    );
    expect(loadConfig({ LATCHKEY_TOTP_ISSUER: "Acme Prod" }).totpIssuer).toBe("Acme Prod");
  });

  it("refuses LATCHKEY_CORS_ORIGINS=* (any site would get answers made with the user's cookies)", () => {
    for (const value of ["*", "https://app.example.com,*"]) {
      expect(() => loadConfig({ LATCHKEY_CORS_ORIGINS: value })).toThrow(
        /LATCHKEY_CORS_ORIGINS must list each allowed origin.*not "\*"/,
      );
    }
    expect(loadConfig({ LATCHKEY_CORS_ORIGINS: "https://a.example.com, http://localhost:3000" }).corsOrigins).toEqual([
      "https://a.example.com",
      "http://localhost:3000",
    ]);
  });

  it("takes LATCHKEY_TRUST_PROXY as the proxies' addresses and CIDRs, or a hop count", () => {
    const trust = (value: string) => loadConfig({ LATCHKEY_TRUST_PROXY: value }).trustProxy;
    expect(loadConfig({}).trustProxy).toBe(false);
    expect(trust("false")).toBe(false);
    expect(trust("0")).toBe(false);
    expect(trust("2")).toBe(2);
    expect(trust("10.0.0.0/8, 127.0.0.1,::1, fd00::/8,loopback")).toEqual([
      "10.0.0.0/8",
      "127.0.0.1",
      "::1",
      "fd00::/8",
      "loopback",
    ]);
  });

  it("refuses LATCHKEY_TRUST_PROXY=true and every entry it cannot read, naming the variable", () => {
    const problems = (value: string) => {
      try {
        loadConfig({ LATCHKEY_TRUST_PROXY: value });
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        return (error as ConfigError).problems;
      }
      return expect.unreachable(`${value} was accepted`);
    };
    expect(problems("true")).toEqual([expect.stringMatching(/^LATCHKEY_TRUST_PROXY=true .*addresses or CIDRs/)]);
    expect(problems("11")).toEqual([expect.stringMatching(/^LATCHKEY_TRUST_PROXY hop count .* 0 and 10/)]);
    for (const entry of ["10.0.0.0/33", "fd00::/129", "300.1.1.1", "proxy.example.com", "10.0.0.0/", "10.0.0.0/x"]) {
      expect(problems(`127.0.0.1,${entry}`)).toEqual([
        expect.stringContaining(`LATCHKEY_TRUST_PROXY entry "${entry}"`),
      ]);
    }
    // A /0 trusts every hop, like `true`.
    expect(problems("0.0.0.0/0")).toEqual([expect.stringMatching(/"0.0.0.0\/0" covers every address/)]);
    expect(problems("::/0")).toEqual([expect.stringMatching(/"::\/0" covers every address/)]);
  });

  it("puts metrics on a listener of their own, 127.0.0.1:9464 unless told otherwise or off", () => {
    expect(loadConfig({}).metrics).toEqual({ host: "127.0.0.1", port: 9464 });
    expect(loadConfig({ LATCHKEY_METRICS_HOST: "0.0.0.0", LATCHKEY_METRICS_PORT: "9100" }).metrics).toEqual({
      host: "0.0.0.0",
      port: 9100,
    });
    expect(loadConfig({ LATCHKEY_METRICS_PORT: "0" }).metrics).toEqual({ host: "127.0.0.1", port: 0 });
    expect(loadConfig({ LATCHKEY_METRICS_PORT: "off" }).metrics).toBeUndefined();
    expect(() => loadConfig({ LATCHKEY_METRICS_PORT: "metrics" })).toThrow(
      /LATCHKEY_METRICS_PORT must be a whole number or off, got "metrics"/,
    );
    expect(() => loadConfig({ LATCHKEY_METRICS_PORT: "70000" })).toThrow(/LATCHKEY_METRICS_PORT must be between/);
    expect(() => loadConfig({ LATCHKEY_PORT: "9464" })).toThrow(/LATCHKEY_METRICS_PORT must differ from LATCHKEY_PORT/);
  });

  it("takes LATCHKEY_PAGES on or off, and the return URLs as written", () => {
    expect(loadConfig({}).pages).toEqual({ enabled: true, returnUrls: [] });
    expect(loadConfig({ LATCHKEY_PAGES: "off" }).pages.enabled).toBe(false);
    expect(() => loadConfig({ LATCHKEY_PAGES: "yes" })).toThrow(/LATCHKEY_PAGES must be one of on, off, got "yes"/);
    expect(
      loadConfig({ LATCHKEY_RETURN_URLS: " https://app.example.com/after-login , http://localhost:3000/done?x=1 ," })
        .pages.returnUrls,
    ).toEqual(["https://app.example.com/after-login", "http://localhost:3000/done?x=1"]);
  });

  it("refuses every LATCHKEY_RETURN_URLS entry that is not a full http(s) URL, naming the variable", () => {
    const junk = [
      "app.example.com/after",
      "/account",
      "javascript:alert(1)",
      "ftp://files.example.com/",
      "https://user:secret@app.example.com/",
      "https://app.example.com/#done",
      "https://app.example.com",
      "https://APP.example.com/",
      "not a url",
    ];
    try {
      loadConfig({ LATCHKEY_RETURN_URLS: ["https://good.example.com/", ...junk].join(",") });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      const problems = (error as ConfigError).problems;
      expect(problems).toHaveLength(junk.length);
      for (const [index, entry] of junk.entries()) {
        expect(problems[index]).toMatch(
          /^LATCHKEY_RETURN_URLS entry ".*" must be an absolute http\(s\) URL written in full/,
        );
        expect(problems[index]).toContain(`"${entry}"`);
      }
    }
  });

  it("takes LATCHKEY_SIGNUP as off (the default), open, or domains:<list>", () => {
    expect(loadConfig({}).signup).toEqual({ mode: "off" });
    expect(loadConfig({ LATCHKEY_SIGNUP: "off" }).signup).toEqual({ mode: "off" });
    expect(loadConfig({ LATCHKEY_SIGNUP: "open" }).signup).toEqual({ mode: "open" });
    expect(loadConfig({ LATCHKEY_SIGNUP: "domains: Example.COM, example.org., example.com" }).signup).toEqual({
      mode: "domains",
      domains: ["example.com", "example.org"],
    });
  });

  it("refuses junk in LATCHKEY_SIGNUP at start, naming the variable", () => {
    const refusals: [string, RegExp][] = [
      ["yes", /^LATCHKEY_SIGNUP must be off, open or domains:<comma-separated domain names>, got "yes"$/],
      ["OPEN", /^LATCHKEY_SIGNUP must be off, open or domains/],
      ["domains:", /^LATCHKEY_SIGNUP=domains: must list at least one domain name/],
      ["domains: , ", /^LATCHKEY_SIGNUP=domains: must list at least one domain name/],
      ["domains:example.com,*.example.org", /^LATCHKEY_SIGNUP lists "\*\.example\.org", which is not a domain name/],
      ["domains:localhost", /^LATCHKEY_SIGNUP lists "localhost", which is not a domain name/],
      ["domains:a@example.com,ex ample.com", /^LATCHKEY_SIGNUP lists "a@example.com", "ex ample.com", which are not/],
      ["domains:example.com,,example.org", /^LATCHKEY_SIGNUP lists "", which is not a domain name/],
      ["domains:-bad.example.com", /^LATCHKEY_SIGNUP lists "-bad.example.com"/],
      ["domains:example.com\r\nBcc: x@example.org", /^LATCHKEY_SIGNUP lists/],
    ];
    for (const [value, expected] of refusals) {
      try {
        loadConfig({ LATCHKEY_SIGNUP: value });
        expect.unreachable(value);
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        const problems = (error as ConfigError).problems;
        expect(problems).toHaveLength(1);
        expect(problems[0]).toMatch(expected);
      }
    }
  });

  it("derives the passkey relying party from the issuer: its host, or localhost for a loopback issuer", () => {
    expect(loadConfig({}).passkeys).toEqual({
      rpId: "localhost",
      rpName: "Latchkey",
      origins: ["http://localhost:8080"],
    });
    expect(
      loadConfig({ LATCHKEY_ISSUER: "https://login.example.com", LATCHKEY_TOTP_ISSUER: "Example" }).passkeys,
    ).toEqual({
      rpId: "login.example.com",
      rpName: "Example",
      origins: ["https://login.example.com"],
    });
    expect(
      loadConfig({
        LATCHKEY_ISSUER: "https://login.example.com",
        LATCHKEY_PASSKEY_RP_ID: "Example.com",
        LATCHKEY_PASSKEY_ORIGINS: "https://login.example.com, https://app.example.com",
        LATCHKEY_PASSKEY_RP_NAME: "Example Inc.",
      }).passkeys,
    ).toEqual({
      rpId: "example.com",
      rpName: "Example Inc.",
      origins: ["https://login.example.com", "https://app.example.com"],
    });
    // An issuer at an address that is not loopback gives no RP id: passkeys are off until one is set.
    expect(loadConfig({ LATCHKEY_ISSUER: "http://10.0.0.5:8080" }).passkeys).toBeUndefined();
  });

  it("refuses a passkey RP id that is an address and origins off the RP id, naming the variable", () => {
    const refusals: [Record<string, string>, RegExp][] = [
      [{ LATCHKEY_PASSKEY_RP_ID: "10.0.0.5" }, /^LATCHKEY_PASSKEY_RP_ID must be a domain name/],
      [{ LATCHKEY_PASSKEY_RP_ID: "exa mple.com" }, /^LATCHKEY_PASSKEY_RP_ID must be a domain name/],
      [
        { LATCHKEY_ISSUER: "https://login.example.com", LATCHKEY_PASSKEY_ORIGINS: "https://evil.example.org" },
        /^LATCHKEY_PASSKEY_ORIGINS entry "https:\/\/evil.example.org" is not on the RP id login.example.com/,
      ],
      [
        { LATCHKEY_ISSUER: "https://login.example.com", LATCHKEY_PASSKEY_ORIGINS: "https://login.example.com/path" },
        /^LATCHKEY_PASSKEY_ORIGINS entry "https:\/\/login.example.com\/path" must be an origin/,
      ],
      [
        { LATCHKEY_ISSUER: "https://login.example.com", LATCHKEY_PASSKEY_RP_ID: "example.org" },
        /^LATCHKEY_PASSKEY_ORIGINS must list the origins passkeys are used from \(on example.org\)/,
      ],
    ];
    for (const [env, expected] of refusals) {
      try {
        loadConfig(env);
        expect.unreachable(JSON.stringify(env));
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigError);
        const problems = (error as ConfigError).problems;
        expect(problems).toHaveLength(1);
        expect(problems[0]).toMatch(expected);
      }
    }
  });
});
