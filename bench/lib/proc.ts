/**
 * Child processes of a benchmark run: the Latchkey server, the bare-Fastify baseline and the raw
 * argon2 probe. Every child is started the same way (one runtime, the same Node flags), tracked,
 * and killed when the runner exits for any reason.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/**
 * How every child runs its TypeScript: `compiled` (tsc output, plain `node file.js`: what `npm start`
 * does), or `tsx` (`node --import tsx file.ts`, as in development). The baseline, the server and the
 * argon2 probe always share one runtime, the same Node flags and the same environment.
 */
export type RuntimeKind = "tsx" | "compiled";

const COMPILED_DIR = join(ROOT, "node_modules", ".cache", "latchkey-bench");
let runtime: RuntimeKind = "compiled";
let commonFlags: string[] = [];
let commonEnv: Record<string, string> = {};

/**
 * Selects the runtime, the Node flags and the environment variables every child gets; `compiled`
 * builds first (tsc, ~10 s).
 */
export function useRuntime(kind: RuntimeKind, flags: string[], env: Record<string, string> = {}): void {
  runtime = kind;
  commonFlags = flags;
  commonEnv = env;
  if (kind !== "compiled") return;
  rmSync(COMPILED_DIR, { recursive: true, force: true });
  mkdirSync(COMPILED_DIR, { recursive: true });
  const project = join(COMPILED_DIR, "tsconfig.json");
  writeFileSync(
    project,
    JSON.stringify({
      extends: join(ROOT, "tsconfig.json"),
      compilerOptions: { rootDir: ROOT, outDir: join(COMPILED_DIR, "out"), noEmit: false, incremental: false },
      files: ["src/start.cts", "bench/baseline-server.ts", "bench/argon2-raw.ts"].map((file) => join(ROOT, file)),
      include: [],
    }),
  );
  const tsc = spawnSync(process.execPath, [join(ROOT, "node_modules", "typescript", "bin", "tsc"), "-p", project], {
    cwd: ROOT,
    encoding: "utf8",
  });
  if (tsc.status !== 0) throw new Error(`tsc failed:\n${tsc.stdout}${tsc.stderr}`);
  // The server finds its pages and mail beside its code, as dist/ finds them in the checkout.
  for (const folder of ["pages", "mail"]) symlinkSync(join(ROOT, folder), join(COMPILED_DIR, "out", folder), "dir");
}

export function runtimeDescription(): string {
  const flags = [...(runtime === "tsx" ? ["--import", "tsx"] : []), ...commonFlags];
  return `${runtime === "tsx" ? "node --import tsx <file>.ts" : "node <tsc output>.js"}${commonFlags.length ? ` ${commonFlags.join(" ")}` : ""} (flags: ${flags.join(" ") || "none"})`;
}

function command(script: string): string[] {
  if (runtime === "tsx") return ["--import", "tsx", ...commonFlags, script];
  return [...commonFlags, join(COMPILED_DIR, "out", script.replace(/\.ts$/, ".js").replace(/\.cts$/, ".cjs"))];
}

const children = new Set<ChildProcess>();

function killAll(): void {
  for (const child of children) {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  }
}
process.on("exit", killAll);
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    killAll();
    process.exit(130);
  });
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

export interface Child {
  readonly pid: number;
  readonly output: () => string;
  readonly alive: () => boolean;
  /** Resolves with the exit code (or the signal's name). */
  readonly exited: Promise<number | string>;
  stop(): Promise<void>;
}

/** Starts `script` in the selected runtime with exactly `env` (plus PATH/HOME) and collects its output. */
export function startChild(
  script: string,
  args: string[],
  env: Record<string, string>,
  extraFlags: string[] = [],
): Child {
  const base: Record<string, string> = {};
  for (const name of ["PATH", "HOME", "TMPDIR", "LANG", "UV_THREADPOOL_SIZE"]) {
    const value = process.env[name];
    if (value !== undefined) base[name] = value;
  }
  const child = spawn(process.execPath, [...extraFlags, ...command(script), ...args], {
    cwd: ROOT,
    env: { ...base, ...commonEnv, NODE_ENV: "production", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(child);
  let output = "";
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-20_000);
  };
  child.stdout?.on("data", collect);
  child.stderr?.on("data", collect);
  const exited = new Promise<number | string>((resolve) => {
    child.once("exit", (code, signal) => {
      children.delete(child);
      resolve(code ?? signal ?? "unknown");
    });
  });
  if (child.pid === undefined) throw new Error(`could not start ${script}`);
  return {
    pid: child.pid,
    output: () => output,
    alive: () => child.exitCode === null && child.signalCode === null,
    exited,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * Calls `look` every `intervalMs` until it answers something other than undefined; fails, with the
 * child's output, if the child exits first or `timeoutMs` runs out. `notBeforeMs`: the first look is
 * that much later (polling costs the runner CPU, which would be taken from what the child measures).
 */
async function pollChild<T>(
  child: Pick<Child, "output" | "alive">,
  what: string,
  look: () => T | undefined | Promise<T | undefined>,
  options: { timeoutMs: number; intervalMs: number; notBeforeMs?: number },
): Promise<T> {
  const deadline = performance.now() + options.timeoutMs;
  const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
  if (options.notBeforeMs) await pause(options.notBeforeMs);
  for (;;) {
    const found = await look();
    if (found !== undefined) return found;
    if (!child.alive()) throw new Error(`the child exited before ${what}:\n${child.output()}`);
    if (performance.now() > deadline) throw new Error(`not ${what} after ${options.timeoutMs} ms:\n${child.output()}`);
    await pause(options.intervalMs);
  }
}

/** Polls the child's output every 5 ms until `pattern` matches it (see pollChild). */
export function waitForOutput(
  child: Pick<Child, "output" | "alive">,
  pattern: RegExp,
  options: { timeoutMs?: number; notBeforeMs?: number } = {},
): Promise<RegExpExecArray> {
  return pollChild(child, `printing ${pattern}`, () => pattern.exec(child.output()) ?? undefined, {
    timeoutMs: options.timeoutMs ?? 120_000,
    intervalMs: 5,
    ...(options.notBeforeMs === undefined ? {} : { notBeforeMs: options.notBeforeMs }),
  });
}

/** Polls `url` every 100 ms until it answers 200 (see pollChild). */
export async function waitReady(child: Child, url: string, timeoutMs = 60_000): Promise<void> {
  await pollChild(
    child,
    "ready",
    async () => {
      try {
        return (await fetch(url)).ok ? true : undefined;
      } catch {
        return undefined; // not listening yet
      }
    },
    { timeoutMs, intervalMs: 100 },
  );
}

/** Resets the kernel's peak-RSS mark of `pid` (Linux ≥ 4.0: writing 5 to clear_refs). */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

/** VmHWM of `pid` in MiB: the peak resident set since start or since the last reset. */
export function peakRssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const match = /^VmHWM:\s+(\d+) kB/m.exec(status);
  return match ? Number(match[1]) / 1024 : Number.NaN;
}

/** Busy and total CPU ticks of the whole machine (first line of /proc/stat). */
function machineTicks(): { busy: number; total: number } {
  const fields = (readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "").trim().split(/\s+/).slice(1).map(Number);
  const total = fields.reduce((a, b) => a + b, 0);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  return { busy: total - idle, total };
}

/** CPU ticks (user + system, all threads) of `pid`; 0 once it has gone. */
export function processTicks(pid: number): number {
  return ticks(`/proc/${pid}/stat`);
}

/** CPU ticks of the main thread of `pid` (for Node: the thread that runs JavaScript and the event loop). */
export function mainThreadTicks(pid: number): number {
  return ticks(`/proc/${pid}/task/${pid}/stat`);
}

/** User + system ticks from a `stat` file of a process or thread; 0 once it has gone. */
function ticks(statFile: string): number {
  try {
    const stat = readFileSync(statFile, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0;
  }
}

/** Where the machine's cores went over a stretch of time (see cpuMeter). */
export interface CpuShares {
  /** Cores the server used, all its threads. */
  serverCores: number;
  /** Cores the server's event-loop thread used: its JavaScript, its I/O and its share of the rest. */
  loopCores: number;
  /** Cores used by processes other than the server and the runner. */
  otherCores: number;
  /** Cores the runner used: the load generator. */
  runnerCores: number;
  /** Cores nobody used. */
  idleCores: number;
}

/**
 * Where the machine's CPU went per unit of work (a login, a verification), in ms of one core: the
 * measured process's event loop and its other threads (on the thread pool: the password hashes),
 * other processes (PostgreSQL's backends), the load generator, and idle time. They add up to the
 * machine's cores divided by the rate, so two such budgets compare rates: rate A ÷ rate B = total B
 * ÷ total A.
 */
export interface CpuBudget {
  pool: number;
  loop: number;
  other: number;
  loadGenerator: number;
  idle: number;
  total: number;
}

export function budgetPerUnit(shares: CpuShares, unitsPerSecond: number): CpuBudget {
  const ms = (cores: number) => (cores * 1000) / unitsPerSecond;
  const parts = {
    pool: ms(shares.serverCores - shares.loopCores),
    loop: ms(shares.loopCores),
    other: ms(shares.otherCores),
    loadGenerator: ms(shares.runnerCores),
    idle: ms(shares.idleCores),
  };
  return { ...parts, total: parts.pool + parts.loop + parts.other + parts.loadGenerator + parts.idle };
}

/**
 * Measures, over a stretch of time, how many cores the server `pid` used, and how many went to
 * processes other than the server and `runnerPid` (this runner): other tenants of the machine, or
 * PostgreSQL's own backends. Other work skews figures; the share of the server's event-loop thread
 * tells whether it was the bottleneck (near 1 core: that thread was busy all along).
 */
export function cpuMeter(serverPid: number, runnerPid: number): () => CpuShares {
  const start = machineTicks();
  const serverStart = processTicks(serverPid);
  const loopStart = mainThreadTicks(serverPid);
  const runnerStart = processTicks(runnerPid);
  return () => {
    const end = machineTicks();
    const cores = (end.total - start.total) / availableParallelism();
    const server = processTicks(serverPid) - serverStart;
    const loop = mainThreadTicks(serverPid) - loopStart;
    const runner = processTicks(runnerPid) - runnerStart;
    if (!(cores > 0)) {
      const unknown = Number.NaN;
      return {
        serverCores: unknown,
        loopCores: unknown,
        otherCores: unknown,
        runnerCores: unknown,
        idleCores: unknown,
      };
    }
    const busy = end.busy - start.busy;
    return {
      serverCores: server / cores,
      loopCores: loop / cores,
      otherCores: Math.max(0, busy - server - runner) / cores,
      runnerCores: runner / cores,
      idleCores: (end.total - start.total - busy) / cores,
    };
  };
}
