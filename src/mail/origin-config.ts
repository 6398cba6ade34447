import { type Static, Type } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { isSingleAddress } from "../core/mail/single-address.js";
import { hasControlChar } from "./address.js";

/** The shape of `<mailDir>/<origin>/origin.json`. Unknown keys are refused so a typo does not go unnoticed. */
export const OriginFileSchema = Type.Object(
  {
    from: Type.String({ minLength: 3, maxLength: 254 }),
    fromName: Type.String({ minLength: 1, maxLength: 100 }),
    defaultLanguage: Type.String({ pattern: "^[A-Za-z]{2}$" }),
    resetUrl: Type.Optional(Type.String({ minLength: 1, maxLength: 2000 })),
    smtpUrl: Type.Optional(Type.String({ minLength: 1, maxLength: 2000 })),
    totpIssuer: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  },
  { additionalProperties: false },
);

export type OriginFile = Static<typeof OriginFileSchema>;

export interface OriginConfig {
  from: string;
  fromName: string;
  defaultLanguage: string;
  resetUrl: string | undefined;
  smtpUrl: string | undefined;
  totpIssuer: string | undefined;
}

/** Throws unless `url` is an smtp:// or smtps:// URL. `label` names where it came from. */
export function assertSmtpUrl(url: string, label: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error(`${label}: smtpUrl is not a valid URL`);
  }
  if (parsed.protocol !== "smtp:" && parsed.protocol !== "smtps:") {
    throw new Error(`${label}: smtpUrl must use smtp:// or smtps://`);
  }
}

/** Substitutes URL-encoded email and code into a resetUrl pattern ({{email}}, {{code}}). */
export function buildResetLink(pattern: string, email: string, code: string): string {
  return pattern.replaceAll("{{email}}", encodeURIComponent(email)).replaceAll("{{code}}", encodeURIComponent(code));
}

/** Validates the parsed JSON of an origin.json; every error message names `file`. */
export function parseOriginConfig(json: unknown, file: string): OriginConfig {
  if (!Value.Check(OriginFileSchema, json)) {
    const first = Value.Errors(OriginFileSchema, json).First();
    const where = first?.path ? ` at ${first.path}` : "";
    throw new Error(`Invalid mail origin file ${file}: ${first?.message ?? "wrong shape"}${where}`);
  }
  if (!isSingleAddress(json.from)) {
    throw new Error(`Invalid mail origin file ${file}: "from" must be a single bare address`);
  }
  for (const key of ["fromName", "totpIssuer"] as const) {
    const value = json[key];
    if (value !== undefined && hasControlChar(value)) {
      throw new Error(`Invalid mail origin file ${file}: "${key}" must not contain control characters`);
    }
  }
  if (json.resetUrl !== undefined) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(buildResetLink(json.resetUrl, "user@example.com", "000000"));
    } catch {
      parsed = undefined;
    }
    if (parsed === undefined || (parsed.protocol !== "https:" && parsed.protocol !== "http:")) {
      throw new Error(`Invalid mail origin file ${file}: "resetUrl" must be an http(s) URL`);
    }
  }
  if (json.smtpUrl !== undefined) assertSmtpUrl(json.smtpUrl, `Invalid mail origin file ${file}`);
  return {
    from: json.from,
    fromName: json.fromName,
    defaultLanguage: json.defaultLanguage.toLowerCase(),
    resetUrl: json.resetUrl,
    smtpUrl: json.smtpUrl,
    totpIssuer: json.totpIssuer,
  };
}
