import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { runCli } from "../src/cli.js";
import { closedPort } from "./support/smtp.js";

/**
 * The real process: `npm start`'s entry point, stopped with SIGTERM while a request is in flight; its
 * metrics listener closes with it.
 */
describe("graceful shutdown", () => {
  let dir: string;
  let child: ChildProcess | undefined;
  afterEach(() => {
    child?.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  it("finishes the in-flight request, then closes and exits 0", async () => {
    dir = mkdtempSync(join(tmpdir(), "latchkey-stop-"));
    const port = await closedPort();
    const metricsPort = await closedPort();
    const env = {
      ...process.env,
      LATCHKEY_DATA_DIR: dir,
      LATCHKEY_PORT: String(port),
      LATCHKEY_METRICS_PORT: String(metricsPort),
      LATCHKEY_ENCRYPTION_KEYS: `k1:${Buffer.alloc(32, 3).toString("base64")}`,
      // At debug a request writes a line when it arrives: the test waits for it.
      LATCHKEY_LOG_LEVEL: "debug",
    };
    const quiet = { write: process.stdout.write };
    process.stdout.write = () => true;
    try {
      expect(await runCli(["user", "create", "--email", "alice@example.com", "--password", "Correct7Horse"], env)).toBe(
        0,
      );
    } finally {
      process.stdout.write = quiet.write;
    }
    const server = spawn(process.execPath, ["--import", "tsx", "src/main.ts"], {
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    child = server;
    let output = "";
    const listening = new Promise<void>((resolve, reject) => {
      server.stdout?.on("data", (chunk) => {
        output += String(chunk);
        if (output.includes("latchkey is serving")) resolve();
      });
      server.once("exit", (code) => reject(new Error(`server exited early with ${code}: ${output}`)));
    });
    await listening;
    expect((await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).status).toBe(200);
    const exited = new Promise<number | null>((resolve) => server.once("exit", (code) => resolve(code)));

    // A login costs one argon2id verification: long enough to be in flight when the signal lands.
    const inFlight = fetch(`http://127.0.0.1:${port}/auth/login`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ username: "alice@example.com", password: "Correct7Horse" }),
    });
    await new Promise<void>((resolve) => server.stdout?.once("data", () => resolve())); // "incoming request"
    server.kill("SIGTERM");
    const res = await inFlight;
    expect(res.status).toBe(200);
    expect((await res.text()).split(".")).toHaveLength(3);
    expect(await exited).toBe(0);
    expect(output).toContain("shutting down");
    await expect(fetch(`http://127.0.0.1:${port}/health/live`)).rejects.toThrow();
    await expect(fetch(`http://127.0.0.1:${metricsPort}/metrics`)).rejects.toThrow();
  });
});
