#!/usr/bin/env node
// The `latchkey` command: the compiled command line (dist/cli.js), as `npm start` runs the compiled
// server. `npm run latchkey` builds first; `npm run latchkey:dev` runs the sources through tsx.
import { existsSync } from "node:fs";

const cli = new URL("../dist/cli.js", import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write("latchkey: dist/cli.js is missing; run `npm run build` first\n");
  process.exit(1);
}
const { runCli } = await import(cli.href);
process.exitCode = await runCli(process.argv.slice(2));
