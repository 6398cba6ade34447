import { describe, expect, it } from "vitest";
import { AppError } from "../errors.js";
import { clientName, clientScopes, isAcceptableRedirectUri, postLogoutRedirectUris, redirectUris } from "./rules.js";

function codeOf(work: () => unknown): string | undefined {
  try {
    work();
    return undefined;
  } catch (error) {
    if (error instanceof AppError) return error.code;
    throw error;
  }
}

describe("a client's name", () => {
  it("is 1 to 100 characters, not blank, without control characters", () => {
    expect(clientName("Wiki")).toBe("Wiki");
    expect(clientName("x".repeat(100))).toBe("x".repeat(100));
    expect(clientName("🔑".repeat(100))).toBe("🔑".repeat(100));
    for (const bad of ["", "   ", "x".repeat(101), "a\nb", "tab\there", "nul\u0000", "del\u007f"]) {
      expect({ bad, code: codeOf(() => clientName(bad)) }).toEqual({ bad, code: "CLIENT_NAME_INVALID" });
    }
  });
});

describe("a redirect URI", () => {
  it.each([
    "https://app.example/callback",
    "https://app.example:8443/cb?x=1",
    "https://xn--bcher-kva.example/cb",
    "http://127.0.0.1:3000/callback",
    "http://[::1]:8080/cb",
    "http://localhost/cb",
    "http://LOCALHOST:1234/cb",
  ])("accepts %s", (uri) => {
    expect(isAcceptableRedirectUri(uri)).toBe(true);
  });

  it.each([
    ["relative", "/callback"],
    ["no scheme", "app.example/callback"],
    ["http on a public host", "http://app.example/callback"],
    ["http on a host that starts like loopback", "http://127.0.0.1.evil.example/cb"],
    ["http on another loopback address", "http://127.0.0.2/cb"],
    ["a fragment", "https://app.example/cb#frag"],
    ["an empty fragment", "https://app.example/cb#"],
    ["userinfo", "https://user:pass@app.example/cb"],
    ["a user name", "https://user@app.example/cb"],
    ["an empty userinfo", "https://@app.example/cb"],
    ["a wildcard host", "https://*.app.example/cb"],
    ["a wildcard path", "https://app.example/*"],
    ["a custom scheme", "com.example.app:/callback"],
    ["javascript", "javascript:alert(1)"],
    ["data", "data:text/html,hi"],
    ["file", "file:///etc/passwd"],
    ["a space", "https://app.example/a b"],
    ["a leading space", " https://app.example/cb"],
    ["a newline", "https://app.example/cb\n"],
    ["a tab", "https://app.\texample/cb"],
    ["a backslash", "https://app.example\\@evil.example/cb"],
    ["empty", ""],
    ["too long", `https://app.example/${"a".repeat(2000)}`],
  ])("refuses %s", (_, uri) => {
    expect(isAcceptableRedirectUri(uri)).toBe(false);
  });

  it("comes in lists of 1 to 10, no two alike, as written", () => {
    const ten = Array.from({ length: 10 }, (_, i) => `https://app.example/cb${i}`);
    expect(redirectUris(ten)).toEqual(ten);
    expect(codeOf(() => redirectUris([]))).toBe("INVALID_REDIRECT_URI");
    expect(codeOf(() => redirectUris([...ten, "https://app.example/cb10"]))).toBe("INVALID_REDIRECT_URI");
    expect(codeOf(() => redirectUris(["https://app.example/cb", "https://app.example/cb"]))).toBe(
      "INVALID_REDIRECT_URI",
    );
    expect(codeOf(() => redirectUris(["https://app.example/cb", "https://APP.example:443/cb"]))).toBe(
      "INVALID_REDIRECT_URI",
    );
    expect(codeOf(() => redirectUris(["https://app.example/cb", "http://app.example/cb"]))).toBe(
      "INVALID_REDIRECT_URI",
    );
    expect(redirectUris(["https://App.example/cb"])).toEqual(["https://App.example/cb"]);
  });

  it("after logout: 0 to 10, under the same rules, with a code of their own", () => {
    expect(postLogoutRedirectUris([])).toEqual([]);
    expect(postLogoutRedirectUris(["https://app.example/bye"])).toEqual(["https://app.example/bye"]);
    expect(codeOf(() => postLogoutRedirectUris(["http://app.example/bye"]))).toBe("INVALID_POST_LOGOUT_REDIRECT_URI");
    expect(codeOf(() => postLogoutRedirectUris(["https://a.example/x", "https://a.example/x"]))).toBe(
      "INVALID_POST_LOGOUT_REDIRECT_URI",
    );
    const eleven = Array.from({ length: 11 }, (_, i) => `https://app.example/bye${i}`);
    expect(codeOf(() => postLogoutRedirectUris(eleven))).toBe("INVALID_POST_LOGOUT_REDIRECT_URI");
  });
});

describe("a client's scopes", () => {
  it("are known, each once, include openid, and come back in the registry's order", () => {
    expect(clientScopes(["openid"])).toEqual(["openid"]);
    expect(clientScopes(["offline_access", "email", "openid", "profile"])).toEqual([
      "openid",
      "profile",
      "email",
      "offline_access",
    ]);
    for (const bad of [[], ["profile"], ["openid", "admin"], ["openid", "openid"], ["openid", "OPENID"], ["openid "]]) {
      expect({ bad, code: codeOf(() => clientScopes(bad)) }).toEqual({ bad, code: "INVALID_SCOPE" });
    }
  });
});
