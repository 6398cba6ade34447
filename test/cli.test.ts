import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { runCli } from "../src/cli.js";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const run = promisify(execFile);

describe("latchkey command line", () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;
  let stdout: string[];
  let stderr: string[];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "latchkey-cli-"));
    env = { LATCHKEY_DATA_DIR: dir, LATCHKEY_ENCRYPTION_KEYS: `k1:${Buffer.alloc(32, 1).toString("base64")}` };
    stdout = [];
    stderr = [];
    vi.spyOn(process.stdout, "write").mockImplementation((chunk) => {
      stdout.push(String(chunk));
      return true;
    });
    vi.spyOn(process.stderr, "write").mockImplementation((chunk) => {
      stderr.push(String(chunk));
      return true;
    });
  });
  afterEach(() => {
    vi.restoreAllMocks();
    rmSync(dir, { recursive: true, force: true });
  });

  const lastLine = () => JSON.parse(stdout.join("").trim().split("\n").at(-1) ?? "null");

  it("migrates, creates, lists and deletes users", async () => {
    expect(await runCli(["migrate"], env)).toBe(0);
    expect(lastLine().applied.length).toBeGreaterThan(0);
    expect(await runCli(["user", "create", "--email", "alice@example.com", "--password", "Correct7Horse"], env)).toBe(
      0,
    );
    expect(lastLine()).toEqual({ userId: 1 });
    expect(await runCli(["user", "create", "--email", "bob@example.com"], env)).toBe(0);
    expect(lastLine()).toEqual({ userId: 2 });
    stdout.length = 0;
    expect(await runCli(["user", "list", "--email", "alice"], env)).toBe(0);
    expect(stdout.join("")).toContain('"email":"alice@example.com"');
    expect(lastLine()).toEqual({ total: 1 });
    expect(await runCli(["user", "delete", "--email", "ALICE@example.com"], env)).toBe(0);
    expect(await runCli(["user", "delete", "--email", "alice@example.com"], env)).toBe(2);
  });

  it("refuses a duplicate user and a weak password, with one line and no stack", async () => {
    expect(await runCli(["user", "create", "--email", "a@example.com"], env)).toBe(0);
    expect(await runCli(["user", "create", "--email", "A@example.com"], env)).toBe(2);
    expect(await runCli(["user", "create", "--email", "b@example.com", "--password", "Password1"], env)).toBe(2);
    expect(stderr.join("")).toContain("EMAIL_ALREADY_IN_USE");
    expect(stderr.join("")).toContain("PASSWORD_TOO_COMMON");
    expect(stderr.join("")).not.toMatch(/\n\s+at /);
  });

  it("reports every configuration problem at once and exits non-zero without a stack", async () => {
    const code = await runCli(["migrate"], { ...env, LATCHKEY_PORT: "x", LATCHKEY_ACCESS_TOKEN_TTL_SECONDS: "-1" });
    expect(code).toBe(2);
    const text = stderr.join("");
    expect(text).toContain("LATCHKEY_PORT");
    expect(text).toContain("LATCHKEY_ACCESS_TOKEN_TTL_SECONDS");
    expect(text).not.toMatch(/\n\s+at /);
  });

  it("refuses to serve with LATCHKEY_TRUST_PROXY=true or LATCHKEY_CORS_ORIGINS=*, before opening anything", async () => {
    const code = await runCli(["serve"], { ...env, LATCHKEY_TRUST_PROXY: "true", LATCHKEY_CORS_ORIGINS: "*" });
    expect(code).toBe(2);
    const text = stderr.join("");
    expect(text).toContain("LATCHKEY_TRUST_PROXY=true");
    expect(text).toContain("LATCHKEY_CORS_ORIGINS");
    expect(text).not.toMatch(/\n\s+at /);
    expect(readdirSync(dir)).toEqual([]);
  });

  it("disables, inspects, revokes, resets and reads the audit trail of a user", async () => {
    expect(await runCli(["user", "create", "--email", "alice@example.com", "--password", "Correct7Horse"], env)).toBe(
      0,
    );
    expect(await runCli(["user", "disable", "--email", "alice@example.com"], env)).toBe(0);
    expect(await runCli(["user", "get", "--id", "1"], env)).toBe(0);
    expect(lastLine()).toMatchObject({ userId: 1, email: "alice@example.com", disabled: true, sessions: 0 });
    expect(await runCli(["user", "enable", "--id", "1"], env)).toBe(0);
    expect(await runCli(["user", "revoke-sessions", "--id", "1"], env)).toBe(0);
    expect(await runCli(["user", "reset-2fa", "--id", "1"], env)).toBe(0);
    stdout.length = 0;
    expect(await runCli(["user", "events", "--email", "alice@example.com", "--limit", "10"], env)).toBe(0);
    const types = stdout
      .join("")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line).type)
      .filter(Boolean);
    expect(types).toEqual(["2fa.disabled", "session.revoked", "user.enabled", "user.disabled", "user.created"]);
    expect(lastLine()).toEqual({ total: 5 });
    expect(await runCli(["user", "get", "--id", "99"], env)).toBe(2);
    expect(stderr.join("")).toContain("USER_NOT_FOUND");
  });

  it("invites a user (the mail in the outbox, in the language asked for), resends, and refuses bad usage", async () => {
    const outbox = join(dir, "outbox");
    const mails = () => (existsSync(outbox) ? readdirSync(outbox) : []);
    expect(await runCli(["user", "create", "--email", "ann@example.com", "--invite", "--language", "nl"], env)).toBe(0);
    expect(lastLine()).toEqual({ userId: 1 });
    expect(mails()).toHaveLength(1);
    const first = readFileSync(join(outbox, mails()[0] ?? ""), "utf8");
    expect(first).toContain("ann@example.com");
    expect(first).toMatch(/Subject: Je Latchkey-account staat klaar/);
    expect(await runCli(["user", "get", "--id", "1"], env)).toBe(0);
    expect(lastLine().invitation).toMatchObject({ pending: true });
    expect(await runCli(["user", "invite", "--id", "1"], env)).toBe(0);
    expect(lastLine()).toEqual({ invited: true });
    expect(mails()).toHaveLength(2);
    stdout.length = 0;
    expect(await runCli(["user", "events", "--id", "1"], env)).toBe(0);
    expect(stdout.join("").match(/"invitation\.sent"/g)).toHaveLength(2);

    const refusals: string[][] = [
      ["user", "create", "--email", "bo@example.com", "--invite", "--password", "Correct7Horse"],
      ["user", "create", "--email", "bo@example.com", "--language", "nl"],
      ["user", "create", "--email", "bo@example.com", "--invite", "--language", "nl\r\n"],
      ["user", "create", "--email", "bo@example.com", "--invite", "--origin", "../etc"],
      ["user", "create", "--email", "bo@example.com\r\nBcc: x@evil.example", "--invite"],
      ["user", "create", "--email", "bo@example.com", "--invite", "--origin", "nowhere"],
      ["user", "invite", "--id", "99"],
    ];
    for (const args of refusals) expect(await runCli(args, env), args.join(" ")).toBe(2);
    expect(await runCli(["user", "create", "--email", "cy@example.com", "--password", "Correct7Horse"], env)).toBe(0);
    expect(await runCli(["user", "invite", "--email", "cy@example.com"], env)).toBe(2);
    expect(stderr.join("")).toContain("INVITATION_NOT_NEEDED");
    expect(stderr.join("")).not.toMatch(/\n\s+at /);
    expect(mails()).toHaveLength(2);
    expect(await runCli(["user", "list"], env)).toBe(0);
    expect(lastLine()).toEqual({ total: 2 });
  });

  it("registers, lists, shows, updates, re-keys and deletes OAuth clients, with their audit trail", async () => {
    const lines = () =>
      stdout
        .join("")
        .trim()
        .split("\n")
        .map((line) => JSON.parse(line));
    const args = ["clients", "create", "--name", "Wiki", "--redirect-uri", "https://wiki.example/cb"];
    expect(await runCli([...args, "--redirect-uri", "http://127.0.0.1:3000/cb", "--first-party"], env)).toBe(0);
    const wiki = lastLine();
    expect(wiki).toMatchObject({
      clientId: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/),
      clientSecret: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
      name: "Wiki",
      type: "confidential",
      redirectUris: ["https://wiki.example/cb", "http://127.0.0.1:3000/cb"],
      postLogoutRedirectUris: [],
      scopes: ["openid", "profile", "email"],
      firstParty: true,
    });
    const spa = ["clients", "create", "--name", "SPA", "--public", "--redirect-uri", "https://spa.example/cb"];
    expect(await runCli([...spa, "--scope", "openid", "--post-logout-redirect-uri", "https://spa.example/"], env)).toBe(
      0,
    );
    const app = lastLine();
    expect(app).toMatchObject({ type: "public", scopes: ["openid"], postLogoutRedirectUris: ["https://spa.example/"] });
    expect(app).not.toHaveProperty("clientSecret");

    stdout.length = 0;
    expect(await runCli(["clients", "list", "--limit", "10"], env)).toBe(0);
    expect(lines().map((line) => line.name ?? line.total)).toEqual(["SPA", "Wiki", 2]);
    expect(stdout.join("")).not.toContain(wiki.clientSecret);
    expect(await runCli(["clients", "get", "--id", wiki.clientId], env)).toBe(0);
    const { clientSecret, ...shown } = wiki;
    expect(lastLine()).toEqual(shown);

    const update = ["clients", "update", "--id", wiki.clientId, "--name", "Team wiki", "--no-first-party"];
    expect(await runCli([...update, "--scope", "openid", "--scope", "offline_access"], env)).toBe(0);
    expect(lastLine()).toMatchObject({ name: "Team wiki", firstParty: false, scopes: ["openid", "offline_access"] });
    expect(await runCli(["clients", "update", "--id", app.clientId, "--no-post-logout-redirect-uris"], env)).toBe(0);
    expect(lastLine().postLogoutRedirectUris).toEqual([]);

    expect(await runCli(["clients", "rotate-secret", "--id", wiki.clientId], env)).toBe(0);
    const rotated = lastLine();
    expect(rotated).toEqual({ clientId: wiki.clientId, clientSecret: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/) });
    expect(rotated.clientSecret).not.toBe(clientSecret);

    stdout.length = 0;
    expect(await runCli(["clients", "events", "--id", wiki.clientId], env)).toBe(0);
    expect(lines().map((line) => line.type ?? line.total)).toEqual([
      "client.secret_rotated",
      "client.updated",
      "client.created",
      3,
    ]);
    expect(stdout.join("")).not.toContain(rotated.clientSecret);
    expect(lines()[2]).toMatchObject({ userAgent: "latchkey-cli", details: { name: "Wiki", type: "confidential" } });

    expect(await runCli(["clients", "delete", "--id", app.clientId], env)).toBe(0);
    expect(lastLine()).toEqual({ deleted: true });
    expect(await runCli(["clients", "get", "--id", app.clientId], env)).toBe(2);
    expect(await runCli(["clients", "delete", "--id", app.clientId], env)).toBe(2);
    expect(stderr.join("")).toContain("CLIENT_NOT_FOUND");
    expect(await runCli(["clients", "list"], env)).toBe(0);
    expect(lastLine()).toEqual({ total: 1 });
    // The users' audit trail knows nothing of it.
    expect(await runCli(["user", "create", "--email", "alice@example.com"], env)).toBe(0);
    stdout.length = 0;
    expect(await runCli(["user", "events", "--id", "1"], env)).toBe(0);
    expect(lines().map((line) => line.type ?? line.total)).toEqual(["user.created", 1]);
  });

  it("refuses bad client commands with one line, no stack, and changes nothing", async () => {
    const create = ["clients", "create", "--name", "Wiki", "--redirect-uri", "https://wiki.example/cb"];
    expect(await runCli(create, env)).toBe(0);
    const id: string = lastLine().clientId;
    const refusals: [string[], string][] = [
      [["clients", "create", "--redirect-uri", "https://a.example/cb"], "needs --name"],
      [["clients", "create", "--name", "A"], "needs --redirect-uri"],
      [["clients", "create", "--name", "A", "--redirect-uri", "http://a.example/cb"], "INVALID_REDIRECT_URI"],
      [["clients", "create", "--name", "A", "--redirect-uri", "https://a.example/#x"], "INVALID_REDIRECT_URI"],
      [[...create, "--post-logout-redirect-uri", "https://*.example/"], "INVALID_POST_LOGOUT_REDIRECT_URI"],
      [[...create, "--scope", "profile"], "INVALID_SCOPE"],
      [["clients", "create", "--name", "", "--redirect-uri", "https://a.example/cb"], "CLIENT_NAME_INVALID"],
      [[...create, "--no-first-party"], "go with clients update"],
      [[...create, "--colour", "red"], "Unknown option"],
      [["clients", "update", "--id", id, "--first-party", "--no-first-party"], "cannot be used together"],
      [["clients", "update", "--id", id], "CLIENT_UPDATE_EMPTY"],
      [["clients", "update", "--id", id, "--public"], "--public goes with clients create"],
      [["clients", "update", "--id", id, "--scope", "email"], "INVALID_SCOPE"],
      [["clients", "get"], "needs --id"],
      [["clients", "rotate-secret", "--id", "nope"], "CLIENT_NOT_FOUND"],
      [["clients", "events", "--id", "nope"], "CLIENT_NOT_FOUND"],
      [["clients", "list", "--limit", "0"], "--limit"],
      [["clients", "frobnicate"], "unknown clients command"],
    ];
    for (const [args, said] of refusals) {
      stderr.length = 0;
      expect(await runCli(args, env), args.join(" ")).toBe(2);
      expect(stderr.join(""), args.join(" ")).toContain(said);
      expect(stderr.join("")).not.toMatch(/\n\s+at /);
    }
    stdout.length = 0;
    expect(await runCli(["clients", "list"], env)).toBe(0);
    expect(lastLine()).toEqual({ total: 1 });
    expect(await runCli(["clients", "events", "--id", id], env)).toBe(0);
    expect(lastLine()).toEqual({ total: 1 });
  });

  it("re-encrypts TOTP secrets and signing keys under the active key", async () => {
    expect(await runCli(["keys", "reencrypt"], env)).toBe(0);
    // The first start made one signing key, sealed under the only key.
    expect(lastLine()).toEqual({
      totpSecrets: { checked: 0, reencrypted: 0, unreadable: 0 },
      signingKeys: { checked: 1, reencrypted: 0, unreadable: 0 },
    });
    const k2 = `k2:${Buffer.alloc(32, 2).toString("base64")}`;
    const both = { ...env, LATCHKEY_ENCRYPTION_KEYS: `${k2},${env.LATCHKEY_ENCRYPTION_KEYS}` };
    expect(await runCli(["keys", "reencrypt"], both)).toBe(0);
    expect(lastLine().signingKeys).toEqual({ checked: 1, reencrypted: 1, unreadable: 0 });
    // The old encryption key can go now; without the new one the node refuses to start, and says why.
    expect(await runCli(["keys", "rotate"], { ...env, LATCHKEY_ENCRYPTION_KEYS: k2 })).toBe(0);
    expect(await runCli(["keys", "rotate"], env)).toBe(1);
    expect(stderr.join("")).toMatch(/latchkey: signing key \S+ cannot be opened with LATCHKEY_ENCRYPTION_KEYS/);
    expect(stderr.join("")).not.toMatch(/\n\s+at /);
  });

  it("rotates the signing key, saying when the new one signs, and prunes none still in use", async () => {
    const startedAt = Date.now();
    expect(await runCli(["keys", "rotate"], env)).toBe(0);
    const first = lastLine();
    expect(first.kid).toMatch(/^[A-Za-z0-9_-]{16}$/);
    // Published now; signing once every node has reloaded and cached JWKS have expired.
    expect(Date.parse(first.activatesAt) - startedAt).toBeGreaterThanOrEqual(300_000);
    expect(await runCli(["keys", "rotate"], env)).toBe(0);
    expect(lastLine().kid).not.toBe(first.kid);
    expect(Date.parse(lastLine().activatesAt)).toBeGreaterThan(Date.parse(first.activatesAt));
    expect(await runCli(["keys", "prune"], env)).toBe(0);
    expect(lastLine()).toEqual({ pruned: 0 });
  });
});

/** The installed command: bin/latchkey.js runs the build (dist/cli.js), as `npm start` runs dist/start.cjs. */
describe("the latchkey command, compiled", () => {
  let dir: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    // What `npm run latchkey` does first (prelatchkey).
    await run(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json"], {
      cwd: ROOT,
    });
    dir = mkdtempSync(join(tmpdir(), "latchkey-bin-"));
    env = {
      PATH: process.env.PATH,
      LATCHKEY_DATA_DIR: dir,
      LATCHKEY_ENCRYPTION_KEYS: `k1:${Buffer.alloc(32, 1).toString("base64")}`,
    };
  }, 180_000);
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  /** Runs `latchkey <args>`; resolves with the exit code and output, whatever the code. */
  const latchkey = (...args: string[]) =>
    run(process.execPath, [join(ROOT, "bin/latchkey.js"), ...args], { cwd: dir, env }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (error: { code: number; stdout: string; stderr: string }) => error,
    );

  it("runs dist/cli.js: migrates, creates a user, refuses a duplicate with exit code 2", async () => {
    expect(existsSync(join(ROOT, "dist/cli.js"))).toBe(true);
    const migrated = await latchkey("migrate");
    expect(migrated.code, migrated.stderr).toBe(0);
    expect(JSON.parse(migrated.stdout).applied.length).toBeGreaterThan(0);
    const created = await latchkey("user", "create", "--email", "alice@example.com");
    expect(JSON.parse(created.stdout)).toEqual({ userId: 1 });
    const duplicate = await latchkey("user", "create", "--email", "ALICE@example.com");
    expect(duplicate.code).toBe(2);
    expect(duplicate.stderr).toBe("latchkey: EMAIL_ALREADY_IN_USE\n");
  });

  it("npm start's entry (dist/start.cjs → main) refuses a bad configuration in one line, before opening anything", async () => {
    const empty = mkdtempSync(join(tmpdir(), "latchkey-start-"));
    try {
      const started = await run(process.execPath, [join(ROOT, "dist/start.cjs")], {
        cwd: empty,
        env: { ...env, LATCHKEY_DATA_DIR: empty, LATCHKEY_TRUST_PROXY: "true", LATCHKEY_PORT: "x" },
      }).then(
        () => ({ code: 0, stderr: "" }),
        (error: { code: number; stderr: string }) => error,
      );
      expect(started.code).toBe(2);
      expect(started.stderr).toMatch(/^latchkey: Invalid configuration:\n/);
      expect(started.stderr).toContain("LATCHKEY_TRUST_PROXY=true");
      expect(started.stderr).toContain("LATCHKEY_PORT");
      expect(started.stderr).not.toMatch(/\n\s+at /);
      expect(readdirSync(empty)).toEqual([]);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });
});
