// JSON lines on stdout that never block and never queue without bound (issue 18), for the hosts written
// in plain JavaScript (the firmware bridge; the Node host has the same in host/node/log.ts). Node writes
// a pipe or socket on fd 1 through a libuv stream: what the pipe does not take now waits in memory, so
// a reader that stops reading would make that queue grow for ever. Here at most `maxQueue` bytes wait;
// a line beyond that is dropped and counted, and once the stream drains one line made by
// `notice(count)` reports how many. A terminal or a file is written directly (they do not stay full).
import { fstatSync, writeSync } from "node:fs";
import net from "node:net";

/**
 * @param {{ fd?: number, maxQueue: number, notice: (count: number) => string }} o
 * @returns {{ write(text: string): void, readonly dropped: number }}
 */
export function lineWriter({ fd = 1, maxQueue, notice }) {
  let stream = null;
  try {
    const st = fstatSync(fd);
    if (st.isFIFO() || st.isSocket()) {
      stream = new net.Socket({ fd, readable: false, writable: true });
      stream.on("error", () => {}); // the reader went away: drop lines rather than stop the host
      stream._handle?.unref?.(); // the stream must not keep the process alive on its own
    }
  } catch {
    /* a closed fd: lines are dropped by writeSync below */
  }
  let dropped = 0;
  let droppedNow = 0;
  return {
    write(text) {
      if (!stream) {
        try {
          writeSync(fd, text);
        } catch {
          /* stdout gone */
        }
        return;
      }
      if (stream.destroyed) return;
      if (stream.writableLength + text.length > maxQueue) {
        dropped++;
        if (droppedNow++ === 0) stream.once("drain", () => {
          const n = droppedNow;
          droppedNow = 0;
          stream.write(notice(n));
        });
        return;
      }
      stream.write(text);
    },
    get dropped() {
      return dropped;
    },
  };
}
