/**
 * A size-limited filesystem per sandbox slot, so the total an execution writes is bounded and
 * ends in `No space left on device` inside the sandbox rather than in a full host disk. Each slot
 * gets a tmpfs (mounted `nosuid,nodev,noexec`, with a size and an inode limit) under the execution
 * root, mounted on first use and reused. Where the service may not mount (an unprivileged
 * container), execution directories live directly under the execution root and only RLIMIT_FSIZE
 * bounds each file.
 */
import { mkdir, readFile } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";

export type DiskMechanism = "tmpfs" | "none";

const MOUNT_PROGRAM = "/usr/bin/mount";
const UMOUNT_PROGRAM = "/usr/bin/umount";
const BYTES_PER_INODE = 16 * 1024;
const SLOT_DIR_PREFIX = "slot-";

export class SlotDisks {
  private readonly mounted = new Set<number>();
  private mechanismInUse: DiskMechanism;

  constructor(
    private readonly execRoot: string,
    private readonly diskBytes: number,
  ) {
    this.mechanismInUse = diskBytes > 0 ? "tmpfs" : "none";
  }

  get mechanism(): DiskMechanism {
    return this.mechanismInUse;
  }

  /** Records the slot filesystems a previous run of the service left mounted. */
  async findExistingMounts(): Promise<void> {
    const mountInfo = await readFile("/proc/self/mountinfo", "utf8").catch(() => "");
    for (const line of mountInfo.split("\n")) {
      const mountPoint = line.split(" ")[4] ?? "";
      const slot = this.toSlot(mountPoint);
      if (slot !== undefined && (await this.remount(mountPoint))) {
        this.mounted.add(slot);
      }
    }
  }

  /** Applies the configured size to a filesystem an earlier run mounted, perhaps with another. */
  private async remount(dir: string): Promise<boolean> {
    const options = `remount,${this.sizeOptions()}`;
    const result = await execa(MOUNT_PROGRAM, ["-o", options, dir], {
      reject: false,
      stdin: "ignore",
    });
    return result.exitCode === 0;
  }

  private sizeOptions(): string {
    const inodes = Math.max(1024, Math.floor(this.diskBytes / BYTES_PER_INODE));
    return `size=${this.diskBytes},nr_inodes=${inodes}`;
  }

  /** Lists the directories that hold execution directories, for clean-up at start-up. */
  parentDirs(): string[] {
    return [this.execRoot, ...[...this.mounted].map((slot) => this.slotDir(slot))];
  }

  /**
   * Returns the directory under which the slot's execution directory is created, mounting the
   * slot's filesystem first if needed. Falls back to the execution root, for good, when the
   * first mount fails.
   */
  async parentFor(slot: number): Promise<string> {
    if (this.mechanismInUse === "none") {
      return this.execRoot;
    }
    if (this.mounted.has(slot)) {
      return this.slotDir(slot);
    }

    const dir = this.slotDir(slot);
    await mkdir(dir, { recursive: true, mode: 0o711 });
    const options = `${this.sizeOptions()},mode=0711,nosuid,nodev,noexec`;
    const result = await execa(MOUNT_PROGRAM, ["-t", "tmpfs", "-o", options, "codejail", dir], {
      reject: false,
      stdin: "ignore",
    });
    if (result.exitCode !== 0) {
      if (this.mounted.size > 0) {
        throw new Error(`mounting ${dir} failed: ${result.stderr}`);
      }
      this.mechanismInUse = "none";
      return this.execRoot;
    }

    this.mounted.add(slot);
    return dir;
  }

  /** Unmounts every slot filesystem, at shutdown once no execution runs; never throws. */
  async unmountAll(): Promise<void> {
    for (const slot of [...this.mounted]) {
      const result = await execa(UMOUNT_PROGRAM, [this.slotDir(slot)], {
        reject: false,
        stdin: "ignore",
      });
      if (result.exitCode === 0) {
        this.mounted.delete(slot);
      }
    }
  }

  private slotDir(slot: number): string {
    return path.join(this.execRoot, `${SLOT_DIR_PREFIX}${slot}`);
  }

  private toSlot(mountPoint: string): number | undefined {
    const prefix = path.join(this.execRoot, SLOT_DIR_PREFIX);
    if (!mountPoint.startsWith(prefix)) {
      return undefined;
    }
    const slot = Number(mountPoint.slice(prefix.length));
    return Number.isInteger(slot) ? slot : undefined;
  }
}
