// `npm start` comes here from start.cts, which has sized libuv's thread pool: one node serving with
// the configuration from the environment, until SIGTERM or SIGINT. `latchkey serve` does the same.
import { reportFailure } from "./cli.js";
import { loadConfig } from "./config/config.js";
import { serve } from "./server.js";

try {
  await serve(loadConfig(process.env));
} catch (error) {
  // A bad configuration or a start that failed (a port taken, a key that cannot be opened): one line.
  process.exitCode = reportFailure(error);
}
