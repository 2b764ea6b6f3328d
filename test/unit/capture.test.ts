/**
 * captureStream with a PassThrough in place of a child's pipe: what is kept, when the overflow
 * callback fires, and that the stream keeps draining past the limit.
 */
import { jest } from "@jest/globals";
import { PassThrough } from "node:stream";
import { captureStream } from "../../function/sandbox/capture.js";

function setUp(maxBytes: number) {
  const stream = new PassThrough();
  const onOverflow = jest.fn();
  const capture = captureStream(stream, maxBytes, onOverflow);
  return { stream, onOverflow, capture };
}

describe("captureStream", () => {
  it("keeps everything under the limit", async () => {
    const { stream, onOverflow, capture } = setUp(10);
    stream.write("abc");
    stream.end("def");
    await capture.done;

    expect(Buffer.from(capture.bytes()).toString()).toBe("abcdef");
    expect(capture.overflowed()).toBe(false);
    expect(onOverflow).not.toHaveBeenCalled();
  });

  it("keeps exactly the limit without overflowing", async () => {
    const { stream, onOverflow, capture } = setUp(6);
    stream.write("abc");
    stream.end("def");
    await capture.done;

    expect(Buffer.from(capture.bytes()).toString()).toBe("abcdef");
    expect(capture.overflowed()).toBe(false);
    expect(onOverflow).not.toHaveBeenCalled();
  });

  it("keeps the first bytes, overflows once", async () => {
    const { stream, onOverflow, capture } = setUp(5);
    for (const chunk of ["ab", "cd", "ef", "gh", "ij"]) {
      stream.write(chunk);
    }
    stream.end();
    await capture.done;

    expect(Buffer.from(capture.bytes()).toString()).toBe("abcde");
    expect(capture.overflowed()).toBe(true);
    expect(onOverflow).toHaveBeenCalledTimes(1);
  });

  it("overflows on the first byte past the limit", async () => {
    const { stream, onOverflow, capture } = setUp(3);
    stream.write("abc");
    await new Promise((resolve) => setImmediate(resolve));
    expect(onOverflow).not.toHaveBeenCalled();

    stream.end("d");
    await capture.done;

    expect(onOverflow).toHaveBeenCalledTimes(1);
    expect(Buffer.from(capture.bytes()).toString()).toBe("abc");
  });

  it("overflows at once with a zero limit", async () => {
    const { stream, onOverflow, capture } = setUp(0);
    stream.end("x");
    await capture.done;

    expect(capture.bytes()).toHaveLength(0);
    expect(onOverflow).toHaveBeenCalledTimes(1);
  });

  it("keeps draining past the limit", async () => {
    const { stream, capture } = setUp(1024);
    const chunk = Buffer.alloc(64 * 1024, 0x78);
    for (let i = 0; i < 160; i += 1) {
      if (!stream.write(chunk)) {
        await new Promise((resolve) => stream.once("drain", resolve));
      }
    }
    stream.end();
    await capture.done;

    expect(capture.bytes()).toHaveLength(1024);
    expect(stream.writableFinished).toBe(true);
  });

  it("settles when the stream errors", async () => {
    const { stream, capture } = setUp(10);
    stream.write("ab");
    stream.destroy(new Error("pipe broke"));
    await capture.done;

    expect(Buffer.from(capture.bytes()).toString()).toBe("ab");
  });

  it("settles when the stream is destroyed", async () => {
    const { stream, capture } = setUp(10);
    stream.destroy();

    await expect(capture.done).resolves.toBeUndefined();
  });

  it.each([null, undefined])("settles at once for a %p stream", async (missing) => {
    const onOverflow = jest.fn();
    const capture = captureStream(missing, 10, onOverflow);
    await capture.done;

    expect(capture.bytes()).toHaveLength(0);
    expect(capture.overflowed()).toBe(false);
  });
});
