import { chmodSync, closeSync, mkdirSync, openSync, statSync } from "node:fs";
import { dirname } from "node:path";

/** Owner read and write only: the database holds password hashes, sealed secrets and sessions. */
const FILE_MODE = 0o600;

/**
 * Makes `path` ready for SQLite to open, readable by its owner only. SQLite creates a database with
 * mode 0644 (less the umask) and gives the -wal and -shm files the mode of the database file, so
 * creating the file ourselves with 0600 first keeps all three private. A file that already exists
 * with group or other bits is tightened (with its -wal and -shm), as long as this process owns it;
 * a file owned by someone else is left as it is (the operator chose that).
 */
export function prepareSqliteFile(path: string): void {
  // A directory created here is private as well, like the one the encryption key file is made in.
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  try {
    closeSync(openSync(path, "wx", FILE_MODE));
    return;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  for (const file of [path, `${path}-wal`, `${path}-shm`]) tighten(file);
}

function tighten(file: string): void {
  try {
    if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, FILE_MODE);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== "ENOENT" && code !== "EPERM") throw error;
  }
}

/**
 * SQLite's page cache per connection, negative: KiB (better-sqlite3's default is 16 000 KiB, and the
 * writer and the reader each fill theirs: 32 MB of the process). Pages beyond it are read again
 * from the operating system's file cache, which holds them anyway.
 */
export const PAGE_CACHE_KIB = -4000;
