/**
 * `npm run bench` — Latchkey's throughput and latency, as ratios to a bare Fastify route measured in
 * the same run on the same machine. `npm run bench -- --scale` — validate and login with 1 000 and
 * with 1 000 000 accounts and sessions. See docs/benchmarks.md.
 *
 * Options:
 *   --scale              the scale run instead of the scenarios
 *   --quick              2 s warm-up + 5 s per scenario (trying the harness), instead of 5 s + 15 s
 *   --only a,b           only these scenarios (baseline, validate, validate-cold, accesstoken, 2fa,
 *                        login, totp)
 *   --runtime compiled|tsx, --node-flags "<flags>", --threadpool <n>   the same for every child
 *                        (by default: compiled, with the Node flags of `npm start`)
 *   --server-flags "<flags>"   extra Node flags for the Latchkey server only (experiments)
 *   --set NAME=value     a LATCHKEY_* setting for the Latchkey server (repeatable; experiments,
 *                        such as --set LATCHKEY_SESSION_CACHE=on); by default the server runs at its defaults
 *   --login-warmup <seconds>   logins before the first login round, not measured (default 20; --quick: 0)
 *   --profile <dir>      the server writes a V8 CPU profile there (node --cpu-prof)
 *   --json <file>        also write the figures as JSON
 *   --node <path>        run everything under that Node.js (its node_modules installed for it)
 * LATCHKEY_BENCH_POSTGRES_URL adds PostgreSQL (a fresh schema, dropped afterwards).
 */
import { spawnSync } from "node:child_process";
import { readdirSync, readFileSync, realpathSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg, totalmem } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import defaultThreadPoolSize from "../src/pool-size.cjs";
import { Minter, type Minter as MinterType, newSigningKey, sessionId } from "./lib/ids.js";
import { chosenDatabases, type DatabaseKind, type LatchkeyServer, startLatchkey } from "./lib/latchkey.js";
import { type LoadResult, type LoadSpec, load } from "./lib/load.js";
import {
  budgetPerUnit,
  type CpuBudget,
  type CpuShares,
  cpuMeter,
  freePort,
  peakRssMb,
  resetPeakRss,
  runtimeDescription,
  startChild,
  useRuntime,
  waitForOutput,
  waitReady,
} from "./lib/proc.js";
import { summarizeProfile, writeFoldedStacks } from "./lib/profile.js";
import { type DatabaseFigures, targetTable } from "./lib/targets.js";
import { accessTokens, logins, refreshTokens, totpAuthentications } from "./scenarios.js";

const { values: options } = parseArgs({
  options: {
    scale: { type: "boolean", default: false },
    quick: { type: "boolean", default: false },
    only: { type: "string" },
    databases: { type: "string" },
    json: { type: "string" },
    profile: { type: "string" },
    "server-flags": { type: "string" },
    set: { type: "string", multiple: true },
    runtime: { type: "string", default: "compiled" },
    "node-flags": { type: "string" },
    threadpool: { type: "string" },
    "login-warmup": { type: "string" },
    node: { type: "string" },
  },
});

// `--node PATH`: the whole run — the runner and every process it starts — under that Node.js. Its
// node_modules must be installed for that runtime (the SQLite addon is built for one).
if (options.node !== undefined && realpathSync(options.node) !== realpathSync(process.execPath)) {
  const rerun = spawnSync(
    options.node,
    [...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)],
    {
      stdio: "inherit",
    },
  );
  process.exit(rerun.status ?? 1);
}

const DURATION_SECONDS = options.quick ? 5 : 15;
const WARMUP_SECONDS = options.quick ? 2 : 5;
/** Connections for the cheap endpoints; login and the raw argon2 probe share LOGIN_CONCURRENCY. */
const CONNECTIONS = 32;
const LOGIN_CONCURRENCY = 8;
/** Login and the raw argon2 probe alternate in this many rounds of DURATION_SECONDS / LOGIN_ROUNDS. */
const LOGIN_ROUNDS = options.quick ? 1 : 3;
/**
 * Logins before the first round, not measured: at ~150 logins a second V8 goes on optimizing the
 * login's code for ~20 s (its code log), longer than a round lasts (docs/benchmarks.md, Method).
 */
const LOGIN_WARMUP_SECONDS = Number(options["login-warmup"] ?? (options.quick ? 0 : 20));
if (!(Number.isFinite(LOGIN_WARMUP_SECONDS) && LOGIN_WARMUP_SECONDS >= 0)) {
  throw new Error("--login-warmup takes a number of seconds");
}

const PLAIN_USERS = 10_000;
/** TOTP users: each accepts two codes per 30 s step, so 50 000 sustain the totp scenario up to ~3 300/s. */
const TOTP_USERS = 50_000;
/** Distinct access tokens in the validate scenario (the verified-token cache holds 10 000). */
const HOT_TOKENS = 5_000;
/** Distinct tokens in the cold variant: more than the cache holds, so every request verifies a signature. */
const COLD_TOKENS = 30_000;
const SCALE_SIZES = [1_000, 1_000_000];
/** Logins in the scale run: more than a measurement sends (~150/s for 15 s), spread over the table. */
const SCALE_LOGIN_USERS = 10_000;
/** Active sessions in the scale run's validate: every session of the small database. */
const SCALE_SESSIONS = 1_000;
/** An informative wider working set at the large size (still within the verified-token cache). */
const SCALE_WIDE_SESSIONS = 8_000;

/** Extra Node flags for the Latchkey server only (experiments; the baseline keeps the common flags). */
const serverFlags = [
  ...(options["server-flags"]?.split(" ").filter((flag) => flag !== "") ?? []),
  ...(options.profile ? ["--cpu-prof", `--cpu-prof-dir=${options.profile}`] : []),
];

/** `--set NAME=value`: LATCHKEY_* settings for the server only. */
const serverSettings: Record<string, string> = {};
for (const setting of options.set ?? []) {
  const match = /^(LATCHKEY_[A-Z0-9_]+)=(.*)$/.exec(setting);
  if (!match?.[1]) throw new Error(`--set takes LATCHKEY_NAME=value, got ${setting}`);
  serverSettings[match[1]] = match[2] ?? "";
}

/**
 * The environment and Node flags `npm start` gives the server (package.json: `[NAME=${NAME:-value} …]
 * node <flags> dist/start.cjs`). Every child — the server, the baseline, the argon2id probe — gets
 * them, so all run with the same process setup.
 */
function startSetup(): { env: Record<string, string>; flags: string[] } {
  const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
    scripts: Record<string, string>;
  };
  const words = (pkg.scripts.start ?? "").split(/\s+/);
  const env: Record<string, string> = {};
  while (words[0] !== undefined && /^[A-Z_]+=/.test(words[0])) {
    const word = words.shift() ?? "";
    const name = word.slice(0, word.indexOf("="));
    const value = word.slice(word.indexOf("=") + 1);
    // `${NAME:-default}`: the runner's own value wins, as it would in the shell.
    const fallback = /^\$\{([A-Z_]+):-(.*)\}$/.exec(value);
    env[name] = fallback ? (process.env[fallback[1] ?? ""] ?? fallback[2] ?? "") : value;
  }
  if (words[0] !== "node" || words.at(-1) !== "dist/start.cjs") {
    throw new Error("npm start is not `[NAME=value …] node … dist/start.cjs`");
  }
  return { env, flags: words.slice(1, -1) };
}

const runtime = options.runtime === "tsx" ? "tsx" : "compiled";
if (options.threadpool) process.env.UV_THREADPOOL_SIZE = options.threadpool;
const setup = startSetup();
useRuntime(
  runtime,
  [...setup.flags, ...(options["node-flags"]?.split(" ").filter((flag) => flag !== "") ?? [])],
  setup.env,
);

const postgresUrl = process.env.LATCHKEY_BENCH_POSTGRES_URL || undefined;
const databases: DatabaseKind[] = chosenDatabases(options.databases, postgresUrl !== undefined);
const only = options.only ? new Set(options.only.split(",")) : undefined;

interface Row {
  database: string;
  scenario: string;
  connections: number;
  result: LoadResult;
  peakRssMb: number;
  /** Cores the server used, all its threads (warm-up and measured time alike). */
  serverCores: number;
  /**
   * Of those, the cores of its event-loop thread (the rest: password hashes, V8's helper threads);
   * 1 means that thread was busy throughout, the bottleneck.
   */
  loopCores: number;
  /** Cores used meanwhile by other processes than the runner and the server (PostgreSQL included). */
  otherCores: number;
  /** Cores the runner used meanwhile: the load generator. */
  runnerCores: number;
  /** Cores nobody used meanwhile. */
  idleCores: number;
  note?: string;
}

const rows: Row[] = [];
const startedAt = performance.now();
/** Other work on the machine skews every figure: the load average before the run is reported. */
const loadBefore = loadavg()[0] ?? 0;

function log(line: string): void {
  process.stderr.write(`${line}\n`);
}

function machine(): Record<string, string> {
  const cpuinfo = readFileSync("/proc/cpuinfo", "utf8");
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? "unknown";
  return {
    cpus: String(availableParallelism()),
    cpu: model,
    memory: `${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    node: process.version,
  };
}

async function measure(
  database: string,
  scenario: string,
  target: { url: string; pid: number; metricsUrl?: string; alive?: () => boolean; output?: () => string },
  method: "GET" | "POST",
  path: string,
  connections: number,
  requests: LoadSpec["requests"],
  note?: string,
  timing: { durationSeconds: number; warmupSeconds: number } = {
    durationSeconds: DURATION_SECONDS,
    warmupSeconds: WARMUP_SECONDS,
  },
): Promise<Row | undefined> {
  // The baseline is always measured: every ratio is to it.
  if (only && scenario !== "baseline" && !only.has(scenario)) return undefined;
  log(
    `  ${database} ${scenario}: ${connections} connections, ` +
      `${timing.warmupSeconds} s warm-up + ${timing.durationSeconds} s`,
  );
  resetPeakRss(target.pid);
  const cpu = cpuMeter(target.pid, process.pid);
  const result = await load({ url: target.url, method, path, connections, requests, ...timing });
  const { serverCores, loopCores, otherCores, runnerCores, idleCores } = cpu();
  if (target.alive && !target.alive()) throw new Error(`the server died during ${scenario}:\n${target.output?.()}`);
  const row: Row = {
    database,
    scenario,
    connections,
    result,
    peakRssMb: peakRssMb(target.pid),
    serverCores,
    loopCores,
    otherCores,
    runnerCores,
    idleCores,
    ...(note ? { note } : {}),
  };
  rows.push(row);
  log(`    memory now: ${await memoryNow(target)}`);
  log(
    `    ${result.requestsPerSecond.toFixed(0)} req/s, p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms, ` +
      `peak RSS ${row.peakRssMb.toFixed(0)} MB, server ${serverCores.toFixed(2)} cores ` +
      `(${cpuMicros(row)} µs/request; its event loop ${loopCores.toFixed(2)} cores, ${cpuMicros(row, "loop")} µs/request), ` +
      `other processes ${otherCores.toFixed(2)} cores, load generator ${runnerCores.toFixed(2)}, idle ${idleCores.toFixed(2)}, ` +
      `statuses ${JSON.stringify(result.statuses)}` +
      (result.errors ? `, ${result.errors} errors` : ""),
  );
  return row;
}

/**
 * Server CPU per response, in µs: what a request costs the server whether or not it was the
 * bottleneck (`loop`: its event-loop thread's part of it).
 */
function cpuMicros(row: Row, part: "server" | "loop" = "server"): string {
  const cores = part === "loop" ? row.loopCores : row.serverCores;
  return ((cores * 1e6) / row.result.requestsPerSecond).toFixed(0);
}

/** RSS and V8 heap of a Latchkey server now (diagnostics: where the peak went). */
async function memoryNow(target: { pid: number; metricsUrl?: string }): Promise<string> {
  const status = readFileSync(`/proc/${target.pid}/status`, "utf8");
  const rss = Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1]) / 1024;
  let heap = "";
  try {
    // The baseline has no metrics listener.
    if (target.metricsUrl) {
      const text = await (await fetch(`${target.metricsUrl}/metrics`)).text();
      const value = (name: string) =>
        Number(/ ([0-9.e+]+)$/.exec(text.split("\n").find((l) => l.startsWith(name)) ?? "")?.[1]);
      const mb = (bytes: number) => (bytes / 2 ** 20).toFixed(0);
      heap = `, V8 heap ${mb(value("latchkey_nodejs_heap_size_used_bytes"))}/${mb(value("latchkey_nodejs_heap_size_total_bytes"))} MB used/total`;
    }
  } catch {
    // a diagnostic: a failed scrape leaves the heap out rather than ending the run
  }
  return `RSS ${rss.toFixed(0)} MB${heap}`;
}

/** The bare Fastify route, driven with the same request shape as validate (a Bearer token of the same size). */
async function baseline(minter: MinterType, note?: string): Promise<Row | undefined> {
  const port = await freePort();
  const child = startChild("bench/baseline-server.ts", [], { BENCH_PORT: String(port) });
  try {
    const url = `http://127.0.0.1:${port}`;
    await waitReady(child, `${url}/baseline`);
    const next = accessTokens(minter, HOT_TOKENS, (k) => 1 + k);
    return await measure("-", "baseline", { url, pid: child.pid }, "GET", "/baseline", CONNECTIONS, next, note);
  } finally {
    await child.stop();
  }
}

interface ArgonRaw {
  /** The database whose login this probe was interleaved with. */
  database?: string;
  verifiesPerSecond: number;
  verifies: number;
  peakRssMb: number;
  /** The machine's CPU over the measured time: the probe's threads, other processes, idle. */
  shares: CpuShares;
}

/**
 * The thread pool the server's argon2id hashes run on: what src/start.cts gives it (one thread per
 * core, at least two) unless UV_THREADPOOL_SIZE is set. The raw probe gets the same, so that both
 * sides hash with as many threads: libuv's default of four was measured slower on a two-core machine
 * (four 19 MiB hashes at once contend for the caches), which made the reference low and flattered login.
 */
const SERVER_POOL_SIZE = process.env.UV_THREADPOOL_SIZE ?? String(defaultThreadPoolSize());

async function rawArgon2(durationSeconds: number, warmupSeconds: number): Promise<ArgonRaw> {
  log(
    `  raw argon2id verify: concurrency ${LOGIN_CONCURRENCY}, ${SERVER_POOL_SIZE} pool threads, ` +
      `${warmupSeconds} s warm-up + ${durationSeconds} s`,
  );
  const child = startChild(
    "bench/argon2-raw.ts",
    [String(LOGIN_CONCURRENCY), String(durationSeconds), String(warmupSeconds)],
    { UV_THREADPOOL_SIZE: SERVER_POOL_SIZE },
  );
  try {
    await waitForOutput(child, /^measuring$/m);
    const cpu = cpuMeter(child.pid, process.pid);
    // Not a look at the output before the measured time is nearly over: the runner stays idle.
    const [line] = await waitForOutput(child, /^\{.*\}$/m, { notBeforeMs: durationSeconds * 1000 - 200 });
    const shares = cpu();
    const raw = { ...(JSON.parse(line) as Omit<ArgonRaw, "shares">), shares };
    log(
      `    ${raw.verifiesPerSecond.toFixed(1)} verifies/s, probe ${shares.serverCores.toFixed(2)} cores ` +
        `(${((shares.serverCores * 1e6) / raw.verifiesPerSecond).toFixed(0)} µs/verify), other processes ` +
        `${shares.otherCores.toFixed(2)} cores, idle ${shares.idleCores.toFixed(2)}`,
    );
    return raw;
  } finally {
    await child.stop();
  }
}

async function check(server: LatchkeyServer, minter: MinterType): Promise<void> {
  const token = minter.mint("access", 1, sessionId(1), 300);
  const response = await fetch(`${server.url}/auth/accesstoken/validate`, {
    headers: { authorization: `Bearer ${token}` },
  });
  if (response.status !== 200) throw new Error(`sanity check failed: ${response.status} ${await response.text()}`);
}

interface References {
  /** The baseline, measured before and after the scenarios. */
  baselines: Row[];
  /**
   * Per database, the baseline measured just before its validate scenario (the machine's speed
   * drifts by minutes; the validate target is judged against this one, seconds away).
   */
  adjacent?: Record<string, Row>;
  /** The raw argon2 probe, in rounds interleaved with the login rounds of each database. */
  argon: ArgonRaw[];
}

async function standard(): Promise<References> {
  const throwaway = new Minter(newSigningKey(), "http://127.0.0.1");
  const references: References = { baselines: [], argon: [], adjacent: {} };
  // Measured before and after the scenarios: ratios use the mean, so a machine that drifts during
  // the run (other tenants, frequency) skews them less; the two values show how much it drifted.
  const measureReferences = async () => {
    log("baseline");
    const base = await baseline(throwaway);
    if (base) references.baselines.push(base);
  };
  await measureReferences();
  for (const database of databases) {
    log(database);
    const server = await startLatchkey(
      database,
      { plainUsers: PLAIN_USERS, totpUsers: TOTP_USERS, refreshTokens: true },
      postgresUrl,
      log,
      serverFlags,
      serverSettings,
    );
    try {
      const minter = new Minter(server.key, server.issuer);
      await check(server, minter);
      const target = {
        url: server.url,
        pid: server.child.pid,
        metricsUrl: server.metricsUrl,
        alive: server.child.alive,
        output: server.child.output,
      };
      const validatePath = "/auth/accesstoken/validate";
      if (!only || only.has("validate")) {
        log("baseline");
        const adjacent = await baseline(throwaway, `just before ${database} validate`);
        if (adjacent && references.adjacent) references.adjacent[database] = adjacent;
      }
      await measure(
        database,
        "validate",
        target,
        "GET",
        validatePath,
        CONNECTIONS,
        accessTokens(minter, HOT_TOKENS, (k) => 1 + k),
        `${HOT_TOKENS} distinct tokens`,
      );
      await measure(
        database,
        "validate-cold",
        target,
        "GET",
        validatePath,
        CONNECTIONS,
        accessTokens(minter, COLD_TOKENS, (k) => 1 + (k % PLAIN_USERS)),
        `${COLD_TOKENS} distinct tokens: every signature verified`,
      );
      await measure(
        database,
        "accesstoken",
        target,
        "GET",
        "/auth/accesstoken",
        CONNECTIONS,
        refreshTokens(minter, HOT_TOKENS, 86_400),
        `${HOT_TOKENS} distinct refresh tokens`,
      );
      await measure(
        database,
        "2fa",
        target,
        "GET",
        "/user/2fa",
        CONNECTIONS,
        accessTokens(minter, HOT_TOKENS, (k) => PLAIN_USERS + 1 + k),
        "TOTP users",
      );
      // Login against raw argon2id in alternating rounds (probe, login, probe, login …): the
      // machine's argon2 speed drifts by ±15 % within minutes here (memory bandwidth shared with
      // other tenants), and alternating compares the two under the same conditions.
      if (!only || only.has("login")) {
        const next = logins(Array.from({ length: PLAIN_USERS }, (_, k) => 1 + k));
        const round = { durationSeconds: DURATION_SECONDS / LOGIN_ROUNDS, warmupSeconds: 2 };
        if (LOGIN_WARMUP_SECONDS > 0) {
          log(
            `  ${database} login: ${LOGIN_CONCURRENCY} connections, ${LOGIN_WARMUP_SECONDS} s of warm-up, not measured`,
          );
          await load({
            url: target.url,
            method: "POST",
            path: "/auth/login",
            connections: LOGIN_CONCURRENCY,
            requests: next,
            durationSeconds: LOGIN_WARMUP_SECONDS,
            warmupSeconds: 0,
          });
        }
        for (let r = 1; r <= LOGIN_ROUNDS; r++) {
          references.argon.push({ database, ...(await rawArgon2(round.durationSeconds, round.warmupSeconds)) });
          const note = `round ${r} of ${LOGIN_ROUNDS}`;
          await measure(database, "login", target, "POST", "/auth/login", LOGIN_CONCURRENCY, next, note, round);
        }
      }
      await measure(
        database,
        "totp",
        target,
        "POST",
        "/user/2fa/totp/authenticate",
        CONNECTIONS,
        totpAuthentications(minter, PLAIN_USERS + 1, TOTP_USERS),
        "step-up with an access token",
      );
    } finally {
      await server.close();
    }
  }
  await measureReferences();
  return references;
}

/**
 * Both sizes are served at once (by two idle-until-loaded servers) and measured in the order
 * small, large, large, small: the mean of each size's two runs cancels a drift of the machine over
 * the run, which would otherwise pass for a difference between the sizes.
 */
async function scale(): Promise<void> {
  for (const database of databases) {
    const servers: Array<{ size: number; server: LatchkeyServer; minter: MinterType }> = [];
    try {
      for (const size of SCALE_SIZES) {
        log(`${database}, ${size} accounts and sessions`);
        const server = await startLatchkey(
          database,
          { plainUsers: size, totpUsers: 0, refreshTokens: false },
          postgresUrl,
          log,
          serverFlags,
          serverSettings,
        );
        const minter = new Minter(server.key, server.issuer);
        servers.push({ size, server, minter });
        await check(server, minter);
      }
      const order = [...servers, ...[...servers].reverse()];
      const target = (server: LatchkeyServer) => ({
        url: server.url,
        pid: server.child.pid,
        metricsUrl: server.metricsUrl,
        alive: server.child.alive,
        output: server.child.output,
      });
      // Like for like: the same number of active sessions at both sizes (all of them at the small
      // one), spread evenly over the whole table at the large one.
      for (const { size, server, minter } of order) {
        await measure(
          `${database} ${size}`,
          "validate",
          target(server),
          "GET",
          "/auth/accesstoken/validate",
          CONNECTIONS,
          accessTokens(minter, SCALE_SESSIONS, (k) => 1 + Math.floor(((k + 0.5) * size) / SCALE_SESSIONS)),
          `${SCALE_SESSIONS} active sessions`,
        );
      }
      // Logins walk the accounts with a large prime stride, so consecutive ones land far apart.
      for (const { size, server } of order) {
        await measure(
          `${database} ${size}`,
          "login",
          target(server),
          "POST",
          "/auth/login",
          LOGIN_CONCURRENCY,
          logins(Array.from({ length: SCALE_LOGIN_USERS }, (_, n) => 1 + ((n * 104_729) % size))),
          "accounts picked across the whole table",
        );
      }
      const largest = servers[servers.length - 1];
      if (largest && largest.size >= SCALE_WIDE_SESSIONS) {
        const { size, server, minter } = largest;
        await measure(
          `${database} ${size}`,
          "validate-wide",
          target(server),
          "GET",
          "/auth/accesstoken/validate",
          CONNECTIONS,
          accessTokens(minter, SCALE_WIDE_SESSIONS, (k) => 1 + Math.floor(((k + 0.5) * size) / SCALE_WIDE_SESSIONS)),
          `${SCALE_WIDE_SESSIONS} active sessions: a working set beyond the database page cache`,
        );
      }
    } finally {
      for (const { server } of servers) await server.close();
    }
  }
}

function mean(values: number[]): number {
  return values.length === 0 ? Number.NaN : values.reduce((a, b) => a + b, 0) / values.length;
}

function fmt(value: number, digits = 0): string {
  return Number.isFinite(value) ? value.toFixed(digits) : "–";
}

function report(context: References): void {
  const info = machine();
  const lines: string[] = [];
  lines.push(`machine: ${info.cpus} CPUs, ${info.cpu}, ${info.memory}, Node ${info.node}`);
  lines.push(`runs: ${WARMUP_SECONDS} s warm-up + ${DURATION_SECONDS} s measured per scenario`);
  lines.push(
    `processes: ${runtimeDescription()}, environment: ${JSON.stringify(setup.env)}, ` +
      `UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE ?? `default (the server and the argon2id probe: ${SERVER_POOL_SIZE}; the others: 4)`}` +
      (serverFlags.length ? `, server only: ${serverFlags.join(" ")}` : "") +
      (Object.keys(serverSettings).length ? `, server settings: ${JSON.stringify(serverSettings)}` : ""),
  );
  lines.push("");
  lines.push(
    "| database | scenario | conns | req/s | × baseline | p50 ms | p99 ms | peak RSS MB | server CPU | µs/req | loop µs/req | other CPU | statuses | note |",
  );
  lines.push("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
  const baseRps = context.baselines.length ? mean(context.baselines.map((b) => b.result.requestsPerSecond)) : undefined;
  for (const row of rows) {
    const r = row.result;
    const ratio = baseRps ? fmt(r.requestsPerSecond / baseRps, 3) : "–";
    lines.push(
      `| ${row.database} | ${row.scenario} | ${row.connections} | ${fmt(r.requestsPerSecond)} | ${ratio} | ` +
        `${r.p50Ms} | ${r.p99Ms} | ${fmt(row.peakRssMb)} | ${fmt(row.serverCores, 2)} | ${cpuMicros(row)} | ${cpuMicros(row, "loop")} | ${fmt(row.otherCores, 2)} | ${Object.entries(
          r.statuses,
        )
          .map(([code, n]) => `${code}: ${n}`)
          .join(", ")}${r.errors ? `, errors: ${r.errors}` : ""} | ${row.note ?? ""} |`,
    );
  }
  if (baseRps) {
    lines.push("");
    lines.push(
      `baseline (bare Fastify route): ${context.baselines.map((b) => fmt(b.result.requestsPerSecond)).join(" and ")} ` +
        `req/s before and after; ratios use the mean, ${fmt(baseRps)}`,
    );
  }
  for (const database of databases) {
    const probes = context.argon.filter((a) => a.database === database);
    const logins = rows.filter((r) => r.database === database && r.scenario === "login");
    if (probes.length === 0 || logins.length === 0) continue;
    const raw = mean(probes.map((a) => a.verifiesPerSecond));
    const login = mean(logins.map((r) => r.result.requestsPerSecond));
    const perRound = logins.map((r, i) =>
      fmt(r.result.requestsPerSecond / (probes[i]?.verifiesPerSecond ?? Number.NaN), 2),
    );
    lines.push(
      `login on ${database}: ${fmt(login, 1)}/s against raw argon2id verify (m=19456, t=2, p=1, concurrency ` +
        `${LOGIN_CONCURRENCY}, ${SERVER_POOL_SIZE} pool threads, probe peak RSS ${fmt(Math.max(...probes.map((a) => a.peakRssMb)))} MB) ` +
        `${probes.map((a) => fmt(a.verifiesPerSecond, 1)).join(", ")}/s: ${fmt(login / raw, 3)} × raw ` +
        `(rounds: ${perRound.join(", ")})`,
    );
    const loginBudget = meanBudget(logins.map((r) => budgetPerUnit(r, r.result.requestsPerSecond)));
    const probeBudget = meanBudget(probes.map((a) => budgetPerUnit(a.shares, a.verifiesPerSecond)));
    lines.push(
      `  CPU per login, ms of a core (mean of rounds): ${describeBudget(loginBudget, "server's event loop", "hashes and other server threads")}; ` +
        `per raw verification: ${describeBudget(probeBudget, "probe's main thread", "hashes")}`,
    );
  }
  if (options.scale) {
    lines.push("");
    for (const database of databases) {
      for (const scenario of ["validate", "login"]) {
        const [small, large] = SCALE_SIZES.map((size) =>
          mean(
            rows
              .filter((r) => r.database === `${database} ${size}` && r.scenario === scenario)
              .map((r) => r.result.requestsPerSecond),
          ),
        );
        if (small === undefined || large === undefined || !Number.isFinite(small + large)) continue;
        const loss = 1 - large / small;
        lines.push(
          `${database} ${scenario}: ${fmt(small, 1)} → ${fmt(large, 1)} req/s (mean of two runs each) ` +
            `from ${SCALE_SIZES[0]} to ${SCALE_SIZES[1]} accounts: ${fmt(loss * 100, 1)} % loss`,
        );
      }
    }
  }
  const peak = Math.max(...rows.filter((r) => r.database !== "-").map((r) => r.peakRssMb));
  lines.push("");
  lines.push(`server peak RSS over all scenarios: ${fmt(peak)} MB`);
  if (!options.scale && baseRps) {
    const figures: DatabaseFigures[] = databases.map((database) => {
      const validate = rows.find((r) => r.database === database && r.scenario === "validate");
      const probes = context.argon.filter((a) => a.database === database);
      const logins = rows.filter((r) => r.database === database && r.scenario === "login");
      const own = rows.filter((r) => r.database === database);
      return {
        database,
        ...(validate
          ? {
              validateRatio:
                validate.result.requestsPerSecond / (context.adjacent?.[database]?.result.requestsPerSecond ?? baseRps),
              validateP99Ms: validate.result.p99Ms,
            }
          : {}),
        ...(probes.length && logins.length
          ? {
              loginRatio:
                mean(logins.map((r) => r.result.requestsPerSecond)) / mean(probes.map((a) => a.verifiesPerSecond)),
            }
          : {}),
        ...(own.length ? { peakRssMb: Math.max(...own.map((r) => r.peakRssMb)) } : {}),
      };
    });
    lines.push("");
    lines.push(
      "targets at the defaults (docs/benchmarks.md); validate against the baseline measured just before it, login against the probe rounds interleaved with it:",
    );
    lines.push(...targetTable(figures));
  }
  lines.push(`total time: ${fmt((performance.now() - startedAt) / 1000)} s`);
  lines.push(`1-minute load average before the run: ${loadBefore.toFixed(2)}`);
  lines.push(
    "server CPU: cores the server used during a scenario, all its threads (password hashes run on its thread pool); " +
      "µs/req: server CPU per response; loop µs/req: the part of it on the event-loop thread, the one that runs " +
      "JavaScript (when that thread used ~1.00 core, it was the bottleneck)",
  );
  lines.push(
    "other CPU: cores used during a scenario by processes other than the runner and the server " +
      "(PostgreSQL's backends, and anything else on the machine: more than ~0.1 on SQLite means noise)",
  );
  process.stdout.write(`${lines.join("\n")}\n`);
  if (options.json) {
    writeFileSync(options.json, JSON.stringify({ machine: info, rows, ...context }, null, 2));
  }
}

function meanBudget(budgets: CpuBudget[]): CpuBudget {
  const part = (key: keyof CpuBudget) => mean(budgets.map((b) => b[key]));
  return {
    pool: part("pool"),
    loop: part("loop"),
    other: part("other"),
    loadGenerator: part("loadGenerator"),
    idle: part("idle"),
    total: part("total"),
  };
}

/** "hashes 11.6 + event loop 1.8 + … = 14.3": the parts add up to the machine's cores ÷ the rate. */
function describeBudget(budget: CpuBudget, loop: string, pool: string): string {
  const parts: Array<[string, number]> = [
    [pool, budget.pool],
    [loop, budget.loop],
    ["other processes", budget.other],
    ["load generator", budget.loadGenerator],
    ["idle", budget.idle],
  ];
  return `${parts.map(([name, ms]) => `${name} ${fmt(ms, 2)}`).join(" + ")} = ${fmt(budget.total, 2)}`;
}

/** With --profile: per server profile, where the time went, and the folded stacks for a flame graph. */
function reportProfiles(dir: string): void {
  for (const name of readdirSync(dir).filter((file) => file.endsWith(".cpuprofile"))) {
    const file = join(dir, name);
    const summary = summarizeProfile(file);
    const folded = writeFoldedStacks(file);
    const lines = [
      "",
      `profile ${file} (idle ${(summary.idle * 100).toFixed(1)} %; flame graph input: ${folded})`,
      "self time:",
      ...summary.self.map((f) => `  ${(f.share * 100).toFixed(1).padStart(5)} %  ${f.frame}`),
      "with callees:",
      ...summary.inclusive.map((f) => `  ${(f.share * 100).toFixed(1).padStart(5)} %  ${f.frame}`),
    ];
    process.stdout.write(`${lines.join("\n")}\n`);
  }
}

if (options.scale) {
  await scale();
  report({ baselines: [], argon: [] });
} else {
  report(await standard());
}
if (options.profile) reportProfiles(options.profile);
