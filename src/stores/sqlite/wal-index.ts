/**
 * Tells, without taking a lock, whether any connection to a WAL-mode SQLite database — in
 * this process or another — may have committed since the last look.
 *
 * It reads the wal-index header: the first 96 bytes of the `-shm` file, two copies of a
 * 48-byte header that SQLite rewrites on every commit and every WAL reset, with a change
 * counter (`iChange`), the last valid frame and a checksum over them
 * (https://www.sqlite.org/walformat.html, "The WAL-Index Header"). The format is fixed: every
 * process sharing the file, whatever its SQLite version, reads it. SQLite writes the header
 * before a commit returns, so once another process's commit has returned, the next `changed()`
 * here is true. One `pread` of 96 bytes costs ≈2 µs; a SQLite read transaction costs several
 * times that (it takes and drops shared locks with `fcntl`).
 *
 * `changed()` may also be true when nothing that matters changed (any commit, a WAL reset):
 * callers treat it as "look again", never as "this changed".
 */
import { closeSync, openSync, readSync } from 'node:fs';

/** Both copies of the header. */
const HEADER_BYTES = 96;

export class WalIndexHeader {
  readonly #fd: number;
  #seen = Buffer.alloc(HEADER_BYTES);
  #now = Buffer.alloc(HEADER_BYTES);
  #known = false;

  private constructor(fd: number) {
    this.#fd = fd;
  }

  /**
   * Opens the `-shm` file of `databaseFile`, which must already be open in WAL mode (so the
   * file exists and is initialised); undefined when it cannot be read.
   */
  static open(databaseFile: string): WalIndexHeader | undefined {
    let fd: number;
    try {
      fd = openSync(`${databaseFile}-shm`, 'r');
    } catch {
      return undefined;
    }
    const header = new WalIndexHeader(fd);
    if (!header.#read()) {
      closeSync(fd);
      return undefined;
    }
    header.#now.copy(header.#seen);
    header.#known = true;
    return header;
  }

  /**
   * True when the header differs from the last call's (or the file could not be read, or
   * `forget()` was called); the header read now becomes the one the next call compares to.
   */
  changed(): boolean {
    if (!this.#read()) {
      this.#known = false;
      return true;
    }
    if (this.#known && this.#now.equals(this.#seen)) return false;
    const previous = this.#seen;
    this.#seen = this.#now;
    this.#now = previous;
    this.#known = true;
    return true;
  }

  /** Makes the next `changed()` true, whatever the header says. */
  forget(): void {
    this.#known = false;
  }

  close(): void {
    closeSync(this.#fd);
  }

  #read(): boolean {
    try {
      return readSync(this.#fd, this.#now, 0, HEADER_BYTES, 0) === HEADER_BYTES;
    } catch {
      return false;
    }
  }
}
