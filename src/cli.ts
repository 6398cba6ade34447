import { parseArgs } from "node:util";
import { type Config, ConfigError, loadConfig } from "./config/config.js";
import { AppError, BadRequestError } from "./core/errors.js";
import { createArgon2Hasher } from "./core/password/hasher.js";
import { assertAcceptablePassword } from "./core/password/policy.js";
import { SigningKeys } from "./core/tokens/signing-keys.js";
import { openStore } from "./deps.js";
import { systemClock } from "./platform/clock.js";
import { secureRandom } from "./platform/random.js";
import { serve } from "./server.js";
import { EmailTakenError } from "./storage/store.js";

const USAGE = `Usage: latchkey <command>

Commands:
  serve                               Serve HTTP (what \`npm start\` runs)
  migrate                             Apply pending database migrations
  user create --email E [--password P]  Create a user; prints {"userId":N}
  user list [--email SUBSTRING] [--offset N] [--limit N]
  user delete --email E               Delete a user and everything it owns
  keys rotate                         Make a new signing key active (old keys keep verifying)

Configuration comes from LATCHKEY_* environment variables (see .env.example).`;

class UsageError extends Error {}

function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

async function withStore<T>(config: Config, work: (store: ReturnType<typeof openStore>) => Promise<T>): Promise<T> {
  const store = openStore(config);
  try {
    await store.migrate();
    return await work(store);
  } finally {
    await store.close();
  }
}

async function userCommand(config: Config, args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  const { values } = parseArgs({
    args: rest,
    options: {
      email: { type: "string" },
      password: { type: "string" },
      offset: { type: "string" },
      limit: { type: "string" },
    },
    strict: true,
  });
  if (sub === "create") {
    if (!values.email) throw new UsageError("user create needs --email");
    const email = values.email;
    if (values.password !== undefined) assertAcceptablePassword(values.password);
    const hasher = createArgon2Hasher(config.argon2);
    const passwordHash = values.password === undefined ? null : await hasher.hash(values.password);
    const userId = await withStore(config, (store) =>
      store.createUser({ email, passwordHash, createdAt: systemClock.now() }),
    );
    out(JSON.stringify({ userId }));
    return;
  }
  if (sub === "list") {
    const offset = Number(values.offset ?? 0);
    const limit = Number(values.limit ?? 50);
    if (!Number.isInteger(offset) || offset < 0 || !Number.isInteger(limit) || limit < 1 || limit > 500) {
      throw new UsageError("--offset must be ≥ 0 and --limit between 1 and 500");
    }
    const result = await withStore(config, (store) =>
      store.listUsers({ offset, limit, ...(values.email ? { emailContains: values.email } : {}) }),
    );
    for (const user of result.users) {
      out(JSON.stringify({ userId: user.id, email: user.email, createdAt: new Date(user.createdAt).toISOString() }));
    }
    out(JSON.stringify({ total: result.total }));
    return;
  }
  if (sub === "delete") {
    if (!values.email) throw new UsageError("user delete needs --email");
    const email = values.email;
    const deleted = await withStore(config, async (store) => {
      const user = await store.findUserByEmail(email);
      return user ? store.deleteUser(user.id) : false;
    });
    if (!deleted) throw new UsageError(`no user with email ${email}`);
    out(JSON.stringify({ deleted: true }));
    return;
  }
  throw new UsageError(`unknown user command: ${sub ?? "(none)"}`);
}

async function keysCommand(config: Config, args: string[]): Promise<void> {
  if (args[0] !== "rotate") throw new UsageError(`unknown keys command: ${args[0] ?? "(none)"}`);
  const kid = await withStore(config, async (store) => {
    const keys = new SigningKeys(store, systemClock, secureRandom);
    await keys.reload();
    return keys.rotate();
  });
  out(JSON.stringify({ activeKid: kid }));
}

/** Runs one command; returns the exit code. Problems are reported in one line each, without stacks. */
export async function runCli(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const [command, ...args] = argv;
  try {
    if (command === undefined || command === "help" || command === "--help") {
      out(USAGE);
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
        out(JSON.stringify({ applied }));
        return 0;
      }
      case "user":
        await userCommand(config, args);
        return 0;
      case "keys":
        await keysCommand(config, args);
        return 0;
      default:
        throw new UsageError(`unknown command: ${command}\n\n${USAGE}`);
    }
  } catch (error) {
    process.stderr.write(`latchkey: ${describe(error)}\n`);
    return error instanceof ConfigError || error instanceof UsageError ? 2 : 1;
  }
}

function describe(error: unknown): string {
  if (error instanceof ConfigError || error instanceof UsageError || error instanceof BadRequestError) {
    return error.message;
  }
  if (error instanceof AppError) return error.code;
  if (error instanceof EmailTakenError) return "a user with that email exists";
  if (error instanceof Error) {
    const code = (error as { code?: string }).code;
    return code ? `${error.message} (${code})` : error.message;
  }
  return String(error);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.exitCode = await runCli(process.argv.slice(2));
}
