// Signs in to Latchkey from a terminal, prompting for the second factor, keeps the session in a
// file (0600) and calls a protected API with the access token.
//
//   npx tsx examples/cli-signin/index.ts [api-url] [--service <url>] [--session <file>]
//
// api-url defaults to http://127.0.0.1:3001/me (examples/protected-api); the service to
// LATCHKEY_URL or http://127.0.0.1:8080; the session file to ~/.latchkey-session.json.

import { spawnSync } from "node:child_process";
import { homedir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { FileStore } from "../../packages/client/src/file-store.js";
import { LatchkeyClient, LatchkeyError } from "../../packages/client/src/index.js";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    service: { type: "string", default: process.env.LATCHKEY_URL ?? "http://127.0.0.1:8080" },
    session: { type: "string", default: join(homedir(), ".latchkey-session.json") },
  },
});
const apiUrl = positionals[0] ?? "http://127.0.0.1:3001/me";

// Lines are read through one iterator, which buffers them: input piped in all at once is not lost
// between two prompts.
const rl = createInterface({ input: process.stdin, terminal: false });
const lines = rl[Symbol.asyncIterator]();
async function ask(prompt: string): Promise<string> {
  process.stdout.write(prompt);
  const next = await lines.next();
  if (next.done) throw new Error("no more input");
  return String(next.value).trim();
}

/**
 * A secret from a terminal, not echoed: the terminal's echo is off for that one line (stty, on
 * POSIX terminals). Piped input is read as any other line.
 */
async function askSecret(prompt: string): Promise<string> {
  if (!process.stdin.isTTY) return ask(prompt);
  const stty = (setting: string) => spawnSync("stty", [setting], { stdio: ["inherit", "ignore", "ignore"] });
  stty("-echo");
  try {
    return await ask(prompt);
  } finally {
    stty("echo");
    process.stdout.write("\n");
  }
}

async function main(): Promise<number> {
  const client = new LatchkeyClient({ baseUrl: values.service, store: new FileStore(values.session) });
  if (!(await client.isSignedIn())) {
    const email = await ask("Email: ");
    const password = await askSecret("Password: ");
    const result = await client.signIn(email, password);
    if (result.kind === "secondFactor") {
      if (result.methods.totp) {
        await result.totp(await ask("TOTP code: "));
      } else if (result.methods.emailOtp) {
        await result.sendEmailCode();
        await result.emailCode(await ask("Code from the mail: "));
      } else {
        await result.recoveryCode(await ask("Recovery code: "));
      }
    }
    console.log("Signed in.");
  }
  const res = await fetch(apiUrl, { headers: { authorization: `Bearer ${await client.accessToken()}` } });
  console.log(`${res.status} ${await res.text()}`);
  return res.ok ? 0 : 1;
}

main()
  .then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      console.error(error instanceof LatchkeyError ? `Refused: ${error.code}` : String(error));
      process.exitCode = 1;
    },
  )
  .finally(() => rl.close());
