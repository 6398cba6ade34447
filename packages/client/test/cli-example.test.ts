import { spawn } from "node:child_process";
import { rmSync, statSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { tempDir } from "../../../test/support/harness.js";
import { authenticatorFrom, codeAt } from "../../../test/two-factor/support.js";
import { clientOf, PASSWORD, type Service, startService } from "./support.js";

const ROOT = resolve(fileURLToPath(new URL("../../..", import.meta.url)));

/** Runs the example with `input` on its stdin; resolves with its exit code and output. */
function runCli(args: string[], input: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ["--import", "tsx", "examples/cli-signin/index.ts", ...args], {
      cwd: ROOT,
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
    });
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
    });
    child.on("error", fail);
    child.on("close", (code) => done({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

describe("the command-line example", () => {
  let service: Service | undefined;
  let api: Server | undefined;
  let dir: string | undefined;
  afterEach(async () => {
    await service?.close();
    const server = api;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("signs in with a TOTP code read from stdin and calls the API with the access token", async () => {
    service = await startService();
    const email = "cli@example.com";
    const userId = await service.t.createUser(email, PASSWORD);
    const enrolling = clientOf(service);
    await enrolling.signIn(email, PASSWORD);
    const totp = authenticatorFrom((await enrolling.setUpTotp()).url);
    await enrolling.enableTotp(codeAt(totp, service.t.clock.now()));
    service.t.clock.advanceSeconds(30);

    // The protected API: it asks the service whether the bearer is a valid access token.
    const seen: string[] = [];
    const serviceUrl = service.url;
    api = createServer((req, res) => {
      const authorization = req.headers.authorization ?? "";
      seen.push(authorization);
      fetch(`${serviceUrl}/auth/accesstoken/validate`, { headers: { authorization } })
        .then(async (check) => {
          res.writeHead(check.status, { "content-type": "application/json" });
          res.end(await check.text());
        })
        .catch(() => {
          res.writeHead(502);
          res.end();
        });
    });
    await new Promise<void>((resolve) => api?.listen(0, "127.0.0.1", () => resolve()));
    const apiUrl = `http://127.0.0.1:${(api.address() as AddressInfo).port}/me`;

    dir = tempDir("latchkey-cli-");
    const session = join(dir, "session.json");
    const code = codeAt(totp, service.t.clock.now());
    const run = await runCli(
      [apiUrl, "--service", service.url, "--session", session],
      `${email}\n${PASSWORD}\n${code}\n`,
    );
    expect(run.stderr).toBe("");
    expect(run.stdout).toContain("TOTP code: ");
    expect(run.stdout).toContain("Signed in.");
    expect(run.stdout).toContain(`200 {"userId":${userId}}`);
    expect(run.code).toBe(0);
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatch(/^Bearer ey/);
    expect(statSync(session).mode & 0o777).toBe(0o600);

    // A second run uses the stored session: no prompt.
    const again = await runCli([apiUrl, "--service", service.url, "--session", session], "");
    expect(again.stdout).not.toContain("Email: ");
    expect(again.stdout).toContain(`200 {"userId":${userId}}`);
    expect(again.code).toBe(0);
  });
});
