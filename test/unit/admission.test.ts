/**
 * Admission: the concurrency bound, the bounded queue served first come first served, the queue
 * wait limit, and the 503 errors with their Retry-After. Timers are Jest's fake timers.
 */
import { jest } from "@jest/globals";
import { Admission, DrainingError, OverloadedError } from "../../function/service/admission.js";

type Settled = "granted" | "pending" | string;

/** Tracks how an acquire settled: "granted", "pending", or the rejection's message. */
function track(admission: Admission): { state: () => Settled } {
  let state: Settled = "pending";
  admission.acquire().then(
    () => (state = "granted"),
    (error: Error) => (state = error.message),
  );
  return { state: () => state };
}

/** Lets settled promises run their callbacks. */
async function flush(): Promise<void> {
  for (let i = 0; i < 5; i += 1) {
    await Promise.resolve();
  }
}

beforeEach(() => {
  jest.useFakeTimers();
});

afterEach(() => {
  jest.useRealTimers();
});

describe("Admission", () => {
  it("admits up to the concurrency bound at once", async () => {
    const admission = new Admission(2, 1, 1000);
    const first = track(admission);
    const second = track(admission);
    const third = track(admission);
    await flush();

    expect([first.state(), second.state(), third.state()]).toEqual([
      "granted",
      "granted",
      "pending",
    ]);
    expect(admission.activeCount).toBe(2);
    expect(admission.queuedCount).toBe(1);
  });

  it("rejects when the queue is full", async () => {
    const admission = new Admission(1, 1, 1000);
    track(admission);
    track(admission);
    const rejected = track(admission);
    await flush();

    expect(rejected.state()).toBe(
      "Service is at capacity (1 requests already waiting); retry later",
    );
    expect(admission.queuedCount).toBe(1);
  });

  it("rejects at once with no queue", async () => {
    const admission = new Admission(1, 0, 1000);
    track(admission);
    const rejected = track(admission);
    await flush();

    expect(rejected.state()).toMatch(/^Service is at capacity \(0 requests already waiting\)/);
  });

  it("hands a released turn to the longest-waiting request", async () => {
    const admission = new Admission(1, 3, 1000);
    track(admission);
    const waiters = [track(admission), track(admission), track(admission)];
    admission.release();
    await flush();

    expect(waiters.map((waiter) => waiter.state())).toEqual(["granted", "pending", "pending"]);
    expect(admission.activeCount).toBe(1);
    expect(admission.queuedCount).toBe(2);
  });

  it("frees the turn when nobody waits", async () => {
    const admission = new Admission(1, 1, 1000);
    track(admission);
    await flush();
    admission.release();
    const next = track(admission);
    await flush();

    expect(next.state()).toBe("granted");
    expect(admission.activeCount).toBe(1);
    expect(admission.queuedCount).toBe(0);
  });

  it("rejects and forgets a timed-out waiter", async () => {
    const admission = new Admission(1, 2, 500);
    track(admission);
    const timedOut = track(admission);
    jest.advanceTimersByTime(499);
    await flush();
    expect(timedOut.state()).toBe("pending");

    jest.advanceTimersByTime(1);
    await flush();

    expect(timedOut.state()).toBe(
      "Service is at capacity (no execution slot within 500 ms); retry later",
    );
    expect(admission.queuedCount).toBe(0);
  });

  it("keeps later waiters after a timeout", async () => {
    const admission = new Admission(1, 2, 500);
    track(admission);
    const early = track(admission);
    jest.advanceTimersByTime(300);
    const late = track(admission);
    jest.advanceTimersByTime(200);
    await flush();
    admission.release();
    await flush();

    expect(early.state()).toMatch(/no execution slot within 500 ms/);
    expect(late.state()).toBe("granted");
    expect(admission.activeCount).toBe(1);
    expect(admission.queuedCount).toBe(0);
  });

  it("does not time out a granted request", async () => {
    const admission = new Admission(1, 1, 500);
    track(admission);
    const waiter = track(admission);
    admission.release();
    jest.advanceTimersByTime(1000);
    await flush();

    expect(waiter.state()).toBe("granted");
    expect(jest.getTimerCount()).toBe(0);
  });
});

describe("admission errors", () => {
  it("reports overload as 503 with Retry-After", () => {
    const error = new OverloadedError("busy");

    expect(error.status).toBe(503);
    expect(error.code).toBe("rejected.overload");
    expect(error.retryAfterSeconds).toBe(1);
    expect(error.message).toBe("Service is at capacity (busy); retry later");
  });

  it("reports draining as 503 with Retry-After", () => {
    const error = new DrainingError();

    expect(error.status).toBe(503);
    expect(error.code).toBe("rejected.draining");
    expect(error.retryAfterSeconds).toBe(1);
    expect(error.message).toBe("Service is shutting down; retry on another instance");
  });
});
