/**
 * Progress of long work (bulk allocation, long lists, large catalogs) on stderr, so that stdout
 * stays clean for tables and JSON. On a terminal one line is rewritten in place; elsewhere (when
 * forced with --progress) each update is a line of its own. Off with --quiet, and by default when
 * stderr is not a terminal.
 */
import type { Writable } from 'node:stream';

export class Progress {
  #shown = false;
  #lastAt = 0;

  constructor(
    private readonly stream: Writable & { isTTY?: boolean },
    readonly enabled: boolean,
  ) {}

  /** `final` updates are always shown; others at most every 100 ms on a terminal. */
  update(text: string, final = false): void {
    if (!this.enabled) return;
    if (this.stream.isTTY === true) {
      const now = Date.now();
      if (!final && now - this.#lastAt < 100) return;
      this.#lastAt = now;
      this.stream.write(`\r\x1b[K${text}`);
      this.#shown = true;
    } else {
      this.stream.write(`${text}\n`);
    }
  }

  /** Ends the progress line, leaving stderr at the start of a fresh line. */
  done(): void {
    if (this.#shown) this.stream.write('\n');
    this.#shown = false;
  }
}
