/**
 * Kills every process of a sandbox uid. kill(2) with pid -1, sent by a process running as that
 * uid, reaches all processes the uid may signal in one pass that a concurrent fork cannot escape
 * (the kernel holds the task list lock, and a fork with a fatal signal pending fails). Escaping
 * the process group with setsid, or being reparented to init, does not help the code.
 */
import { readdir, readFile } from "node:fs/promises";
import { killAsIdentity } from "./privilege.js";
import type { SandboxIdentity } from "./uid-pool.js";

const MAX_PASSES = 5;
const ZOMBIE_POLL_MS = 100;
const SCAN_BATCH_SIZE = 32;

/**
 * Sends SIGKILL to all processes of the identity's uid until none is left alive (zombies waiting
 * for their parent to reap them do not count). Returns the number of processes found on the
 * first look; throws when processes remain after MAX_PASSES.
 */
export async function killAllProcesses(identity: SandboxIdentity): Promise<number> {
  const found = await findLiveProcesses(identity.uid);
  let remaining = found;
  for (let pass = 0; pass < MAX_PASSES && remaining.length > 0; pass += 1) {
    await killAsIdentity(identity);
    remaining = await findLiveProcesses(identity.uid);
  }

  if (remaining.length > 0) {
    throw new Error(`processes ${remaining.join(",")} of uid ${identity.uid} survived SIGKILL`);
  }
  return found.length;
}

/**
 * Waits until no process of the uid is left, zombies included, polling /proc. Zombies still
 * count against RLIMIT_NPROC and the pids cgroup, and an init that reaps slowly can keep them for
 * seconds. Returns false if some remain after `timeoutMs`.
 */
export async function waitForNoProcesses(uid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while ((await findProcesses(uid, true)).length > 0) {
    if (Date.now() > deadline) {
      return false;
    }
    await new Promise((resolve) => setTimeout(resolve, ZOMBIE_POLL_MS));
  }
  return true;
}

/** Lists the pids whose real uid is `uid` and that are not zombies, from /proc. */
export function findLiveProcesses(uid: number): Promise<number[]> {
  return findProcesses(uid, false);
}

async function findProcesses(uid: number, includeZombies: boolean): Promise<number[]> {
  const processes = await scanProcesses();
  return processes
    .filter((process) => process.uid === uid && (includeZombies || !process.isDead))
    .map((process) => process.pid);
}

/** Lists the uids in [base, base + count) that have processes that are not zombies. */
export async function findUidsWithLiveProcesses(base: number, count: number): Promise<Set<number>> {
  const processes = await scanProcesses();
  const uids = processes
    .filter((process) => !process.isDead && process.uid >= base && process.uid < base + count)
    .map((process) => process.uid);
  return new Set(uids);
}

type ProcessEntry = Readonly<{ pid: number; uid: number; isDead: boolean }>;

/**
 * Reads the real uid and state of every process from /proc, a batch at a time so a busy
 * service does not run out of file descriptors. A process that exits during the scan is skipped;
 * any other read error is thrown, because a process that cannot be seen cannot be killed.
 */
async function scanProcesses(): Promise<ProcessEntry[]> {
  const pids = (await readdir("/proc")).filter((name) => /^\d+$/.test(name));
  const entries: ProcessEntry[] = [];
  for (let start = 0; start < pids.length; start += SCAN_BATCH_SIZE) {
    const batch = pids.slice(start, start + SCAN_BATCH_SIZE);
    const statuses = await Promise.all(batch.map((pid) => readStatus(pid)));
    batch.forEach((pid, index) => {
      const entry = toProcessEntry(Number(pid), statuses[index]);
      if (entry !== undefined) {
        entries.push(entry);
      }
    });
  }
  return entries;
}

async function readStatus(pid: string): Promise<string | undefined> {
  try {
    return await readFile(`/proc/${pid}/status`, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ESRCH") {
      return undefined;
    }
    throw error;
  }
}

function toProcessEntry(pid: number, status: string | undefined): ProcessEntry | undefined {
  const realUid = status === undefined ? undefined : /^Uid:\s+(\d+)/m.exec(status)?.[1];
  if (realUid === undefined) {
    return undefined;
  }
  const state = /^State:\s+(\S)/m.exec(status!)?.[1];
  return { pid, uid: Number(realUid), isDead: state === "Z" || state === "X" };
}
