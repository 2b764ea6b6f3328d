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
    this.free = Array.from({ length: size }, (_, slot) => slot);
  }

  get size(): number {
    return this.free.length;
  }

  /** Waits for a free uid, first come first served. */
  async acquire(): Promise<SandboxIdentity> {
    const slot = this.free.shift() ?? (await new Promise<number>((r) => this.waiters.push(r)));
    return Object.freeze({ uid: this.uidBase + slot, gid: this.gid, slot });
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
