import { parseArgs } from "node:util";
import { type Config, ConfigError, loadConfig } from "./config/config.js";
import { AppError, BadRequestError } from "./core/errors.js";
import {
  adminCreateUser,
  adminDeleteUser,
  adminGetUser,
  adminListUsers,
  adminResetTwoFactor,
  adminRevokeSessions,
  adminSetDisabled,
  adminUserEvents,
} from "./core/flows/admin.js";
import {
  adminClientEvents,
  adminCreateClient,
  adminDeleteClient,
  adminGetClient,
  adminListClients,
  adminRotateClientSecret,
  adminUpdateClient,
} from "./core/flows/clients.js";
import { sendInvitation } from "./core/flows/invitations.js";
import { reencryptSigningKeys, reencryptTotpSecrets } from "./core/flows/keys.js";
import type { MailOptions } from "./core/flows/mail-codes.js";
import type { RequestMeta } from "./core/request-meta.js";
import { buildDeps, createLogger, type Deps, openStore } from "./deps.js";
import { serve } from "./server.js";

const USAGE = `Usage: latchkey <command>

Commands:
  serve                                   Serve HTTP (as \`npm start\` does)
  migrate                                 Apply pending database migrations
  user create --email E [--password P]    Create a user; prints {"userId":N}
  user create --email E --invite [--origin O] [--language L]
                                          Create a user without a password and mail an invitation
  user invite --email E | --id N [--origin O] [--language L]
                                          Mail a new invitation (the previous code stops working)
  user list [--email SUBSTRING] [--offset N] [--limit N]
  user get --email E | --id N             One user with its 2FA state and session count
  user delete --email E | --id N          Delete a user and everything it owns
  user disable|enable --email E | --id N  A disabled user cannot log in, refresh or use a token
  user revoke-sessions --email E | --id N End every session of the user
  user reset-2fa --email E | --id N       Turn every 2FA method off and drop recovery codes
  user events --email E | --id N [--offset N] [--limit N]
  clients create --name N --redirect-uri U [--redirect-uri U …] [--post-logout-redirect-uri U …]
                 [--public] [--scope S …] [--first-party] [--id-token-alg RS256|EdDSA]
                                          Register an OAuth client; prints it, with a confidential
                                          client's secret: shown this once, stored only hashed
  clients list [--offset N] [--limit N]   OAuth clients, newest first
  clients get --id ID                     One OAuth client
  clients update --id ID [--name N] [--redirect-uri U …] [--post-logout-redirect-uri U …]
                 [--no-post-logout-redirect-uris] [--scope S …] [--first-party | --no-first-party]
                 [--id-token-alg RS256|EdDSA]
                                          Change a client; a list given replaces the stored one
  clients rotate-secret --id ID           A new secret for a confidential client (printed once);
                                          the old one stops working
  clients delete --id ID                  Delete an OAuth client (its audit trail stays)
  clients events --id ID [--offset N] [--limit N]
  keys rotate                             Add a signing key: published now, signing from the time printed
  keys prune                              Drop signing keys whose tokens have all expired
  keys reencrypt                          Move TOTP secrets and signing keys to the active encryption key

Configuration comes from LATCHKEY_* environment variables (see .env.example).`;

class UsageError extends Error {}

/** parseArgs's refusals (an unknown option, a missing value) are usage errors: exit code 2. */
function usage<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof Error && String((error as { code?: unknown }).code).startsWith("ERR_PARSE_ARGS_")) {
      throw new UsageError(error.message);
    }
    throw error;
  }
}

const CLI_META: RequestMeta = { ip: null, userAgent: "latchkey-cli" };

function out(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

async function withDeps<T>(config: Config, work: (deps: Deps) => Promise<T>): Promise<T> {
  // stdout carries the command's JSON answer; logs go to stderr.
  const deps = await buildDeps(config, { logger: createLogger(config, 2) });
  try {
    return await work(deps);
  } finally {
    await deps.close();
  }
}

function integer(value: string | undefined, name: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max)
    throw new UsageError(`${name} must be a whole number from ${min} to ${max}`);
  return n;
}

async function userId(deps: Deps, values: { email?: string | undefined; id?: string | undefined }): Promise<number> {
  if (values.id !== undefined) return integer(values.id, "--id", 0, 1, Number.MAX_SAFE_INTEGER);
  if (values.email === undefined) throw new UsageError("name the user with --email or --id");
  const user = await deps.store.findUserByEmail(values.email);
  if (!user) throw new AppError("USER_NOT_FOUND");
  return user.id;
}

async function userCommand(config: Config, args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  const { values } = parseArgs({
    args: rest,
    options: {
      email: { type: "string" },
      id: { type: "string" },
      password: { type: "string" },
      invite: { type: "boolean" },
      origin: { type: "string" },
      language: { type: "string" },
      offset: { type: "string" },
      limit: { type: "string" },
    },
    strict: true,
  });
  const mail = (): MailOptions => {
    // The same patterns as the mail query of the HTTP API (§1): a bad value is refused before any work.
    if (values.origin !== undefined && !/^(?!.*\.\.)[A-Za-z0-9][A-Za-z0-9._-]{0,255}$/.test(values.origin)) {
      throw new UsageError("--origin must name a mail origin (letters, digits, . _ -)");
    }
    if (values.language !== undefined && !/^[A-Za-z]{2}$/.test(values.language)) {
      throw new UsageError("--language must be a two-letter language code");
    }
    return { origin: values.origin, language: values.language };
  };
  if ((values.origin !== undefined || values.language !== undefined) && !values.invite && sub !== "invite") {
    throw new UsageError("--origin and --language go with --invite or user invite");
  }
  const page = () => ({
    offset: integer(values.offset, "--offset", 0, 0, 1_000_000_000),
    limit: integer(values.limit, "--limit", 50, 1, 500),
  });
  await withDeps(config, async (deps) => {
    const flow = deps.flow;
    switch (sub) {
      case "create": {
        if (!values.email) throw new UsageError("user create needs --email");
        if (values.invite && values.password !== undefined) {
          throw new UsageError("user create takes --password or --invite, not both");
        }
        const input = { email: values.email, password: values.password, invite: values.invite ? mail() : undefined };
        out({ userId: await adminCreateUser(flow, input, CLI_META) });
        return;
      }
      case "invite": {
        const invite = mail();
        await sendInvitation(flow, await userId(deps, values), invite, CLI_META);
        out({ invited: true });
        return;
      }
      case "list": {
        const result = await adminListUsers(flow, { email: values.email, ...page() });
        for (const user of result.users) out(user);
        out({ total: result.total });
        return;
      }
      case "get":
        out(await adminGetUser(flow, await userId(deps, values)));
        return;
      case "delete":
        await adminDeleteUser(flow, await userId(deps, values));
        out({ deleted: true });
        return;
      case "disable":
      case "enable":
        await adminSetDisabled(flow, await userId(deps, values), sub === "disable", CLI_META);
        out({ disabled: sub === "disable" });
        return;
      case "revoke-sessions":
        await adminRevokeSessions(flow, await userId(deps, values), CLI_META);
        out({ revoked: true });
        return;
      case "reset-2fa":
        await adminResetTwoFactor(flow, await userId(deps, values), CLI_META);
        out({ reset: true });
        return;
      case "events": {
        const result = await adminUserEvents(flow, await userId(deps, values), page());
        for (const event of result.events) out(event);
        out({ total: result.total });
        return;
      }
      default:
        throw new UsageError(`unknown user command: ${sub ?? "(none)"}`);
    }
  });
}

async function clientsCommand(config: Config, args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  const { values } = usage(() =>
    parseArgs({
      args: rest,
      options: {
        id: { type: "string" },
        name: { type: "string" },
        "redirect-uri": { type: "string", multiple: true },
        "post-logout-redirect-uri": { type: "string", multiple: true },
        "no-post-logout-redirect-uris": { type: "boolean" },
        scope: { type: "string", multiple: true },
        public: { type: "boolean" },
        "first-party": { type: "boolean" },
        "id-token-alg": { type: "string" },
        "no-first-party": { type: "boolean" },
        offset: { type: "string" },
        limit: { type: "string" },
      },
      strict: true,
    }),
  );
  const id = (): string => {
    if (values.id === undefined || values.id === "") throw new UsageError(`clients ${sub} needs --id`);
    return values.id;
  };
  const page = () => ({
    offset: integer(values.offset, "--offset", 0, 0, 1_000_000_000),
    limit: integer(values.limit, "--limit", 50, 1, 500),
  });
  if (values["first-party"] && values["no-first-party"]) {
    throw new UsageError("--first-party and --no-first-party cannot be used together");
  }
  if (values["no-post-logout-redirect-uris"] && values["post-logout-redirect-uri"] !== undefined) {
    throw new UsageError("--no-post-logout-redirect-uris and --post-logout-redirect-uri cannot be used together");
  }
  if (sub !== "create" && values.public) throw new UsageError("--public goes with clients create");
  if (sub !== "update" && (values["no-first-party"] || values["no-post-logout-redirect-uris"])) {
    throw new UsageError("--no-first-party and --no-post-logout-redirect-uris go with clients update");
  }
  const idTokenAlg = (): "RS256" | "EdDSA" | undefined => {
    const alg = values["id-token-alg"];
    if (alg === undefined || alg === "RS256" || alg === "EdDSA") return alg;
    throw new UsageError("--id-token-alg is RS256 or EdDSA");
  };
  await withDeps(config, async (deps) => {
    const flow = deps.flow;
    switch (sub) {
      case "create": {
        if (values.name === undefined) throw new UsageError("clients create needs --name");
        if (values["redirect-uri"] === undefined) throw new UsageError("clients create needs --redirect-uri");
        const input = {
          name: values.name,
          type: values.public ? ("public" as const) : ("confidential" as const),
          redirectUris: values["redirect-uri"],
          postLogoutRedirectUris: values["post-logout-redirect-uri"],
          scopes: values.scope,
          firstParty: values["first-party"] ?? false,
          idTokenSigningAlg: idTokenAlg(),
        };
        out(await adminCreateClient(flow, input, CLI_META));
        return;
      }
      case "list": {
        const result = await adminListClients(flow, page());
        for (const client of result.clients) out(client);
        out({ total: result.total });
        return;
      }
      case "get":
        out(await adminGetClient(flow, id()));
        return;
      case "update": {
        const firstParty = values["first-party"] ? true : values["no-first-party"] ? false : undefined;
        const input = {
          name: values.name,
          redirectUris: values["redirect-uri"],
          postLogoutRedirectUris: values["no-post-logout-redirect-uris"] ? [] : values["post-logout-redirect-uri"],
          scopes: values.scope,
          firstParty,
          idTokenSigningAlg: idTokenAlg(),
        };
        out(await adminUpdateClient(flow, id(), input, CLI_META));
        return;
      }
      case "rotate-secret":
        out(await adminRotateClientSecret(flow, id(), CLI_META));
        return;
      case "delete":
        await adminDeleteClient(flow, id(), CLI_META);
        out({ deleted: true });
        return;
      case "events": {
        const result = await adminClientEvents(flow, id(), page());
        for (const event of result.events) out(event);
        out({ total: result.total });
        return;
      }
      default:
        throw new UsageError(`unknown clients command: ${sub ?? "(none)"}`);
    }
  });
}

async function keysCommand(config: Config, args: string[]): Promise<void> {
  await withDeps(config, async (deps) => {
    if (args[0] === "rotate") {
      const { kid, activatesAt } = await deps.keys.rotate();
      // Published at once (every node reloads within LATCHKEY_KEY_RELOAD_SECONDS, 30 s at most); signing from activatesAt.
      out({ kid, activatesAt: new Date(activatesAt).toISOString() });
    } else if (args[0] === "prune") {
      const { refreshTtlSeconds, accessTtlSeconds, sudoTtlSeconds, partialTtlSeconds } = config.tokens;
      const longest = Math.max(refreshTtlSeconds, accessTtlSeconds, sudoTtlSeconds, partialTtlSeconds);
      out({ pruned: await deps.keys.prune(longest) });
    } else if (args[0] === "reencrypt") {
      out({ totpSecrets: await reencryptTotpSecrets(deps.flow), signingKeys: await reencryptSigningKeys(deps.flow) });
    } else {
      throw new UsageError(`unknown keys command: ${args[0] ?? "(none)"}`);
    }
  });
}

/** Runs one command; returns the exit code. Problems are reported in one line each, without stacks. */
export async function runCli(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const [command, ...args] = argv;
  try {
    if (command === undefined || command === "help" || command === "--help") {
      process.stdout.write(`${USAGE}\n`);
      return command === undefined ? 1 : 0;
    }
    const config = loadConfig(env);
    switch (command) {
      case "serve":
        await serve(config);
        return 0;
      case "migrate": {
        const store = openStore(config);
        const applied = await store.migrate().finally(() => store.close());
        out({ applied });
        return 0;
      }
      case "user":
        await userCommand(config, args);
        return 0;
      case "clients":
        await clientsCommand(config, args);
        return 0;
      case "keys":
        await keysCommand(config, args);
        return 0;
      default:
        throw new UsageError(`unknown command: ${command}\n\n${USAGE}`);
    }
  } catch (error) {
    return reportFailure(error);
  }
}

/**
 * Writes why a command (or the server's start) failed, in one line without a stack, and returns the
 * exit code: 2 for a refusal (bad configuration or usage, a refused request), 1 for a fault.
 */
export function reportFailure(error: unknown): number {
  process.stderr.write(`latchkey: ${describe(error)}\n`);
  const refused = error instanceof AppError || error instanceof BadRequestError;
  return error instanceof ConfigError || error instanceof UsageError || refused ? 2 : 1;
}

function describe(error: unknown): string {
  if (error instanceof ConfigError || error instanceof UsageError || error instanceof BadRequestError) {
    return error.message;
  }
  if (error instanceof AppError) return error.code;
  if (error instanceof Error) {
    const code = (error as { code?: string }).code;
    return code ? `${error.message} (${code})` : error.message;
  }
  return String(error);
}

// Run as a script from the sources (`npm run latchkey:dev`); bin/latchkey.js imports the build instead.
if (import.meta.url === `file://${process.argv[1]}`) {
  process.exitCode = await runCli(process.argv.slice(2));
}
