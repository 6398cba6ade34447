/**
 * The embedded default for `LATCHKEY_ENCRYPTION_KEYS`: a key file next to the data, made on first
 * start. Lives in platform because it touches the filesystem and makes a key; it only reads and
 * writes the text, and the caller parses it as a keyring.
 */
import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import type { Random } from "./random.js";

/**
 * Returns the text stored at `path` (trimmed), creating the file (mode 0600, parent dir 0700) with
 * one fresh key `k<8 hex>:<base64 of 32 random bytes>` if it does not exist.
 *
 * Creation never clobbers: the key is written completely to a private temporary file, which is
 * then hard-linked to `path`. link(2) fails with EEXIST if `path` exists, so when two processes race
 * exactly one key wins and the loser reads it. Unlike writing `path` directly with flag "wx", a
 * reader can never see the file created but still empty.
 */
export function loadOrCreateKeyFile(path: string, random: Random): string {
  const existing = readIfExists(path);
  if (existing !== null) return existing;

  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const value = `k${random.bytes(4).toString("hex")}:${random.bytes(32).toString("base64")}`;
  const temporary = `${path}.${random.bytes(8).toString("hex")}.tmp`;
  writeFileSync(temporary, `${value}\n`, { mode: 0o600, flag: "wx" });
  try {
    linkSync(temporary, path);
  } catch (error) {
    if (!isErrno(error, "EEXIST")) throw error;
    const winner = readIfExists(path);
    if (winner === null) throw error;
    return winner;
  } finally {
    unlinkSync(temporary);
  }
  return value;
}

function readIfExists(path: string): string | null {
  try {
    return readFileSync(path, "utf8").trim();
  } catch (error) {
    if (isErrno(error, "ENOENT")) return null;
    throw error;
  }
}

function isErrno(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}
