import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestApp, type TestApp, testDialects } from "./support/harness.js";
import { get } from "./support/http.js";

type Auth = "none" | "refresh" | "access" | "accessOrPartial" | "sudo" | "sudoOrAccessIf2faOff";

/** The contract's endpoint tables (§3, §6): method, path, title, tag, auth and the statuses it lists. */
const CONTRACT: [string, string, string, "Authentication" | "User", Auth, number[]][] = [
  [
    "post",
    "/auth/login",
    "Get a new refresh token by providing user credentials",
    "Authentication",
    "none",
    [200, 400, 401, 429, 500],
  ],
  ["get", "/auth/accesstoken", "Get a new access token", "Authentication", "refresh", [200, 401]],
  [
    "get",
    "/auth/refreshtoken",
    "Get a new refresh token by providing a refresh token",
    "Authentication",
    "refresh",
    [200, 400, 401],
  ],
  ["post", "/auth/logout", "Invalidate a refresh token", "Authentication", "refresh", [204, 401]],
  ["get", "/auth/accesstoken/validate", "Validate an access token", "Authentication", "access", [200, 401]],
  ["get", "/auth/refreshtoken/validate", "Validate a refresh token", "Authentication", "refresh", [200, 401]],
  ["get", "/user/2fa", "Get active 2FA methods", "User", "accessOrPartial", [200, 401]],
  ["post", "/user/2fa/totp/setup", "Set or reset TOTP", "User", "sudoOrAccessIf2faOff", [200, 401, 403]],
  ["post", "/user/2fa/totp/enable", "Activate TOTP", "User", "access", [200, 401, 409, 429, 500]],
  ["post", "/user/2fa/totp/authenticate", "Verify TOTP code", "User", "accessOrPartial", [200, 401, 409, 429, 500]],
  ["get", "/user/2fa/totp/next-guess", "Time until the next TOTP guess", "User", "accessOrPartial", [200, 409]],
  ["delete", "/user/2fa/totp", "Deactivate TOTP", "User", "sudo", [204, 409]],
  [
    "post",
    "/user/2fa/email-otp/setup",
    "Set or reset email OTP",
    "User",
    "sudoOrAccessIf2faOff",
    [204, 400, 403, 429, 500],
  ],
  ["post", "/user/2fa/email-otp/enable", "Activate email OTP", "User", "access", [200, 401, 409]],
  [
    "post",
    "/user/2fa/email-otp/challenge",
    "Initiate email OTP challenge",
    "User",
    "accessOrPartial",
    [204, 409, 429, 500],
  ],
  [
    "post",
    "/user/2fa/email-otp/authenticate",
    "Complete email OTP challenge",
    "User",
    "accessOrPartial",
    [200, 401, 409],
  ],
  [
    "get",
    "/user/2fa/email-otp/next-email",
    "Time until the next email OTP may be generated",
    "User",
    "accessOrPartial",
    [200, 409],
  ],
  ["delete", "/user/2fa/email-otp", "Deactivate email OTP", "User", "sudo", [204, 409]],
  [
    "post",
    "/user/2fa/recovery-code/authenticate",
    "Verify a recovery code",
    "User",
    "accessOrPartial",
    [200, 401, 409, 429],
  ],
  [
    "get",
    "/user/2fa/recovery-code/next-guess",
    "Time until the next recovery code guess",
    "User",
    "accessOrPartial",
    [200, 409],
  ],
  ["post", "/user/2fa/recovery-code/reset", "Reset the recovery codes of a user", "User", "sudo", [200, 409]],
  ["post", "/user/password/reset/send", "Send a password reset OTP", "User", "none", [204, 403, 429, 500]],
  ["post", "/user/password/reset/validate", "Check a password reset OTP", "User", "none", [204, 401]],
  ["put", "/user/password/otp", "Update password via OTP", "User", "none", [204, 400, 401]],
  [
    "put",
    "/user/password/old-password",
    "Update password via sudo token",
    "User",
    "sudoOrAccessIf2faOff",
    [204, 400, 401, 429, 500],
  ],
  [
    "post",
    "/user/email/initiate",
    "Initiate an email address transfer",
    "User",
    "sudoOrAccessIf2faOff",
    [204, 400, 403, 409, 429, 500],
  ],
  ["put", "/user/email", "Complete an email address transfer", "User", "access", [204, 401, 409]],
  // §6, Latchkey's own: the titles are ours.
  ["get", "/user/sessions", "List the caller's live sessions", "User", "access", [200, 401]],
  ["delete", "/user/sessions/:sessionId", "End one of the caller's sessions", "User", "access", [204, 401, 404]],
  [
    "post",
    "/user/sessions/revoke-others",
    "End every session of the caller but the current one",
    "User",
    "access",
    [204, 400, 401],
  ],
  // Sign-up, Latchkey's own (404 while it is off).
  [
    "post",
    "/user/signup",
    "Sign up: mail a code to confirm the address",
    "User",
    "none",
    [204, 400, 403, 404, 429, 500],
  ],
  [
    "post",
    "/user/signup/confirm",
    "Confirm a sign-up with the mailed code: the account is made and signed in",
    "User",
    "none",
    [200, 400, 401, 404, 409, 429],
  ],
];

const SCHEMES: Record<Auth, string[]> = {
  none: [],
  refresh: ["refreshToken"],
  access: ["accessToken"],
  accessOrPartial: ["accessToken", "partialToken"],
  sudo: ["sudoToken"],
  sudoOrAccessIf2faOff: ["accessToken", "sudoToken"],
};

interface Operation {
  summary?: string;
  tags?: string[];
  security?: Record<string, string[]>[];
  responses?: Record<string, unknown>;
}

describe("OpenAPI document", () => {
  let t: TestApp;
  let doc: { openapi: string; paths: Record<string, Record<string, Operation>>; components: Record<string, unknown> };
  beforeAll(async () => {
    const [dialect] = testDialects();
    if (!dialect) throw new Error("no dialect");
    t = await createTestApp(dialect, { env: { LATCHKEY_ADMIN_TOKEN: "a".repeat(40) } });
    const res = await get(t, "/openapi.json");
    expect(res.statusCode).toBe(200);
    doc = res.json();
  });
  afterAll(async () => {
    await t.close();
  });

  it("is OpenAPI 3.1", () => {
    expect(doc.openapi).toBe("3.1.0");
  });

  it.each(CONTRACT)(
    "has %s %s with the contract's title, tag, security and responses",
    (method, path, title, tag, auth, statuses) => {
      const openApiPath = path.replace(/:(\w+)/g, "{$1}");
      const operation = doc.paths[openApiPath]?.[method];
      expect(operation, `${method} ${path}`).toBeDefined();
      expect(operation?.summary).toBe(title);
      expect(operation?.tags).toEqual([tag]);
      const schemes = (operation?.security ?? []).flatMap((requirement) => Object.keys(requirement)).sort();
      expect(schemes).toEqual(SCHEMES[auth]);
      const documented = Object.keys(operation?.responses ?? {}).map(Number);
      for (const status of statuses) expect(documented, `${method} ${path} ${status}`).toContain(status);
    },
  );

  // §4 (revised): every check of a mailed code is a guess and may be refused with 429 TOO_MANY_OTP_CHECKS.
  it.each([
    ["post", "/user/2fa/email-otp/enable"],
    ["post", "/user/2fa/email-otp/authenticate"],
    ["post", "/user/password/reset/validate"],
    ["put", "/user/password/otp"],
    ["put", "/user/email"],
    ["post", "/user/signup/confirm"],
  ])("documents 429 for the mailed-code check %s %s", (method, path) => {
    expect(Object.keys(doc.paths[path]?.[method]?.responses ?? {})).toContain("429");
  });

  it("documents the admin API under its own tag", () => {
    const adminOps = Object.entries(doc.paths)
      .filter(([path]) => path.startsWith("/admin/"))
      .flatMap(([, ops]) => Object.values(ops));
    expect(adminOps.length).toBeGreaterThanOrEqual(9);
    for (const op of adminOps) {
      expect(op.tags).toEqual(["Admin"]);
      expect(op.security).toEqual([{ adminToken: [] }]);
    }
  });

  it("leaves /metrics out: it has a listener of its own", () => {
    expect(Object.keys(doc.paths)).toContain("/health/ready");
    expect(Object.keys(doc.paths)).not.toContain("/metrics");
  });

  it("leaves the hosted pages out: they are for browsers, not API clients", async () => {
    expect((await get(t, "/login")).statusCode).toBe(200);
    const pagePaths = Object.keys(doc.paths).filter((path) =>
      /^\/(login|reauth|logout|account|password\/|invitation|signup|pages\/)|^\/$/.test(path),
    );
    expect(pagePaths).toEqual([]);
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(["/auth/login", "/auth/passkey/login"]));
  });

  it("serves Swagger UI at /docs", async () => {
    const res = await get(t, "/docs/");
    expect(res.statusCode).toBe(200);
    expect(res.body).toContain("swagger");
  });
});
