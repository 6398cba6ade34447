import type { FastifyBaseLogger } from "fastify";
import pino, { type Bindings, type ChildLoggerOptions } from "pino";

type Level = "fatal" | "error" | "warn" | "info" | "debug" | "trace";

/** Whether a line at `level` passes a logger at `threshold` ("silent" and unknown names pass nothing). */
function enabled(level: Level, threshold: string): boolean {
  const at = pino.levels.values[level];
  const min = pino.levels.values[threshold];
  return at !== undefined && min !== undefined && at >= min;
}

/**
 * A request's logger, made only when the request logs at an enabled level. Fastify gives every
 * request a child logger bound to its id, and making one runs pino's redaction over the bindings
 * (about 2.7 KB allocated per request); at the usual levels most requests log nothing. Lines that
 * are logged are those of the child Fastify would have made: same bindings, same redaction.
 */
class LazyRequestLogger {
  #made: FastifyBaseLogger | undefined;

  constructor(
    private readonly parent: FastifyBaseLogger,
    private readonly bindings: Bindings,
    private readonly options: ChildLoggerOptions | undefined,
  ) {}

  private get made(): FastifyBaseLogger {
    this.#made ??= this.parent.child(this.bindings, this.options);
    return this.#made;
  }

  get level(): string {
    return this.#made?.level ?? this.options?.level ?? this.parent.level;
  }

  set level(level: string) {
    this.made.level = level;
  }

  private log(level: Level, args: unknown[]): void {
    if (enabled(level, this.level)) (this.made[level] as (...rest: unknown[]) => void)(...args);
  }

  fatal(...args: unknown[]): void {
    this.log("fatal", args);
  }
  error(...args: unknown[]): void {
    this.log("error", args);
  }
  warn(...args: unknown[]): void {
    this.log("warn", args);
  }
  info(...args: unknown[]): void {
    this.log("info", args);
  }
  debug(...args: unknown[]): void {
    this.log("debug", args);
  }
  trace(...args: unknown[]): void {
    this.log("trace", args);
  }
  silent(): void {}

  child(bindings: Bindings, options?: ChildLoggerOptions): FastifyBaseLogger {
    return this.made.child(bindings, options);
  }
}

/** Fastify's `childLoggerFactory`: the request's logger, made on its first enabled line. */
export function lazyRequestLogger(
  logger: FastifyBaseLogger,
  bindings: Bindings,
  options: ChildLoggerOptions,
): FastifyBaseLogger {
  return new LazyRequestLogger(logger, bindings, options) as unknown as FastifyBaseLogger;
}
