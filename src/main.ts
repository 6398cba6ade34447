import { runCli } from "./cli.js";

// The server with the configuration from the environment (`npm start` comes here through start.cts).
process.exitCode = await runCli(["serve"]);
