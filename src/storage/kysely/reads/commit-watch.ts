import { closeSync, openSync, readSync } from "node:fs";

/**
 * The bytes of SQLite's wal-index header read here: its two copies of `WalIndexHdr`, 48 bytes each
 * (https://sqlite.org/walformat.html, "The WAL-Index Header"). Every commit, by any connection of
 * any process, rewrites them: `iChange` counts transactions, `mxFrame` and the frame checksum move
 * with each commit, and a WAL that starts over gets new salts. The lock bytes (from offset 120) are
 * not read.
 */
const WAL_INDEX_HEADER_BYTES = 96;

/** Versions are unique in the process, across watches (a reader reopened never repeats one). */
let lastVersion = 0;

/**
 * Tells whether anything was committed to a SQLite database in WAL mode since the last look, with
 * one `pread` of the `-shm` file's header (the shared memory every connection maps) instead of
 * `PRAGMA data_version`, which opens and closes a read transaction: two `fcntl` locks, an `fstat` and
 * a statement, several times the cost of the read it guards on a busy node.
 *
 * `version()` returns a number that changes whenever the header bytes differ from the previous
 * look. A commit updates the header at the moment it becomes visible to readers, so a row read
 * after `version()` returned v is at least as new as every commit made before that call, which is
 * what a cache keyed by the version needs (see RowsWhileUnchanged). A header read while a writer is
 * rewriting it differs from the last one too: a torn read can only make the version move.
 *
 * When the `-shm` file cannot be opened or read (not in WAL mode, another platform's locking), it
 * falls back to `PRAGMA data_version` for good; its versions still never repeat one given before.
 */
export class CommitWatch {
  #fd: number | undefined;
  #seen = Buffer.alloc(WAL_INDEX_HEADER_BYTES);
  #read = Buffer.alloc(WAL_INDEX_HEADER_BYTES);
  #version = ++lastVersion;
  #dataVersion: number | undefined;
  #looked = false;

  /**
   * `shmPath`: the database's `-shm` file, opened by the caller's connection already (it must stay
   * open while this is used: SQLite deletes the file only when its last connection closes);
   * undefined to use `dataVersion` only.
   */
  constructor(
    shmPath: string | undefined,
    private readonly dataVersion: () => number,
  ) {
    if (shmPath === undefined) return;
    try {
      this.#fd = openSync(shmPath, "r");
    } catch {
      this.#fd = undefined;
    }
  }

  /** Whether the wal-index header is being read (false: PRAGMA data_version). */
  get readsWalIndex(): boolean {
    return this.#fd !== undefined;
  }

  version(): number {
    if (this.#fd !== undefined) {
      try {
        const read = readSync(this.#fd, this.#read, 0, WAL_INDEX_HEADER_BYTES, 0);
        if (read === WAL_INDEX_HEADER_BYTES) {
          if (!this.#looked || !this.#read.equals(this.#seen)) {
            [this.#seen, this.#read] = [this.#read, this.#seen];
            this.#looked = true;
            this.#version = ++lastVersion;
          }
          return this.#version;
        }
      } catch {
        // Falls through to the pragma.
      }
      this.close();
    }
    const dataVersion = this.dataVersion();
    if (dataVersion !== this.#dataVersion) {
      this.#dataVersion = dataVersion;
      this.#version = ++lastVersion;
    }
    return this.#version;
  }

  close(): void {
    if (this.#fd === undefined) return;
    closeSync(this.#fd);
    this.#fd = undefined;
  }
}
