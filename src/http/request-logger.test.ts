import type { FastifyBaseLogger } from "fastify";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { lazyRequestLogger } from "./request-logger.js";

/** A real pino logger writing into memory, with the server's kind of redaction. */
function memoryLogger(level: string) {
  const lines: Record<string, unknown>[] = [];
  const stream = { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) };
  const logger = pino({ level, redact: { paths: ["*.password"], censor: "[redacted]" } }, stream);
  return { logger: logger as unknown as FastifyBaseLogger, lines };
}

describe("lazyRequestLogger", () => {
  it("logs nothing below the level, and at the level logs the request's child line with its redaction", () => {
    const { logger, lines } = memoryLogger("warn");
    const log = lazyRequestLogger(logger, { reqId: "r1" }, {});
    log.info("incoming request");
    log.debug({ a: 1 }, "detail");
    expect(lines).toEqual([]);
    log.warn({ body: { password: "hunter2" } }, "odd");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 40, reqId: "r1", msg: "odd", body: { password: "[redacted]" } });
  });

  it("honours a route's own level, and reports the level it logs at", () => {
    const { logger, lines } = memoryLogger("warn");
    const log = lazyRequestLogger(logger, { reqId: "r2" }, { level: "debug" });
    expect(log.level).toBe("debug");
    log.trace("not this");
    log.debug("this");
    expect(lines.map((line) => line.msg)).toEqual(["this"]);
    expect(lazyRequestLogger(logger, { reqId: "r3" }, {}).level).toBe("warn");
  });

  it("lets the level be changed, and gives children both sets of bindings", () => {
    const { logger, lines } = memoryLogger("error");
    const log = lazyRequestLogger(logger, { reqId: "r4" }, {});
    log.level = "info";
    log.info("now");
    log.child({ step: "mail" }).error("child line");
    expect(lines).toMatchObject([
      { reqId: "r4", msg: "now" },
      { reqId: "r4", step: "mail", msg: "child line" },
    ]);
  });

  it("logs nothing at all when silent", () => {
    const { logger, lines } = memoryLogger("silent");
    const log = lazyRequestLogger(logger, { reqId: "r5" }, {});
    log.fatal("no");
    log.error("no");
    expect(lines).toEqual([]);
  });
});
