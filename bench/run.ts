/**
 * `npm run bench` — Latchkey's throughput and latency, as ratios to a bare Fastify route measured in
 * the same run on the same machine. `npm run bench -- --scale` — validate and login with 1 000 and
 * with 1 000 000 accounts and sessions. See docs/benchmarks.md.
 *
 * Options: --scale, --quick (short runs, for trying the harness), --only <scenario,…>,
 * --json <file> (also write the figures as JSON), --profile <dir> (the server writes a V8 CPU profile
 * there: node --cpu-prof). LATCHKEY_BENCH_POSTGRES_URL adds PostgreSQL.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { availableParallelism, totalmem } from "node:os";
import { parseArgs } from "node:util";
import { Minter, type Minter as MinterType, newSigningKey, sessionId } from "./lib/ids.js";
import { type DatabaseKind, type LatchkeyServer, startLatchkey } from "./lib/latchkey.js";
import { type LoadResult, load, type RequestShape } from "./lib/load.js";
import { freePort, peakRssMb, resetPeakRss, startChild, waitReady } from "./lib/proc.js";
import { accessTokens, logins, refreshTokens, totpAuthentications } from "./scenarios.js";

const { values: options } = parseArgs({
  options: {
    scale: { type: "boolean", default: false },
    quick: { type: "boolean", default: false },
    only: { type: "string" },
    json: { type: "string" },
    profile: { type: "string" },
  },
});

const DURATION_SECONDS = options.quick ? 5 : 15;
const WARMUP_SECONDS = options.quick ? 2 : 5;
/** Connections for the cheap endpoints; login and the raw argon2 probe share LOGIN_CONCURRENCY. */
const CONNECTIONS = 32;
const LOGIN_CONCURRENCY = 8;

const PLAIN_USERS = 10_000;
const TOTP_USERS = 10_000;
/** Distinct access tokens in the validate scenario (the verified-token cache holds 10 000). */
const HOT_TOKENS = 5_000;
/** Distinct tokens in the cold variant: more than the cache holds, so every request verifies a signature. */
const COLD_TOKENS = 30_000;
const SCALE_SIZES = [1_000, 1_000_000];
const SCALE_TOKENS = 8_000;

const postgresUrl = process.env.LATCHKEY_BENCH_POSTGRES_URL || undefined;
const databases: DatabaseKind[] = postgresUrl ? ["sqlite", "postgres"] : ["sqlite"];
const only = options.only ? new Set(options.only.split(",")) : undefined;

interface Row {
  database: string;
  scenario: string;
  connections: number;
  result: LoadResult;
  peakRssMb: number;
  note?: string;
}

const rows: Row[] = [];
const startedAt = performance.now();

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
  target: { url: string; pid: number; alive?: () => boolean; output?: () => string },
  method: "GET" | "POST",
  path: string,
  connections: number,
  next: () => RequestShape,
  note?: string,
): Promise<Row | undefined> {
  if (only && !only.has(scenario)) return undefined;
  log(`  ${database} ${scenario}: ${connections} connections, ${WARMUP_SECONDS} s warm-up + ${DURATION_SECONDS} s`);
  resetPeakRss(target.pid);
  const result = await load({
    url: target.url,
    method,
    path,
    connections,
    durationSeconds: DURATION_SECONDS,
    warmupSeconds: WARMUP_SECONDS,
    next,
  });
  if (target.alive && !target.alive()) throw new Error(`the server died during ${scenario}:\n${target.output?.()}`);
  const row: Row = {
    database,
    scenario,
    connections,
    result,
    peakRssMb: peakRssMb(target.pid),
    ...(note ? { note } : {}),
  };
  rows.push(row);
  log(
    `    ${result.requestsPerSecond.toFixed(0)} req/s, p50 ${result.p50Ms} ms, p99 ${result.p99Ms} ms, ` +
      `peak RSS ${row.peakRssMb.toFixed(0)} MB, statuses ${JSON.stringify(result.statuses)}` +
      (result.errors ? `, ${result.errors} errors` : ""),
  );
  return row;
}

/** The bare Fastify route, driven with the same request shape as validate (a Bearer token of the same size). */
async function baseline(minter: MinterType): Promise<Row | undefined> {
  const port = await freePort();
  const child = startChild("bench/baseline-server.ts", [], { BENCH_PORT: String(port) });
  try {
    const url = `http://127.0.0.1:${port}`;
    await waitReady(child, `${url}/baseline`);
    const next = accessTokens(minter, HOT_TOKENS, (k) => 1 + k);
    return await measure("-", "baseline", { url, pid: child.pid }, "GET", "/baseline", CONNECTIONS, next);
  } finally {
    await child.stop();
  }
}

interface ArgonRaw {
  verifiesPerSecond: number;
  verifies: number;
  peakRssMb: number;
}

async function rawArgon2(): Promise<ArgonRaw | undefined> {
  if (only && !only.has("login")) return undefined;
  log(`  raw argon2id verify: concurrency ${LOGIN_CONCURRENCY}, ${WARMUP_SECONDS} s warm-up + ${DURATION_SECONDS} s`);
  const child = startChild(
    "bench/argon2-raw.ts",
    [String(LOGIN_CONCURRENCY), String(DURATION_SECONDS), String(WARMUP_SECONDS)],
    {},
  );
  const code = await child.exited;
  if (code !== 0) throw new Error(`argon2 probe failed (${code}):\n${child.output()}`);
  const lines = child.output().trim().split("\n");
  const raw = JSON.parse(lines[lines.length - 1] ?? "{}") as ArgonRaw;
  log(`    ${raw.verifiesPerSecond.toFixed(1)} verifies/s`);
  return raw;
}

async function check(server: LatchkeyServer, minter: MinterType): Promise<void> {
  const token = minter.mint("access", 1, sessionId(1), 300);
  const response = await fetch(`${server.url}/auth/accesstoken/validate`, {
    headers: { authorization: `Bearer ${token}` },
  });
  if (response.status !== 200) throw new Error(`sanity check failed: ${response.status} ${await response.text()}`);
}

async function standard(): Promise<{ baseline?: Row; argon?: ArgonRaw }> {
  const throwaway = new Minter(newSigningKey(), "http://127.0.0.1");
  log("baseline");
  const base = await baseline(throwaway);
  const argon = await rawArgon2();
  for (const database of databases) {
    log(database);
    const server = await startLatchkey(
      database,
      { plainUsers: PLAIN_USERS, totpUsers: TOTP_USERS, refreshTokens: true },
      postgresUrl,
      log,
      options.profile,
    );
    try {
      const minter = new Minter(server.key, server.issuer);
      await check(server, minter);
      const target = { url: server.url, pid: server.child.pid, alive: server.child.alive, output: server.child.output };
      const validatePath = "/auth/accesstoken/validate";
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
      await measure(
        database,
        "login",
        target,
        "POST",
        "/auth/login",
        LOGIN_CONCURRENCY,
        logins((n) => 1 + (n % PLAIN_USERS)),
      );
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
  return { ...(base ? { baseline: base } : {}), ...(argon ? { argon } : {}) };
}

async function scale(): Promise<void> {
  for (const database of databases) {
    for (const size of SCALE_SIZES) {
      log(`${database}, ${size} accounts and sessions`);
      const server = await startLatchkey(
        database,
        { plainUsers: size, totpUsers: 0, refreshTokens: false },
        postgresUrl,
        log,
      );
      try {
        const minter = new Minter(server.key, server.issuer);
        await check(server, minter);
        const target = {
          url: server.url,
          pid: server.child.pid,
          alive: server.child.alive,
          output: server.child.output,
        };
        const label = `${database} ${size}`;
        // The same number of distinct tokens at both sizes, spread over the whole table.
        await measure(
          label,
          "validate",
          target,
          "GET",
          "/auth/accesstoken/validate",
          CONNECTIONS,
          accessTokens(minter, SCALE_TOKENS, (k) => 1 + Math.floor(((k + 0.5) * size) / SCALE_TOKENS)),
        );
        // Logins walk the accounts with a large prime stride, so consecutive ones land far apart.
        await measure(
          label,
          "login",
          target,
          "POST",
          "/auth/login",
          LOGIN_CONCURRENCY,
          logins((n) => 1 + ((n * 104_729) % size)),
        );
      } finally {
        await server.close();
      }
    }
  }
}

function fmt(value: number, digits = 0): string {
  return Number.isFinite(value) ? value.toFixed(digits) : "–";
}

function report(context: { baseline?: Row; argon?: ArgonRaw }): void {
  const info = machine();
  const lines: string[] = [];
  lines.push(`machine: ${info.cpus} CPUs, ${info.cpu}, ${info.memory}, Node ${info.node}`);
  lines.push(`runs: ${WARMUP_SECONDS} s warm-up + ${DURATION_SECONDS} s measured per scenario`);
  lines.push("");
  lines.push("| database | scenario | conns | req/s | × baseline | p50 ms | p99 ms | peak RSS MB | statuses | note |");
  lines.push("|---|---|---|---|---|---|---|---|---|---|");
  const baseRps = context.baseline?.result.requestsPerSecond;
  for (const row of rows) {
    const r = row.result;
    const ratio = baseRps ? fmt(r.requestsPerSecond / baseRps, 3) : "–";
    lines.push(
      `| ${row.database} | ${row.scenario} | ${row.connections} | ${fmt(r.requestsPerSecond)} | ${ratio} | ` +
        `${r.p50Ms} | ${r.p99Ms} | ${fmt(row.peakRssMb)} | ${Object.entries(r.statuses)
          .map(([code, n]) => `${code}: ${n}`)
          .join(", ")}${r.errors ? `, errors: ${r.errors}` : ""} | ${row.note ?? ""} |`,
    );
  }
  if (context.argon) {
    const a = context.argon;
    lines.push("");
    lines.push(
      `raw argon2id verify (m=19456, t=2, p=1), concurrency ${LOGIN_CONCURRENCY}: ${fmt(a.verifiesPerSecond, 1)}/s ` +
        `(peak RSS ${fmt(a.peakRssMb)} MB)`,
    );
    for (const row of rows.filter((r) => r.scenario === "login")) {
      lines.push(
        `login on ${row.database}: ${fmt(row.result.requestsPerSecond, 1)}/s = ` +
          `${fmt(row.result.requestsPerSecond / a.verifiesPerSecond, 3)} × raw argon2id`,
      );
    }
  }
  if (options.scale) {
    lines.push("");
    for (const database of databases) {
      for (const scenario of ["validate", "login"]) {
        const [small, large] = SCALE_SIZES.map(
          (size) => rows.find((r) => r.database === `${database} ${size}` && r.scenario === scenario)?.result,
        );
        if (!small || !large) continue;
        const loss = 1 - large.requestsPerSecond / small.requestsPerSecond;
        lines.push(
          `${database} ${scenario}: ${fmt(small.requestsPerSecond, 1)} → ${fmt(large.requestsPerSecond, 1)} req/s ` +
            `from ${SCALE_SIZES[0]} to ${SCALE_SIZES[1]} accounts: ${fmt(loss * 100, 1)} % loss`,
        );
      }
    }
  }
  const peak = Math.max(...rows.filter((r) => r.database !== "-").map((r) => r.peakRssMb));
  lines.push("");
  lines.push(`server peak RSS over all scenarios: ${fmt(peak)} MB`);
  lines.push(`total time: ${fmt((performance.now() - startedAt) / 1000)} s`);
  process.stdout.write(`${lines.join("\n")}\n`);
  if (options.json) {
    writeFileSync(options.json, JSON.stringify({ machine: info, rows, ...context }, null, 2));
  }
}

const context = options.scale ? (await scale(), {}) : await standard();
report(context);
