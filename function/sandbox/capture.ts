/**
 * Bounded capture of a child's output stream. Keeps the first `maxBytes` and drains the rest
 * without storing it, so the writer never blocks on a full pipe and the service's memory stays
 * bounded whatever the code prints. The first byte past the limit calls `onOverflow` once.
 */
import type { Readable } from "node:stream";

export type Capture = Readonly<{
  /** Resolves when the stream ends, errors or is destroyed. */
  done: Promise<void>;
  bytes: () => Uint8Array;
  overflowed: () => boolean;
}>;

export function captureStream(
  stream: Readable | null | undefined,
  maxBytes: number,
  onOverflow: () => void,
): Capture {
  const chunks: Buffer[] = [];
  let stored = 0;
  let isOverflowed = false;
  const done = new Promise<void>((resolve) => {
    if (stream === null || stream === undefined) {
      resolve();
      return;
    }

    stream.on("data", (chunk: Buffer) => {
      const room = maxBytes - stored;
      if (chunk.length > room && !isOverflowed) {
        isOverflowed = true;
        onOverflow();
      }
      if (room > 0) {
        const kept = chunk.length > room ? chunk.subarray(0, room) : chunk;
        chunks.push(kept);
        stored += kept.length;
      }
    });
    stream.once("end", resolve);
    stream.once("close", resolve);
    stream.once("error", () => resolve());
  });

  return {
    done,
    bytes: () => Buffer.concat(chunks),
    overflowed: () => isOverflowed,
  };
}
