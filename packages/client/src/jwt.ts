/** The claims the client reads from a token's payload. Nothing is verified: that is the server's job. */
export interface TokenClaims {
  typ?: string;
  exp?: number;
  iat?: number;
  sub?: string;
  sid?: string;
}

function base64UrlDecode(part: string): string {
  const base64 = part.replace(/-/g, "+").replace(/_/g, "/");
  const padded = base64 + "=".repeat((4 - (base64.length % 4)) % 4);
  const binary = atob(padded);
  const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
  return new TextDecoder().decode(bytes);
}

/** The payload of a compact JWT, or undefined when `token` is not one. */
export function decodeClaims(token: string): TokenClaims | undefined {
  const parts = token.split(".");
  if (parts.length !== 3 || !parts[1]) return undefined;
  try {
    const payload: unknown = JSON.parse(base64UrlDecode(parts[1]));
    if (typeof payload !== "object" || payload === null || Array.isArray(payload)) return undefined;
    return payload as TokenClaims;
  } catch {
    return undefined;
  }
}
