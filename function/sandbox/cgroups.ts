/**
 * Per-slot cgroups, where the host lets the service write them: a `pids` limit and a `memory`
 * limit for the whole execution, so that one execution's processes together cannot take more
 * than their share, whatever each process's rlimits allow. The groups are made beneath the
 * service's own cgroup (read from /proc/self/cgroup), so the service's own accounting still
 * covers them. Both cgroup v2 and the v1 `pids` and `memory` hierarchies are supported; inside an
 * unprivileged container neither is writable and the uid pool alone provides the accounting.
 */
import { readFileSync } from "node:fs";
import { mkdir, readFile, rmdir, writeFile } from "node:fs/promises";
import path from "node:path";

const CGROUP_ROOT = "/sys/fs/cgroup";
const GROUP_NAME = "codejail";

export type CgroupMechanism = "cgroup-v2" | "cgroup-v1" | "none";

/** Limits for one execution's group; no memory limit when maxMemoryBytes is 0. */
export type SlotLimits = Readonly<{ maxProcesses: number; maxMemoryBytes: number }>;

type ControllerFiles = Readonly<{ dir: string; limits: Record<string, (l: SlotLimits) => string> }>;

/** The file that counts a group's processes, zombies included, in both versions. */
const PROCESS_COUNT_FILE = "pids.current";

export class SlotCgroups {
  /** The limits each slot's groups have now, so that unchanged limits are not written again. */
  private readonly configured = new Map<number, string>();

  private constructor(
    readonly mechanism: CgroupMechanism,
    private readonly controllers: readonly ControllerFiles[],
    private readonly uidBase: number,
  ) {}

  /** Finds writable cgroups beneath the service's own; "none" when there are none. */
  static async detect(uidBase: number): Promise<SlotCgroups> {
    const membership = await readFile("/proc/self/cgroup", "utf8").catch(() => "");
    const paths = new Map<string, string>();
    for (const line of membership.trim().split("\n")) {
      const [, controllers, groupPath] = line.split(":");
      for (const controller of (controllers ?? "").split(",")) {
        paths.set(controller, groupPath ?? "/");
      }
    }

    const v1 = await SlotCgroups.tryV1(paths, uidBase);
    if (v1 !== undefined) {
      return v1;
    }
    return (
      (await SlotCgroups.tryV2(paths.get(""), uidBase)) ?? new SlotCgroups("none", [], uidBase)
    );
  }

  private static async tryV1(
    paths: Map<string, string>,
    uidBase: number,
  ): Promise<SlotCgroups | undefined> {
    const pids = paths.get("pids");
    const memory = paths.get("memory");
    if (pids === undefined || memory === undefined) {
      return undefined;
    }

    const controllers: ControllerFiles[] = [
      {
        dir: path.join(CGROUP_ROOT, "pids", pids, GROUP_NAME),
        limits: { "pids.max": (l) => String(l.maxProcesses) },
      },
      {
        dir: path.join(CGROUP_ROOT, "memory", memory, GROUP_NAME),
        limits: {
          "memory.limit_in_bytes": (l) => (l.maxMemoryBytes > 0 ? String(l.maxMemoryBytes) : "-1"),
        },
      },
    ];
    return (await isWritable(controllers))
      ? new SlotCgroups("cgroup-v1", controllers, uidBase)
      : undefined;
  }

  private static async tryV2(
    own: string | undefined,
    uidBase: number,
  ): Promise<SlotCgroups | undefined> {
    const available = await readFile(path.join(CGROUP_ROOT, "cgroup.controllers"), "utf8").catch(
      () => "",
    );
    if (own === undefined || !/\bpids\b/.test(available) || !/\bmemory\b/.test(available)) {
      return undefined;
    }

    const dir = path.join(CGROUP_ROOT, own, GROUP_NAME);
    const controllers: ControllerFiles[] = [
      {
        dir,
        limits: {
          "pids.max": (l) => String(l.maxProcesses),
          "memory.max": (l) => (l.maxMemoryBytes > 0 ? String(l.maxMemoryBytes) : "max"),
        },
      },
    ];
    if (!(await isWritable(controllers))) {
      return undefined;
    }
    const enabled = await writeFile(path.join(dir, "cgroup.subtree_control"), "+pids +memory")
      .then(() => true)
      .catch(() => false);
    return enabled ? new SlotCgroups("cgroup-v2", controllers, uidBase) : undefined;
  }

  /** Sets the slot's limits for the next execution, unless the slot has them already. */
  async configure(slot: number, limits: SlotLimits): Promise<void> {
    const key = `${limits.maxProcesses}/${limits.maxMemoryBytes}`;
    if (this.configured.get(slot) === key) {
      return;
    }
    // A failed write leaves the slot unrecorded, so the next execution writes every limit again.
    this.configured.delete(slot);
    for (const controller of this.controllers) {
      const dir = path.join(controller.dir, this.groupName(slot));
      await mkdir(dir, { recursive: true });
      for (const [file, toValue] of Object.entries(controller.limits)) {
        await writeFile(path.join(dir, file), toValue(limits));
      }
    }
    this.configured.set(slot, key);
  }

  /**
   * Names a slot's group by its uid, so that two services with separate uid pools on one host
   * never share a group's limits.
   */
  private groupName(slot: number): string {
    return `uid-${this.uidBase + slot}`;
  }

  /**
   * Moves a process into the slot's groups; its future children are created inside them. The
   * controllers are written in parallel on the thread pool: a move can wait for the kernel for
   * milliseconds, which must not stall the event loop.
   */
  async attach(slot: number, pid: number): Promise<void> {
    const text = String(pid);
    await Promise.all(
      this.controllers.map((controller) =>
        writeFile(path.join(controller.dir, this.groupName(slot), "cgroup.procs"), text),
      ),
    );
  }

  /**
   * Counts the processes in the slot's groups, zombies included; undefined without cgroups.
   * Every process of an execution is in its slot's groups, and only the service may move a
   * process out of them, so 0 means that nothing of the last execution is left to kill or reap.
   */
  countProcesses(slot: number): number | undefined {
    const controller = this.controllers[0];
    if (controller === undefined) {
      return undefined;
    }
    const file = path.join(controller.dir, this.groupName(slot), PROCESS_COUNT_FILE);
    const count = Number(readFileSync(file, "ascii").trim());
    if (!Number.isInteger(count)) {
      throw new Error(`${file} does not hold a count`);
    }
    return count;
  }
}

async function isWritable(controllers: readonly ControllerFiles[]): Promise<boolean> {
  for (const controller of controllers) {
    try {
      await mkdir(controller.dir, { recursive: true });
      const probe = path.join(controller.dir, "probe");
      await mkdir(probe, { recursive: true });
      await rmdir(probe);
    } catch {
      return false;
    }
  }
  return true;
}
