/**
 * Admission control: at most `maxConcurrent` executions run at once, and at most `maxQueued`
 * requests wait for a turn, each for at most `maxWaitMs`. Past that the request is rejected with
 * 503 and Retry-After, so a flood costs the host one small object per waiting request instead of
 * processes, memory and file descriptors.
 */
import { ServiceError } from "../errors.js";

/** The service is at capacity; the client should retry after `retryAfterSeconds`. */
export class OverloadedError extends ServiceError {
  readonly retryAfterSeconds = 1;

  constructor(reason: string) {
    super("rejected.overload", 503, `Service is at capacity (${reason}); retry later`);
  }
}

/** The service is shutting down and takes no new work. */
export class DrainingError extends ServiceError {
  readonly retryAfterSeconds = 1;

  constructor() {
    super("rejected.draining", 503, "Service is shutting down; retry on another instance");
  }
}

type Waiter = { grant: () => void; reject: (error: Error) => void; timer: NodeJS.Timeout };

export class Admission {
  private running = 0;
  private readonly queue: Waiter[] = [];

  constructor(
    private readonly maxConcurrent: number,
    private readonly maxQueued: number,
    private readonly maxWaitMs: number,
  ) {}

  get activeCount(): number {
    return this.running;
  }

  get queuedCount(): number {
    return this.queue.length;
  }

  /** Waits for a turn; throws OverloadedError when the queue is full or the wait times out. */
  async acquire(): Promise<void> {
    if (this.running < this.maxConcurrent) {
      this.running += 1;
      return;
    }
    if (this.queue.length >= this.maxQueued) {
      throw new OverloadedError(`${this.maxQueued} requests already waiting`);
    }

    await new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        grant: () => {
          clearTimeout(waiter.timer);
          resolve();
        },
        reject: (error) => {
          clearTimeout(waiter.timer);
          reject(error);
        },
        timer: setTimeout(() => {
          this.queue.splice(this.queue.indexOf(waiter), 1);
          reject(new OverloadedError(`no execution slot within ${this.maxWaitMs} ms`));
        }, this.maxWaitMs),
      };
      this.queue.push(waiter);
    });
  }

  /** Turns every waiting request away with `error`, as at shutdown. */
  rejectWaiting(error: Error): void {
    for (const waiter of this.queue.splice(0)) {
      waiter.reject(error);
    }
  }

  /** Ends a turn and hands it to the longest-waiting request, if any. */
  release(): void {
    const next = this.queue.shift();
    if (next !== undefined) {
      next.grant();
      return;
    }

    this.running -= 1;
  }
}
