import { MIN_ARGON2_PARAMS } from "../core/password/hasher.js";
import { parseTrustProxy, type TrustProxy } from "./trust-proxy.js";

/**
 * Configuration comes from environment variables only, validated all at once: every problem is
 * reported together so an operator fixes a broken deployment in one pass. `.env.example` lists them.
 */
export interface Config {
  host: string;
  port: number;
  databaseUrl: string;
  /** PostgreSQL: keep session statuses on the database's revocation notices (LATCHKEY_SESSION_CACHE). */
  sessionCache: boolean;
  /** How often a node reads the signing keys again (LATCHKEY_KEY_RELOAD_SECONDS, at most 30). */
  keyReloadSeconds: number;
  issuer: string;
  dataDir: string;
  logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
  /** One line per answered request, at info (LATCHKEY_ACCESS_LOG, off by default). */
  accessLog: boolean;
  tokens: {
    refreshTtlSeconds: number;
    accessTtlSeconds: number;
    sudoTtlSeconds: number;
    partialTtlSeconds: number;
    refreshGraceSeconds: number;
  };
  throttle: { freeFailures: number; maxWaitSeconds: number };
  argon2: { memoryKib: number; iterations: number; parallelism: number };
  /** `kid:base64key,…`; undefined → a key file under dataDir is used (created on first start). */
  encryptionKeys: string | undefined;
  totpIssuer: string | undefined;
  mail: { dir: string | undefined; smtpUrl: string | undefined; outboxDir: string };
  codes: { ttlSeconds: number; maxTries: number; resendSeconds: number; invitationTtlSeconds: number };
  /** Bearer token of the admin API; undefined → the admin API is off. */
  adminToken: string | undefined;
  /** Origins allowed by CORS; empty → no CORS headers. */
  corsOrigins: string[];
  /** Redis for the per-IP limit shared across nodes; undefined → kept in memory. */
  redisUrl: string | undefined;
  rateLimit: { perMinute: number };
  /** The listener of GET /metrics, apart from the API's (§4); undefined → no metrics listener. */
  metrics: { host: string; port: number } | undefined;
  /** How far X-Forwarded-For is believed for the client address: no hop, a hop count, or the proxies. */
  trustProxy: TrustProxy;
  /**
   * The OpenID provider (/oidc/…, discovery, "Sign in with Latchkey"): needs the hosted pages, which
   * are its sign-in and consent screens. `enabled` false → /oidc answers 404.
   */
  oidc: { enabled: boolean };
  /** The hosted pages (/login, /account …); `enabled` false → those paths answer 404. */
  pages: {
    enabled: boolean;
    /** Where a finished sign-in may send the browser: absolute URLs, matched exactly. */
    returnUrls: string[];
  };
  /** Who may make an account with POST /user/signup and /signup (LATCHKEY_SIGNUP); off by default. */
  signup: SignupPolicy;
  /** The WebAuthn relying party; undefined → no passkeys (the issuer's host is an address that is not loopback). */
  passkeys: PasskeySettings | undefined;
}

/** The WebAuthn relying party (LATCHKEY_PASSKEY_*): what browsers bind a passkey to. */
export interface PasskeySettings {
  rpId: string;
  rpName: string;
  /** Exact origins a passkey ceremony may come from. */
  origins: readonly string[];
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

type Env = Readonly<Record<string, string | undefined>>;

class Reader {
  readonly problems: string[] = [];
  constructor(private readonly env: Env) {}

  string(name: string, fallback: string): string {
    const value = this.env[name];
    if (value === undefined || value === "") return fallback;
    return value;
  }

  optional(name: string): string | undefined {
    const value = this.env[name];
    return value === undefined || value === "" ? undefined : value;
  }

  int(name: string, fallback: number, min: number, max: number): number {
    const raw = this.env[name];
    if (raw === undefined || raw === "") return fallback;
    if (!/^\d+$/.test(raw.trim())) {
      this.problems.push(`${name} must be a whole number, got "${raw}"`);
      return fallback;
    }
    const value = Number(raw.trim());
    if (value < min || value > max) {
      this.problems.push(`${name} must be between ${min} and ${max}, got ${value}`);
    }
    return value;
  }

  oneOf<T extends string>(name: string, fallback: T, allowed: readonly T[]): T {
    const raw = this.string(name, fallback);
    if (!(allowed as readonly string[]).includes(raw)) {
      this.problems.push(`${name} must be one of ${allowed.join(", ")}, got "${raw}"`);
      return fallback;
    }
    return raw as T;
  }

  url(name: string, fallback: string | undefined, protocols: readonly string[]): string | undefined {
    const raw = this.optional(name) ?? fallback;
    if (raw === undefined) return undefined;
    if (raw.startsWith("sqlite:") && protocols.includes("sqlite:")) return raw;
    try {
      const parsed = new URL(raw);
      if (!protocols.includes(parsed.protocol)) {
        this.problems.push(`${name} must use one of ${protocols.join(" ")}, got "${parsed.protocol}"`);
      }
    } catch {
      this.problems.push(`${name} is not a valid URL`);
    }
    return raw;
  }
}

const DAY_SECONDS = 86_400;

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "[::1]", "localhost"]);

function isIpLiteral(host: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || host.startsWith("[");
}

/**
 * LATCHKEY_PASSKEY_RP_ID (default: the issuer's host name; `localhost` for a loopback issuer, since
 * browsers take no IP address as RP id), LATCHKEY_PASSKEY_ORIGINS (default: the issuer's origin, and
 * its `localhost` twin for a loopback issuer) and LATCHKEY_PASSKEY_RP_NAME. Without a setting and with
 * an issuer at an address that is not loopback there is no RP id: passkeys are off.
 */
function passkeySettings(r: Reader, config: Config): PasskeySettings | undefined {
  let issuer: URL;
  try {
    issuer = new URL(config.issuer);
  } catch {
    return undefined; // reported by the issuer's own check
  }
  const loopback = LOOPBACK_HOSTS.has(issuer.hostname);
  const configuredId = r.optional("LATCHKEY_PASSKEY_RP_ID")?.trim().toLowerCase();
  if (configuredId !== undefined && (isIpLiteral(configuredId) || !/^[a-z0-9.-]+$/.test(configuredId))) {
    r.problems.push(`LATCHKEY_PASSKEY_RP_ID must be a domain name (e.g. example.com), got "${configuredId}"`);
    return undefined;
  }
  const rpId = configuredId ?? (loopback ? "localhost" : issuer.hostname);
  if (isIpLiteral(rpId)) return undefined;
  const defaults = [issuer.origin];
  if (loopback && configuredId === undefined && issuer.hostname !== "localhost") {
    defaults.push(`${issuer.protocol}//localhost${issuer.port ? `:${issuer.port}` : ""}`);
  }
  const listed = (r.optional("LATCHKEY_PASSKEY_ORIGINS") ?? "")
    .split(",")
    .map((o) => o.trim())
    .filter((o) => o !== "");
  const origins =
    listed.length > 0
      ? listed
      : defaults.filter((o) => new URL(o).hostname === rpId || new URL(o).hostname.endsWith(`.${rpId}`));
  for (const origin of listed) {
    let host: string | undefined;
    try {
      const parsed = new URL(origin);
      if (parsed.origin === origin && (parsed.protocol === "https:" || parsed.protocol === "http:"))
        host = parsed.hostname;
    } catch {
      host = undefined;
    }
    if (host === undefined) {
      r.problems.push(`LATCHKEY_PASSKEY_ORIGINS entry "${origin}" must be an origin like https://login.example.com`);
    } else if (host !== rpId && !host.endsWith(`.${rpId}`)) {
      r.problems.push(`LATCHKEY_PASSKEY_ORIGINS entry "${origin}" is not on the RP id ${rpId} or a subdomain of it`);
    }
  }
  if (origins.length === 0) {
    r.problems.push(`LATCHKEY_PASSKEY_ORIGINS must list the origins passkeys are used from (on ${rpId})`);
  }
  return { rpId, rpName: r.optional("LATCHKEY_PASSKEY_RP_NAME") ?? config.totpIssuer ?? "Latchkey", origins };
}

/** LATCHKEY_METRICS_HOST and _PORT (`off`: none), so that no counter is served to the public. */
function metricsListener(r: Reader, env: Env, apiPort: number): Config["metrics"] {
  const raw = env.LATCHKEY_METRICS_PORT?.trim();
  if (raw === "off") return undefined;
  if (raw && !/^\d+$/.test(raw)) {
    r.problems.push(`LATCHKEY_METRICS_PORT must be a whole number or off, got "${raw}"`);
    return undefined;
  }
  const port = r.int("LATCHKEY_METRICS_PORT", 9464, 0, 65_535);
  if (port !== 0 && port === apiPort) r.problems.push("LATCHKEY_METRICS_PORT must differ from LATCHKEY_PORT");
  return { host: r.string("LATCHKEY_METRICS_HOST", "127.0.0.1"), port };
}

/**
 * LATCHKEY_OIDC: on (the default) or off. The provider signs its users in on the hosted pages, so
 * with LATCHKEY_PAGES=off it is off, and asking for it on then stops the start.
 */
function oidcSettings(r: Reader, pagesEnabled: boolean): Config["oidc"] {
  const asked = r.optional("LATCHKEY_OIDC");
  const on = r.oneOf("LATCHKEY_OIDC", "on", ["on", "off"]) === "on";
  if (on && !pagesEnabled && asked !== undefined) {
    r.problems.push("LATCHKEY_OIDC=on needs LATCHKEY_PAGES=on: the provider signs people in on the hosted pages");
  }
  return { enabled: on && pagesEnabled };
}

/**
 * LATCHKEY_RETURN_URLS: the comma-separated absolute http(s) URLs a sign-in on the hosted pages may
 * return to. A return URL is used only when it equals one of them exactly (no prefix or pattern), so
 * the pages can never be made to redirect elsewhere.
 */
function returnUrls(r: Reader): string[] {
  const entries = (r.optional("LATCHKEY_RETURN_URLS") ?? "")
    .split(",")
    .map((entry) => entry.trim())
    .filter((entry) => entry !== "");
  for (const entry of entries) {
    let parsed: URL | undefined;
    try {
      parsed = new URL(entry);
    } catch {
      parsed = undefined;
    }
    const fine =
      parsed !== undefined &&
      (parsed.protocol === "https:" || parsed.protocol === "http:") &&
      parsed.username === "" &&
      parsed.password === "" &&
      parsed.hash === "" &&
      parsed.href === entry;
    if (!fine) {
      r.problems.push(
        `LATCHKEY_RETURN_URLS entry "${entry}" must be an absolute http(s) URL written in full (e.g. https://app.example.com/), without credentials or #fragment`,
      );
    }
  }
  return entries;
}

/** Who may sign up; the flows' settings take it as it is (core's SignupPolicy). */
export type SignupPolicy = { mode: "off" } | { mode: "open" } | { mode: "domains"; domains: readonly string[] };

/** A domain name as DNS writes it: two or more labels of letters, digits and inner hyphens. */
const DOMAIN_NAME = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * LATCHKEY_SIGNUP: `off` (the default), `open`, or `domains:<comma-separated domain names>`
 * (addresses of exactly those domains; a subdomain must be listed itself).
 */
function signupPolicy(r: Reader): SignupPolicy {
  const raw = (r.optional("LATCHKEY_SIGNUP") ?? "off").trim();
  if (raw === "off") return { mode: "off" };
  if (raw === "open") return { mode: "open" };
  if (raw.startsWith("domains:")) {
    const domains = raw
      .slice("domains:".length)
      .split(",")
      .map((entry) => entry.trim().toLowerCase().replace(/\.$/, ""));
    const bad = domains.filter((domain) => !DOMAIN_NAME.test(domain));
    if (domains.every((domain) => domain === "")) {
      r.problems.push("LATCHKEY_SIGNUP=domains: must list at least one domain name (e.g. domains:example.com)");
    } else if (bad.length > 0) {
      r.problems.push(
        `LATCHKEY_SIGNUP lists ${bad.map((domain) => `"${domain}"`).join(", ")}, which ${bad.length === 1 ? "is not a domain name" : "are not domain names"} (e.g. domains:example.com,example.org)`,
      );
    } else {
      return { mode: "domains", domains: [...new Set(domains)] };
    }
    return { mode: "off" };
  }
  r.problems.push(`LATCHKEY_SIGNUP must be off, open or domains:<comma-separated domain names>, got "${raw}"`);
  return { mode: "off" };
}

/**
 * A rotated key signs only once every node has had time to load it, a delay reckoned on this longest
 * interval (KEY_RELOAD_INTERVAL_MS in core/tokens): a node may read the keys more often, never less.
 */
export const MAX_KEY_RELOAD_SECONDS = 30;

export function loadConfig(env: Env): Config {
  const r = new Reader(env);
  const port = r.int("LATCHKEY_PORT", 8080, 0, 65_535);
  const host = r.string("LATCHKEY_HOST", "127.0.0.1");
  const dataDir = r.string("LATCHKEY_DATA_DIR", "./data");
  const config: Config = {
    host,
    port,
    dataDir,
    databaseUrl:
      r.url("LATCHKEY_DATABASE_URL", `sqlite:${dataDir}/latchkey.db`, ["sqlite:", "postgres:", "postgresql:"]) ?? "",
    sessionCache: r.oneOf("LATCHKEY_SESSION_CACHE", "on", ["on", "off"]) === "on",
    keyReloadSeconds: r.int("LATCHKEY_KEY_RELOAD_SECONDS", MAX_KEY_RELOAD_SECONDS, 1, MAX_KEY_RELOAD_SECONDS),
    issuer: r.url("LATCHKEY_ISSUER", `http://127.0.0.1:${port}`, ["http:", "https:"]) ?? "",
    logLevel: r.oneOf("LATCHKEY_LOG_LEVEL", "info", ["fatal", "error", "warn", "info", "debug", "trace", "silent"]),
    accessLog: r.oneOf("LATCHKEY_ACCESS_LOG", "off", ["on", "off"]) === "on",
    tokens: {
      refreshTtlSeconds: r.int("LATCHKEY_REFRESH_TOKEN_TTL_SECONDS", 14 * DAY_SECONDS, 60, 365 * DAY_SECONDS),
      accessTtlSeconds: r.int("LATCHKEY_ACCESS_TOKEN_TTL_SECONDS", 300, 10, DAY_SECONDS),
      sudoTtlSeconds: r.int("LATCHKEY_SUDO_TOKEN_TTL_SECONDS", 300, 10, DAY_SECONDS),
      partialTtlSeconds: r.int("LATCHKEY_PARTIAL_TOKEN_TTL_SECONDS", 600, 10, DAY_SECONDS),
      refreshGraceSeconds: r.int("LATCHKEY_REFRESH_GRACE_SECONDS", 10, 0, 300),
    },
    throttle: {
      freeFailures: r.int("LATCHKEY_THROTTLE_FREE_FAILURES", 5, 1, 1000),
      maxWaitSeconds: r.int("LATCHKEY_THROTTLE_MAX_WAIT_SECONDS", 3600, 1, 7 * DAY_SECONDS),
    },
    argon2: {
      memoryKib: r.int(
        "LATCHKEY_ARGON2_MEMORY_KIB",
        MIN_ARGON2_PARAMS.memoryKib,
        MIN_ARGON2_PARAMS.memoryKib,
        4_194_304,
      ),
      iterations: r.int("LATCHKEY_ARGON2_ITERATIONS", MIN_ARGON2_PARAMS.iterations, MIN_ARGON2_PARAMS.iterations, 100),
      parallelism: r.int("LATCHKEY_ARGON2_PARALLELISM", MIN_ARGON2_PARAMS.parallelism, 1, 64),
    },
    encryptionKeys: r.optional("LATCHKEY_ENCRYPTION_KEYS"),
    totpIssuer: r.optional("LATCHKEY_TOTP_ISSUER"),
    mail: {
      dir: r.optional("LATCHKEY_MAIL_DIR"),
      smtpUrl: r.url("LATCHKEY_SMTP_URL", undefined, ["smtp:", "smtps:"]),
      outboxDir: r.string("LATCHKEY_OUTBOX_DIR", `${dataDir}/outbox`),
    },
    codes: {
      ttlSeconds: r.int("LATCHKEY_CODE_TTL_SECONDS", 600, 60, DAY_SECONDS),
      maxTries: r.int("LATCHKEY_CODE_MAX_TRIES", 5, 1, 100),
      resendSeconds: r.int("LATCHKEY_MAIL_RESEND_SECONDS", 60, 0, DAY_SECONDS),
      invitationTtlSeconds: r.int("LATCHKEY_INVITATION_TTL_SECONDS", 7 * DAY_SECONDS, 3600, 30 * DAY_SECONDS),
    },
    adminToken: undefined,
    corsOrigins: [],
    redisUrl: undefined,
    rateLimit: { perMinute: 300 },
    trustProxy: false,
    metrics: undefined,
    pages: { enabled: r.oneOf("LATCHKEY_PAGES", "on", ["on", "off"]) === "on", returnUrls: [] },
    signup: { mode: "off" },
    passkeys: undefined,
    oidc: { enabled: false },
  };
  // Authenticator apps split the otpauth label at the first colon (Key Uri Format).
  if (config.totpIssuer?.includes(":")) r.problems.push("LATCHKEY_TOTP_ISSUER must not contain a colon");
  const adminToken = r.optional("LATCHKEY_ADMIN_TOKEN");
  if (adminToken !== undefined && adminToken.length < 32) {
    r.problems.push("LATCHKEY_ADMIN_TOKEN must be at least 32 characters long");
  }
  config.adminToken = adminToken;
  config.corsOrigins = (r.optional("LATCHKEY_CORS_ORIGINS") ?? "")
    .split(",")
    .map((o) => o.trim())
    .filter((o) => o !== "");
  for (const origin of config.corsOrigins) {
    // Credentials are allowed, so `*` would let any site read answers made with the user's cookies.
    if (origin === "*") {
      r.problems.push('LATCHKEY_CORS_ORIGINS must list each allowed origin (e.g. https://app.example.com), not "*"');
    } else if (!/^https?:\/\/[^/\s]+$/.test(origin)) {
      r.problems.push(`LATCHKEY_CORS_ORIGINS entry "${origin}" must be an origin like https://app.example.com`);
    }
  }
  config.redisUrl = r.url("LATCHKEY_REDIS_URL", undefined, ["redis:", "rediss:"]);
  config.rateLimit = { perMinute: r.int("LATCHKEY_RATE_LIMIT_PER_MINUTE", 300, 1, 1_000_000) };
  config.trustProxy = parseTrustProxy(env.LATCHKEY_TRUST_PROXY, r.problems);
  config.metrics = metricsListener(r, env, port);
  config.pages.returnUrls = returnUrls(r);
  config.signup = signupPolicy(r);
  config.passkeys = passkeySettings(r, config);
  config.oidc = oidcSettings(r, config.pages.enabled);
  if (r.problems.length > 0) throw new ConfigError(r.problems);
  return config;
}
