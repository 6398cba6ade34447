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
    inviteUrl: Type.Optional(Type.String({ minLength: 1, maxLength: 2000 })),
    smtpUrl: Type.Optional(Type.String({ minLength: 1, maxLength: 2000 })),
    totpIssuer: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    brand: Type.Optional(
      Type.Object(
        {
          name: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
          logoUrl: Type.Optional(Type.String({ minLength: 1, maxLength: 2000 })),
          accentColor: Type.Optional(Type.String({ pattern: "^#[0-9A-Fa-f]{6}$" })),
          backgroundColor: Type.Optional(Type.String({ pattern: "^#[0-9A-Fa-f]{6}$" })),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

/** How the hosted pages of an origin look: its name, logo and two colours. */
export interface Brand {
  name: string;
  logoUrl: string | undefined;
  /** Buttons and links; white text is drawn on it. */
  accentColor: string;
  /** The page behind the card; dark text is drawn on it. */
  backgroundColor: string;
}

const DEFAULT_ACCENT = "#1f5fbf";
const DEFAULT_BACKGROUND = "#f3f5f8";
/** The text colour of the pages, drawn on the background colour. */
export const PAGE_TEXT_COLOR = "#16181d";

/** WCAG 2.x relative luminance of a #rrggbb colour. */
function luminance(hex: string): number {
  const channel = (offset: number) => {
    const value = Number.parseInt(hex.slice(offset, offset + 2), 16) / 255;
    return value <= 0.04045 ? value / 12.92 : ((value + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5);
}

/** WCAG 2.x contrast ratio of two #rrggbb colours (1 to 21). */
export function contrastRatio(a: string, b: string): number {
  const [light, dark] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number];
  return (light + 0.05) / (dark + 0.05);
}

export type OriginFile = Static<typeof OriginFileSchema>;

export interface OriginConfig {
  from: string;
  fromName: string;
  defaultLanguage: string;
  resetUrl: string | undefined;
  inviteUrl: string | undefined;
  smtpUrl: string | undefined;
  totpIssuer: string | undefined;
  brand: Brand;
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

/** Substitutes URL-encoded email and code into a resetUrl or inviteUrl pattern ({{email}}, {{code}}). */
export function buildResetLink(pattern: string, email: string, code: string): string {
  return pattern.replaceAll("{{email}}", encodeURIComponent(email)).replaceAll("{{code}}", encodeURIComponent(code));
}

/**
 * The origin's look on the hosted pages. The logo must be an https URL (or http for a local one), and
 * both colours must keep the text readable: 4.5:1 or more (WCAG AA) for white on the accent colour
 * and for the page text on the background colour.
 */
function parseBrand(json: OriginFile, file: string): Brand {
  const brand = json.brand ?? {};
  if (brand.name !== undefined && hasControlChar(brand.name)) {
    throw new Error(`Invalid mail origin file ${file}: "brand.name" must not contain control characters`);
  }
  if (brand.logoUrl !== undefined) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(brand.logoUrl);
    } catch {
      parsed = undefined;
    }
    if (parsed === undefined || (parsed.protocol !== "https:" && parsed.protocol !== "http:")) {
      throw new Error(`Invalid mail origin file ${file}: "brand.logoUrl" must be an http(s) URL`);
    }
  }
  const accentColor = (brand.accentColor ?? DEFAULT_ACCENT).toLowerCase();
  const backgroundColor = (brand.backgroundColor ?? DEFAULT_BACKGROUND).toLowerCase();
  if (contrastRatio(accentColor, "#ffffff") < 4.5) {
    throw new Error(`Invalid mail origin file ${file}: "brand.accentColor" is too light for white text (below 4.5:1)`);
  }
  if (contrastRatio(backgroundColor, PAGE_TEXT_COLOR) < 4.5) {
    throw new Error(`Invalid mail origin file ${file}: "brand.backgroundColor" is too dark for the text (below 4.5:1)`);
  }
  return { name: brand.name ?? json.fromName, logoUrl: brand.logoUrl, accentColor, backgroundColor };
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
  for (const key of ["resetUrl", "inviteUrl"] as const) {
    const pattern = json[key];
    if (pattern === undefined) continue;
    let parsed: URL | undefined;
    try {
      parsed = new URL(buildResetLink(pattern, "user@example.com", "000000"));
    } catch {
      parsed = undefined;
    }
    if (parsed === undefined || (parsed.protocol !== "https:" && parsed.protocol !== "http:")) {
      throw new Error(`Invalid mail origin file ${file}: "${key}" must be an http(s) URL`);
    }
  }
  if (json.smtpUrl !== undefined) assertSmtpUrl(json.smtpUrl, `Invalid mail origin file ${file}`);
  const brand = parseBrand(json, file);
  return {
    brand,
    from: json.from,
    fromName: json.fromName,
    defaultLanguage: json.defaultLanguage.toLowerCase(),
    resetUrl: json.resetUrl,
    inviteUrl: json.inviteUrl,
    smtpUrl: json.smtpUrl,
    totpIssuer: json.totpIssuer,
  };
}
