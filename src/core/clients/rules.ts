import { AppError } from "../errors.js";

/**
 * The rules of the OAuth client registry, pure: what a client's name, redirect URIs and scopes may
 * be. Each check throws the registry's 400 for the field it refuses, or returns the value to store.
 */

/** The scopes a client may be given; `openid` is required (the registry registers OpenID clients). */
export const CLIENT_SCOPES = ["openid", "profile", "email", "offline_access"] as const;
export const DEFAULT_CLIENT_SCOPES: readonly string[] = ["openid", "profile", "email"];

export const CLIENT_NAME_MAX = 100;
export const REDIRECT_URIS_MAX = 10;
/** Long enough for any real callback, short enough to keep rows and logs small. */
export const REDIRECT_URI_MAX_LENGTH = 2000;

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "[::1]", "localhost"]);

/** 1–100 characters (code points), not blank, no control characters. */
export function clientName(name: string): string {
  const length = [...name].length;
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (length < 1 || length > CLIENT_NAME_MAX || name.trim() === "" || /[\u0000-\u001f\u007f-\u009f]/.test(name)) {
    throw new AppError("CLIENT_NAME_INVALID");
  }
  return name;
}

/**
 * Whether `value` may be registered as a redirect URI: an absolute `https:` URL (any host) or `http:`
 * URL on a loopback host, as written (no spaces or control characters the parser would drop), with
 * neither fragment, userinfo nor `*`.
 */
export function isAcceptableRedirectUri(value: string): boolean {
  if (value.length === 0 || value.length > REDIRECT_URI_MAX_LENGTH) return false;
  // Stored and later compared as written: nothing the URL parser would strip or re-encode silently.
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  if (/[\s\u0000-\u001f\u007f-\u009f\\]/.test(value)) return false;
  if (value.includes("*") || value.includes("#")) return false;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  // The authority as written: `https://@host/` has an empty userinfo the parser forgets.
  const authority = /^[a-z][a-z0-9+.-]*:\/\/([^/?#]*)/i.exec(value)?.[1];
  if (authority === undefined || authority.includes("@") || url.username !== "" || url.password !== "") return false;
  if (url.protocol === "https:") return url.hostname !== "";
  if (url.protocol === "http:") return LOOPBACK_HOSTS.has(url.hostname);
  return false;
}

function uriList(
  uris: readonly string[],
  min: number,
  code: "INVALID_REDIRECT_URI" | "INVALID_POST_LOGOUT_REDIRECT_URI",
): string[] {
  if (uris.length < min || uris.length > REDIRECT_URIS_MAX) throw new AppError(code);
  const seen = new Set<string>();
  for (const uri of uris) {
    if (!isAcceptableRedirectUri(uri)) throw new AppError(code);
    // Duplicates are spotted as the parser normalizes them (a host's case, a default port).
    const key = new URL(uri).href;
    if (seen.has(key)) throw new AppError(code);
    seen.add(key);
  }
  return [...uris];
}

/** 1–10 acceptable redirect URIs, no two alike. */
export function redirectUris(uris: readonly string[]): string[] {
  return uriList(uris, 1, "INVALID_REDIRECT_URI");
}

/** 0–10 post-logout redirect URIs, under the redirect URIs' rules. */
export function postLogoutRedirectUris(uris: readonly string[]): string[] {
  return uriList(uris, 0, "INVALID_POST_LOGOUT_REDIRECT_URI");
}

/** Known scopes, each once, `openid` among them; returned in the registry's order. */
export function clientScopes(scopes: readonly string[]): string[] {
  const known: readonly string[] = CLIENT_SCOPES;
  const unique = new Set(scopes);
  if (unique.size !== scopes.length || !unique.has("openid") || scopes.some((scope) => !known.includes(scope))) {
    throw new AppError("INVALID_SCOPE");
  }
  return known.filter((scope) => unique.has(scope));
}
