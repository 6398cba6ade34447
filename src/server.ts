import { buildApp } from "./app.js";
import type { Config } from "./config/config.js";
import { buildDeps } from "./deps.js";
import { unsupportedRuntimeWarning } from "./runtime.js";

/**
 * Runs one Latchkey node until SIGTERM or SIGINT: stop accepting, let in-flight requests finish,
 * then close the database.
 */
export async function serve(config: Config): Promise<void> {
  const deps = await buildDeps(config);
  const runtimeWarning = unsupportedRuntimeWarning(process.versions.node);
  if (runtimeWarning) deps.logger.warn({ node: process.versions.node }, runtimeWarning);
  const app = await buildApp(deps);
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    deps.logger.info({ signal }, "shutting down");
    try {
      await app.close();
      await deps.close();
      process.exitCode = 0;
    } catch (error) {
      deps.logger.error({ err: error }, "shutdown failed");
      process.exitCode = 1;
    }
  };
  process.once("SIGTERM", (signal) => void stop(signal));
  process.once("SIGINT", (signal) => void stop(signal));
  await app.listen({ host: config.host, port: config.port });
  deps.logger.info({ database: deps.store.dialect, issuer: config.issuer }, "latchkey is serving");
}
