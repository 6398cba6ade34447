import { runCli } from "./cli.js";

// `npm start`: serve with the configuration from the environment.
process.exitCode = await runCli(["serve"]);
