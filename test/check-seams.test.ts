import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";

// `npm run lint` runs this script; here it runs on small trees written for each case.
const SCRIPT = new URL("../scripts/check-seams.mjs", import.meta.url).pathname;

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "latchkey-seams-"));
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

function write(files: Record<string, string>): void {
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
}

function check(dir = root): { status: number | null; out: string } {
  const run = spawnSync(process.execPath, [SCRIPT, dir], { encoding: "utf8" });
  return { status: run.status, out: run.stdout + run.stderr };
}

describe("check-seams", () => {
  it("passes on this repository", () => {
    expect(check(new URL("..", import.meta.url).pathname)).toEqual({ status: 0, out: "seams: ok\n" });
  });

  it("passes imports that go down the layers", () => {
    write({
      "src/core/flows/ok.ts": [
        'import { exportJWK } from "jose";',
        'import type { Clock } from "../../platform/clock.js";',
        'import type { Store } from "../../storage/store.js";',
        'import { AppError } from "../errors.js";',
      ].join("\n"),
      "src/platform/ok.ts": 'import { randomBytes } from "node:crypto";\nimport type { Clock } from "./clock.js";\n',
      "src/mail/ok.ts": [
        'import nodemailer from "nodemailer";',
        'import type { Mailer } from "../core/mail/port.js";',
        'import { AppError } from "../core/errors.js";',
        'import { systemClock } from "../platform/clock.js";',
      ].join("\n"),
      "src/config/ok.ts": 'import { MIN_ARGON2_PARAMS } from "../core/password/hasher.js";\n',
      // A test beside a module may build its fixtures with anything.
      "src/core/tokens/tokens.test.ts": 'import { KyselyStore } from "../../storage/kysely/store.js";\n',
    });
    expect(check()).toEqual({ status: 0, out: "seams: ok\n" });
  });

  it("reports each import against the layers, with its file and line", () => {
    write({
      "src/core/flows/bad.ts": [
        'import type { Config } from "../../config/config.js";',
        "import {",
        "  createMailer,",
        "  DEFAULT_MAIL_DIR,",
        '} from "../../mail/index.js";',
        'import type { FastifyRequest } from "fastify";',
        'import type { Logger } from "pino";',
        'export { connect } from "../../storage/kysely/connect.js";',
        'import type { Deps } from "../../deps.js";',
        'const cors = await import("@fastify/cors");',
        "const port = process.env.PORT;",
      ].join("\n"),
      "src/platform/bad.ts": 'import { parseKeyring } from "../core/secrets/keyring.js";\n',
      "src/mail/bad.ts": 'import { login } from "../core/flows/login.js";\n',
      "src/config/bad.ts": 'import { AppError } from "../core/errors.js";\n',
    });
    const { status, out } = check();
    expect(status).toBe(1);
    const problems = out.trim().split("\n").sort();
    expect(problems).toEqual(
      [
        "src/config/bad.ts:1: config imports src/core/errors.ts (it may import src/config/, src/core/password/hasher.ts)",
        "src/core/flows/bad.ts:1: core imports src/config/config.ts (it may import src/core/, src/platform/, src/storage/store.ts)",
        "src/core/flows/bad.ts:5: core imports src/mail/index.ts (it may import src/core/, src/platform/, src/storage/store.ts)",
        "src/core/flows/bad.ts:6: core imports the package fastify",
        "src/core/flows/bad.ts:7: core imports the package pino",
        "src/core/flows/bad.ts:8: core imports src/storage/kysely/connect.ts (it may import src/core/, src/platform/, src/storage/store.ts)",
        "src/core/flows/bad.ts:9: core imports src/deps.ts (it may import src/core/, src/platform/, src/storage/store.ts)",
        "src/core/flows/bad.ts:10: core imports the package @fastify/cors",
        "src/core/flows/bad.ts:11: core reads process.env",
        "src/mail/bad.ts:1: mail imports src/core/flows/login.ts (it may import src/mail/, src/platform/, src/core/mail/port.ts, src/core/mail/single-address.ts, src/core/errors.ts)",
        "src/platform/bad.ts:1: platform imports src/core/secrets/keyring.ts (it may import src/platform/)",
      ].sort(),
    );
  });

  it("still reports the clock and randomness outside platform", () => {
    write({ "src/http/bad.ts": "export const now = Date.now();\n", "src/platform/clock.ts": "Date.now();\n" });
    expect(check()).toEqual({ status: 1, out: "src/http/bad.ts:1: Date.now() outside src/platform/\n" });
  });
});
