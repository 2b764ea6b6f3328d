/**
 * Children forked ahead of requests, each with a sandbox uid of its own and already inside that
 * uid's slot cgroups. A forked child waits under the template's uid until it gets its
 * execution's fields (forked.py), so a spare runs no code as the sandbox uid and contains nothing
 * of any request. An execution that takes a spare skips the fork, the child's reset and the cgroup
 * move, which otherwise come before its code can start.
 *
 * A spare whose template was retired is ended rather than used, so that it does not keep the
 * retired template alive. A spare that exits while it waits (it was killed, or its template
 * died) is dropped. Its uid returns to the pool once the child was reaped, so that the next
 * execution of the slot finds its cgroups empty.
 */
import { readFileSync } from "node:fs";
import { describeError, log } from "../../log.js";
import type { SandboxIdentity } from "../uid-pool.js";
import type { TemplatePool } from "./template-pool.js";
import { closeConnections, type ForkedChild } from "./template-process.js";

/**
 * True when the child's process runs and is still the template's child, read from
 * /proc/<pid>/stat (readable by every user): its state, and its parent, which reveals a pid
 * that was reused since the child died.
 */
function isWaiting(child: ForkedChild): boolean {
  try {
    const stat = readFileSync(`/proc/${child.pid}/stat`, "ascii");
    const [state, parent] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // A stopped spare (T, t) would not take its execution either.
    const isAlive = state !== undefined && !["Z", "X", "T", "t"].includes(state);
    return isAlive && Number(parent) === child.template.pid;
  } catch {
    return false;
  }
}

/** How often spares of retired templates are looked for while no request comes. */
const CHECK_INTERVAL_MS = 1000;

export type Spare = Readonly<{ identity: SandboxIdentity; child: ForkedChild }>;

/** The executor's uid pool and slot cgroups, as the spares use them. */
export type SpareSlots = Readonly<{
  /** Takes a free uid without waiting; undefined when none is free. */
  tryAcquire: () => SandboxIdentity | undefined;
  release: (identity: SandboxIdentity) => void;
  /** Sets the slot's default limits and moves `pid` into its cgroups. */
  enter: (identity: SandboxIdentity, pid: number) => Promise<void>;
}>;

export class SpareChildren {
  private readonly ready: Spare[] = [];
  private preparing = 0;
  private isClosed = false;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly templates: TemplatePool,
    private readonly slots: SpareSlots,
    private readonly count: number,
  ) {
    this.timer = setInterval(() => this.endRetired(), CHECK_INTERVAL_MS).unref();
  }

  /**
   * Takes the oldest spare that is alive and whose template still serves, or undefined when
   * there is none. A spare killed a moment ago may not be reported by its template yet, so its
   * process is looked up first. A dead one is ended instead of failing the execution.
   */
  take(): Spare | undefined {
    this.endRetired();
    for (let spare = this.ready.shift(); spare !== undefined; spare = this.ready.shift()) {
      if (isWaiting(spare.child)) {
        return spare;
      }
      this.end(spare);
    }
    return undefined;
  }

  /** Forks spares, in the background, until `count` are ready or being prepared. */
  fill(): void {
    while (!this.isClosed && this.ready.length + this.preparing < this.count) {
      const identity = this.slots.tryAcquire();
      if (identity === undefined) {
        return;
      }
      this.preparing += 1;
      void this.prepare(identity).finally(() => (this.preparing -= 1));
    }
  }

  /** Ends every ready spare; later calls of `fill` fork new ones. */
  endAll(): void {
    this.ready.splice(0).forEach((spare) => this.end(spare));
  }

  /** Ends every spare and forks no more; for shutdown. */
  close(): void {
    this.isClosed = true;
    clearInterval(this.timer);
    this.endAll();
  }

  private async prepare(identity: SandboxIdentity): Promise<void> {
    let child: ForkedChild | undefined;
    try {
      const template = await this.templates.acquire();
      child = await template.fork();
      await this.slots.enter(identity, child.pid);
    } catch (error) {
      log.warning("Preparing a spare child failed", { error: describeError(error) });
      if (child !== undefined) {
        this.end({ identity, child });
      } else {
        this.slots.release(identity);
      }
      return;
    }

    const spare = { identity, child };
    if (this.isClosed) {
      this.end(spare);
      return;
    }
    this.ready.push(spare);
    void child.status.then(
      () => this.drop(spare),
      () => this.drop(spare),
    );
  }

  /** Removes a spare that exited while it waited, and gives its uid back. */
  private drop(spare: Spare): void {
    const index = this.ready.indexOf(spare);
    if (index !== -1) {
      this.ready.splice(index, 1);
      // When its template died, the child itself may still wait, and exits once this ends it.
      closeConnections(spare.child);
      this.slots.release(spare.identity);
    }
  }

  /** Ends the spares of templates that take no more executions. */
  private endRetired(): void {
    for (const spare of this.ready.filter((candidate) => !candidate.child.template.isUsable)) {
      this.ready.splice(this.ready.indexOf(spare), 1);
      this.end(spare);
    }
  }

  /** Ends a spare that is not in `ready`, and gives its uid back once the child was reaped. */
  private end(spare: Spare): void {
    closeConnections(spare.child);
    const release = () => this.slots.release(spare.identity);
    void spare.child.status.then(release, release);
  }
}
