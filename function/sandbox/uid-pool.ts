/**
 * A pool of sandbox uids, one per concurrent execution. A uid of its own gives each execution its
 * own RLIMIT_NPROC count (the kernel counts processes per uid), and lets the reaper kill exactly
 * that execution's processes with kill(-1) run as the uid, whatever they did to their process
 * group or session. A uid returns to the pool only after its processes are gone.
 */
export type SandboxIdentity = Readonly<{ uid: number; gid: number; slot: number }>;

export class UidPool {
  private readonly free: number[];
  private readonly waiters: Array<(slot: number) => void> = [];

  constructor(
    private readonly uidBase: number,
    size: number,
    private readonly gid: number,
  ) {
    // A stack, so that a lightly loaded service keeps reusing the same few slots (and their
    // cgroups and filesystems).
    this.free = Array.from({ length: size }, (_, index) => size - 1 - index);
  }

  get size(): number {
    return this.free.length;
  }

  /** Waits for a free uid; waiting callers are served first come first served. */
  async acquire(): Promise<SandboxIdentity> {
    const slot = this.free.pop() ?? (await new Promise<number>((r) => this.waiters.push(r)));
    return Object.freeze({ uid: this.uidBase + slot, gid: this.gid, slot });
  }

  /** Takes a free uid when no caller is waiting for one; undefined otherwise. */
  tryAcquire(): SandboxIdentity | undefined {
    const slot = this.waiters.length === 0 ? this.free.pop() : undefined;
    return slot === undefined
      ? undefined
      : Object.freeze({ uid: this.uidBase + slot, gid: this.gid, slot });
  }

  /** Returns a uid whose processes are all gone. */
  release(identity: SandboxIdentity): void {
    const waiter = this.waiters.shift();
    if (waiter !== undefined) {
      waiter(identity.slot);
      return;
    }

    this.free.push(identity.slot);
  }
}
