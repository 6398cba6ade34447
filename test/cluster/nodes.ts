import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect, createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { secureRandom } from "../../src/platform/random.js";
import { closedPort } from "../support/smtp.js";

export const ROOT = resolve(fileURLToPath(new URL("../..", import.meta.url)));
/** The cluster's build: beside dist/, at the same depth, so that it finds pages/ and mail/ as dist/ does. */
export const BUILD = join(ROOT, "dist-cluster");
export const ADMIN_TOKEN = "cluster-admin-token-0123456789abcdefghijklmnopqrstuvwxyz";
export const ISSUER = "http://latchkey.cluster.test";
/** The encryption key every node and command of the cluster shares. */
const ENCRYPTION_KEYS = `cluster1:${Buffer.alloc(32, 9).toString("base64")}`;

/** Compiles the server as `npm run build` does, into BUILD. */
export async function buildServer(): Promise<void> {
  const tsc = spawn(
    process.execPath,
    [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json", "--outDir", BUILD],
    { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  tsc.stdout?.on("data", (chunk) => (output += String(chunk)));
  tsc.stderr?.on("data", (chunk) => (output += String(chunk)));
  const [code] = (await once(tsc, "exit")) as [number | null];
  if (code !== 0) throw new Error(`the build failed: ${output}`);
}

/** A PostgreSQL schema of the cluster's own, and a URL whose connections use it. */
export async function createSchema(url: string): Promise<{ url: string; schema: string; drop(): Promise<void> }> {
  const schema = `cluster_${secureRandom.bytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`create schema ${schema}`);
  await admin.end();
  const scoped = new URL(url);
  scoped.searchParams.set("options", `-c search_path=${schema}`);
  return {
    url: scoped.toString(),
    schema,
    async drop() {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      await client.query(`drop schema ${schema} cascade`);
      await client.end();
    },
  };
}

export interface Node {
  name: string;
  url: string;
  port: number;
  process: ChildProcess;
  output(): string;
  /** Stops the node (SIGTERM, or the signal given) and waits for it to exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** Starts a node from the build, as `npm start` does (its Node flags), and waits for it to serve. */
export async function startNode(name: string, env: Record<string, string>, port?: number): Promise<Node> {
  const listen = port ?? (await closedPort());
  const dataDir = mkdtempSync(join(tmpdir(), `latchkey-${name}-`));
  const child = spawn(
    process.execPath,
    ["--max-old-space-size=256", "--max-semi-space-size=4", join(BUILD, "start.cjs")],
    {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH,
        MALLOC_ARENA_MAX: "2",
        NODE_ENV: "production",
        LATCHKEY_HOST: "127.0.0.1",
        LATCHKEY_PORT: String(listen),
        LATCHKEY_METRICS_PORT: "off",
        LATCHKEY_DATA_DIR: dataDir,
        LATCHKEY_ISSUER: ISSUER,
        LATCHKEY_ADMIN_TOKEN: ADMIN_TOKEN,
        LATCHKEY_TRUST_PROXY: "127.0.0.1",
        LATCHKEY_ENCRYPTION_KEYS: ENCRYPTION_KEYS,
        ...env,
      },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let output = "";
  child.stdout?.on("data", (chunk) => (output += String(chunk)));
  child.stderr?.on("data", (chunk) => (output += String(chunk)));
  const exited = once(child, "exit");
  await new Promise<void>((resolveReady, reject) => {
    const check = () => {
      if (output.includes("latchkey is serving")) resolveReady();
    };
    child.stdout?.on("data", check);
    child.once("exit", (code) => reject(new Error(`node ${name} exited with ${code} before serving: ${output}`)));
  });
  return {
    name,
    url: `http://127.0.0.1:${listen}`,
    port: listen,
    process: child,
    output: () => output,
    async stop(signal: NodeJS.Signals = "SIGTERM") {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill(signal);
        await exited;
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** A JSON request to a node; `as` sets X-Forwarded-For (the nodes trust the loopback as a proxy). */
export async function call(
  node: Node,
  method: string,
  path: string,
  options: { token?: string; body?: unknown; as?: string } = {},
): Promise<{ status: number; body: string; json(): Record<string, unknown> }> {
  const headers: Record<string, string> = {};
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers["content-type"] = "application/json";
  if (options.as) headers["x-forwarded-for"] = options.as;
  const res = await fetch(`${node.url}${path}`, {
    method,
    headers,
    ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
  });
  const body = await res.text();
  return { status: res.status, body, json: () => JSON.parse(body) as Record<string, unknown> };
}

/**
 * A TCP relay between a node and PostgreSQL, so that one node can lose its database while the others
 * keep theirs: `cut` ends every relayed connection and stops listening (new connections are
 * refused, as when the database is down), `restore` listens on the same port again.
 */
export interface Relay {
  port: number;
  cut(): Promise<void>;
  restore(): Promise<void>;
  close(): Promise<void>;
}

export async function startRelay(target: { host: string; port: number }): Promise<Relay> {
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const upstream = connect(target.port, target.host);
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      socket.on("error", () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  const listen = (port: number) =>
    new Promise<void>((resolveListen, reject) => {
      server.once("error", reject);
      server.listen(port, "127.0.0.1", () => {
        server.off("error", reject);
        resolveListen();
      });
    });
  await listen(0);
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("the relay has no port");
  const port = address.port;
  const stopListening = () =>
    new Promise<void>((resolveClose) => {
      if (!server.listening) return resolveClose();
      server.close(() => resolveClose());
      for (const socket of sockets) socket.destroy();
    });
  return {
    port,
    cut: stopListening,
    restore: () => listen(port),
    close: stopListening,
  };
}

/** The same database URL, reached through a relay on `port`. */
export function throughRelay(url: string, port: number): string {
  const relayed = new URL(url);
  relayed.hostname = "127.0.0.1";
  relayed.port = String(port);
  return relayed.toString();
}

/** Runs the build's command line (`latchkey <args>`) with the nodes' settings; its output, parsed. */
export async function runCommand(args: string[], env: Record<string, string>): Promise<Record<string, unknown>> {
  const child = spawn(process.execPath, [join(BUILD, "cli.js"), ...args], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      LATCHKEY_ISSUER: ISSUER,
      LATCHKEY_ENCRYPTION_KEYS: ENCRYPTION_KEYS,
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk) => (stdout += String(chunk)));
  child.stderr?.on("data", (chunk) => (stderr += String(chunk)));
  const [code] = (await once(child, "exit")) as [number | null];
  if (code !== 0) throw new Error(`latchkey ${args.join(" ")} exited with ${code}: ${stderr}`);
  return JSON.parse(stdout) as Record<string, unknown>;
}

/**
 * Asks `probe` again, every `everyMs`, until it returns something other than undefined; throws when
 * `withinMs` has passed. For what another process does in its own time (a node's timer, a
 * reconnection), which no clock of the test's can move.
 */
export async function eventually<T>(probe: () => Promise<T | undefined>, withinMs: number, everyMs = 20): Promise<T> {
  const deadline = performance.now() + withinMs;
  for (;;) {
    const found = await probe();
    if (found !== undefined) return found;
    if (performance.now() > deadline) throw new Error(`not within ${withinMs} ms`);
    await delay(everyMs);
  }
}

/** nginx in front of some nodes, with the sample configuration of docs/operations.md. */
export interface Proxy {
  url: string;
  /** The upstream address of each request answered so far, in order (nginx's access log). */
  upstreams(): string[];
  stop(): Promise<void>;
}

/**
 * The ```nginx block of docs/operations.md, its upstream servers and listen port replaced by the
 * given ones, inside an `http { }` of the test's own (its files in a temporary directory).
 */
export async function startNginx(nginx: string, upstreamPorts: number[]): Promise<Proxy> {
  const docs = readFileSync(join(ROOT, "docs/operations.md"), "utf8");
  const sample = /```nginx\n([\s\S]*?)```/.exec(docs)?.[1];
  if (!sample) throw new Error("docs/operations.md has no nginx sample");
  const port = await closedPort();
  const dir = mkdtempSync(join(tmpdir(), "latchkey-nginx-"));
  const servers = upstreamPorts.map((p) => `    server 127.0.0.1:${p};`).join("\n");
  const block = sample
    .replace(/(upstream latchkey \{\n)(?:\s*server [^\n]+\n)+/, `$1${servers}\n`)
    .replace(/listen 80;/, `listen 127.0.0.1:${port};`);
  if (!block.includes(`listen 127.0.0.1:${port};`) || !block.includes(servers)) {
    throw new Error(`the nginx sample did not take the test's ports:\n${block}`);
  }
  const log = join(dir, "upstreams.log");
  writeFileSync(
    join(dir, "nginx.conf"),
    [
      "worker_processes 1;",
      `pid ${join(dir, "nginx.pid")};`,
      `error_log ${join(dir, "error.log")} warn;`,
      "events { worker_connections 256; }",
      "http {",
      "  log_format upstream '$upstream_addr';",
      `  access_log ${log} upstream;`,
      ...["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map((kind) => `  ${kind}_temp_path ${join(dir, kind)};`),
      block,
      "}",
      "",
    ].join("\n"),
  );
  const child = spawn(
    nginx,
    ["-p", dir, "-c", join(dir, "nginx.conf"), "-e", join(dir, "error.log"), "-g", "daemon off;"],
    {
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let output = "";
  child.stdout?.on("data", (chunk) => (output += String(chunk)));
  child.stderr?.on("data", (chunk) => (output += String(chunk)));
  const exited = once(child, "exit");
  const url = `http://127.0.0.1:${port}`;
  await eventually(async () => {
    if (child.exitCode !== null) throw new Error(`nginx exited: ${output}${readIfThere(join(dir, "error.log"))}`);
    try {
      return (await fetch(`${url}/health/live`)).ok ? true : undefined;
    } catch {
      return undefined;
    }
  }, 10_000);
  return {
    url,
    upstreams: () =>
      readIfThere(log)
        .split("\n")
        .filter((line) => line !== ""),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGQUIT");
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function readIfThere(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return "";
  }
}
