/**
 * `npm run bench:revocation` — how long a revocation made on one node takes to be refused on another.
 * Two nodes (the compiled server, as `npm start` runs it) on one PostgreSQL schema, with the session
 * statuses kept (LATCHKEY_SESSION_CACHE=on) and, for comparison, without. Each round: node B accepts
 * an access token (with the cache on, B now keeps its session's status), node A revokes it (a logout,
 * or an admin's disable, in turn), and from A's answer B is asked again and again until it refuses;
 * the time from A's answer to B's first refusal is the round's figure. See docs/benchmarks.md.
 *
 * Options: --rounds <n> (default 400), --json <file>. Needs LATCHKEY_BENCH_POSTGRES_URL.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { parseKeyring } from "../src/core/secrets/keyring.js";
import { Minter, newSigningKey, refreshJti, sessionId } from "./lib/ids.js";
import { ENCRYPTION_KEYS } from "./lib/latchkey.js";
import { type Child, freePort, ROOT, startChild, useRuntime, waitReady } from "./lib/proc.js";
import { createSchema, dropSchema, passwordHash, postgresUrlWithSchema, seedPostgres } from "./lib/seed.js";

const { values: options } = parseArgs({
  options: { rounds: { type: "string", default: "400" }, json: { type: "string" } },
});
const ROUNDS = Number(options.rounds);
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) throw new Error("--rounds takes a positive integer");
const postgresUrl = process.env.LATCHKEY_BENCH_POSTGRES_URL;
if (!postgresUrl) throw new Error("LATCHKEY_BENCH_POSTGRES_URL is not set: this benchmark needs PostgreSQL");
const ADMIN_TOKEN = "bench-admin-token-0123456789abcdefghijklmnopqrstuvwxyz";
/** Asks of node B after a revocation, at most, before the round counts as never refused. */
const MAX_ASKS = 10_000;

interface Figures {
  cache: "on" | "off";
  rounds: number;
  /** Milliseconds from the revoking answer on A to the first refusal on B. */
  p50: number;
  p99: number;
  max: number;
  /** Rounds B refused on its first ask after A's answer. */
  refusedAtOnce: number;
  neverRefused: number;
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

async function measure(cache: "on" | "off"): Promise<Figures> {
  const schema = `bench_revocation_${process.pid}_${cache}`;
  const dataDirs: string[] = [];
  const nodes: Child[] = [];
  await createSchema(postgresUrl as string, schema);
  try {
    const key = newSigningKey();
    await seedPostgres(
      postgresUrl as string,
      schema,
      { plainUsers: ROUNDS, totpUsers: 0, refreshTokens: true },
      key,
      parseKeyring(ENCRYPTION_KEYS),
      await passwordHash(),
    );
    const urls: string[] = [];
    for (const name of ["a", "b"]) {
      const port = await freePort();
      const dataDir = mkdtempSync(join(tmpdir(), `latchkey-revocation-${name}-`));
      dataDirs.push(dataDir);
      const child = startChild("src/start.cts", [], {
        LATCHKEY_HOST: "127.0.0.1",
        LATCHKEY_PORT: String(port),
        LATCHKEY_METRICS_PORT: "off",
        // One issuer for both, as behind one address.
        LATCHKEY_ISSUER: "http://latchkey.bench",
        LATCHKEY_DATA_DIR: dataDir,
        LATCHKEY_DATABASE_URL: postgresUrlWithSchema(postgresUrl as string, schema),
        LATCHKEY_RATE_LIMIT_PER_MINUTE: "1000000",
        LATCHKEY_ENCRYPTION_KEYS: ENCRYPTION_KEYS,
        LATCHKEY_ADMIN_TOKEN: ADMIN_TOKEN,
        LATCHKEY_MAIL_DIR: join(ROOT, "mail"),
        LATCHKEY_SESSION_CACHE: cache,
      });
      nodes.push(child);
      urls.push(`http://127.0.0.1:${port}`);
      await waitReady(child, `http://127.0.0.1:${port}/health/ready`);
    }
    const [a, b] = urls as [string, string];
    const minter = new Minter(key, "http://latchkey.bench");
    const ask = (access: string) =>
      fetch(`${b}/auth/accesstoken/validate`, { headers: { authorization: `Bearer ${access}` } }).then(
        (res) => res.status,
      );
    const delays: number[] = [];
    let refusedAtOnce = 0;
    let neverRefused = 0;
    for (let user = 1; user <= ROUNDS; user++) {
      const access = minter.mint("access", user, sessionId(user), 300);
      if ((await ask(access)) !== 200) throw new Error(`node B refused user ${user}'s token before its revocation`);
      // A logout (the session's row) and an admin's disable (the user's row), in turn.
      const revoke =
        user % 2 === 1
          ? fetch(`${a}/auth/logout`, {
              method: "POST",
              headers: {
                authorization: `Bearer ${minter.mint("refresh", user, sessionId(user), 3600, refreshJti(user))}`,
              },
            })
          : fetch(`${a}/admin/users/${user}/disable`, {
              method: "POST",
              headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" },
              body: "{}",
            });
      const answer = await revoke;
      if (!answer.ok) throw new Error(`node A did not revoke user ${user}: ${answer.status} ${await answer.text()}`);
      const answeredAt = performance.now();
      let asks = 0;
      let status = 200;
      while (status === 200 && asks < MAX_ASKS) {
        status = await ask(access);
        asks++;
      }
      if (status === 200) {
        neverRefused++;
        continue;
      }
      if (status !== 401) throw new Error(`node B answered ${status} for a revoked token`);
      if (asks === 1) refusedAtOnce++;
      delays.push(performance.now() - answeredAt);
    }
    delays.sort((x, y) => x - y);
    return {
      cache,
      rounds: ROUNDS,
      p50: percentile(delays, 50),
      p99: percentile(delays, 99),
      max: delays.at(-1) ?? Number.NaN,
      refusedAtOnce,
      neverRefused,
    };
  } finally {
    for (const node of nodes) await node.stop();
    for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
    await dropSchema(postgresUrl as string, schema);
  }
}

useRuntime("compiled", ["--max-old-space-size=256", "--max-semi-space-size=4"], { MALLOC_ARENA_MAX: "2" });
const results: Figures[] = [];
for (const cache of ["on", "off"] as const) {
  process.stdout.write(`session cache ${cache}: ${ROUNDS} revocations on node A, asked on node B…\n`);
  results.push(await measure(cache));
}
const ms = (value: number) => value.toFixed(1);
process.stdout.write(
  "\n| session cache | rounds | p50 ms | p99 ms | max ms | refused at the first ask | never refused |\n",
);
process.stdout.write("|---|---|---|---|---|---|---|\n");
for (const r of results) {
  process.stdout.write(
    `| ${r.cache} | ${r.rounds} | ${ms(r.p50)} | ${ms(r.p99)} | ${ms(r.max)} | ${r.refusedAtOnce} | ${r.neverRefused} |\n`,
  );
}
process.stdout.write(
  "\nFrom node A's answer to node B's first refusal (B asked in a loop, each ask one request). Target: p99 < 50 ms.\n",
);
if (options.json) writeFileSync(options.json, `${JSON.stringify(results, null, 2)}\n`);
