import { Writable } from "node:stream";
import pino from "pino";
import { REDACTED_LOG_PATHS } from "../../src/deps.js";

/** Every line a logger at `level` writes, kept in memory, with the server's redaction. */
export function capturingLogger(level: pino.LevelWithSilent = "trace"): {
  logger: pino.Logger;
  text(): string;
  lines(): Record<string, unknown>[];
} {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  const logger = pino({ level, redact: { paths: REDACTED_LOG_PATHS, censor: "[redacted]" } }, sink);
  return {
    logger,
    text: () => lines.join(""),
    lines: () =>
      lines
        .join("")
        .split("\n")
        .filter((line) => line !== "")
        .map((line) => JSON.parse(line) as Record<string, unknown>),
  };
}
