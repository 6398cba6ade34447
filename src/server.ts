import type { AddressInfo } from "node:net";
import type { FastifyInstance } from "fastify";
import { buildApp } from "./app.js";
import type { Config } from "./config/config.js";
import { buildDeps, type Deps, type DepsOverrides } from "./deps.js";
import { buildMetricsApp } from "./http/metrics-app.js";
import { unsupportedRuntimeWarning } from "./runtime.js";

/** One node with its listeners up: the API, and the metrics listener unless it is off. */
export interface RunningNode {
  deps: Deps;
  app: FastifyInstance;
  metricsApp: FastifyInstance | undefined;
  /** Stops accepting, lets in-flight requests finish, closes the metrics listener, then the database. */
  stop(): Promise<void>;
}

export async function startNode(config: Config, overrides: DepsOverrides = {}): Promise<RunningNode> {
  const deps = await buildDeps(config, overrides);
  const listeners: FastifyInstance[] = [];
  const stop = async () => {
    // The API first, so the metrics can still be read while its requests drain.
    for (const listener of listeners) await listener.close();
    await deps.close();
  };
  try {
    const app = await buildApp(deps);
    listeners.push(app);
    const metricsApp = config.metrics ? await buildMetricsApp(deps.metrics, deps.logger) : undefined;
    if (metricsApp) listeners.push(metricsApp);
    await app.listen({ host: config.host, port: config.port });
    if (metricsApp && config.metrics) await metricsApp.listen(config.metrics);
    return { deps, app, metricsApp, stop };
  } catch (error) {
    // A port already taken, say: nothing is left open to keep the process alive.
    await stop().catch(() => {});
    throw error;
  }
}

/**
 * Runs one Latchkey node until SIGTERM or SIGINT: stop accepting, let in-flight requests finish,
 * then close the database.
 */
export async function serve(config: Config): Promise<void> {
  const node = await startNode(config);
  const { deps } = node;
  const runtimeWarning = unsupportedRuntimeWarning(process.versions.node);
  if (runtimeWarning) deps.logger.warn({ node: process.versions.node }, runtimeWarning);
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    deps.logger.info({ signal }, "shutting down");
    try {
      await node.stop();
      process.exitCode = 0;
    } catch (error) {
      deps.logger.error({ err: error }, "shutdown failed");
      process.exitCode = 1;
    }
  };
  process.once("SIGTERM", (signal) => void stop(signal));
  process.once("SIGINT", (signal) => void stop(signal));
  const metrics = node.metricsApp?.server.address() as AddressInfo | null | undefined;
  deps.logger.info(
    {
      database: deps.store.dialect,
      issuer: config.issuer,
      metrics: metrics ? `${metrics.address}:${metrics.port}` : "off",
    },
    "latchkey is serving",
  );
}
