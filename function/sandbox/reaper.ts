/**
 * Kills every process of a sandbox uid. kill(2) with pid -1, sent by a process running as that
 * uid, reaches all processes the uid may signal in one pass. A concurrent fork cannot escape it,
 * because the kernel holds the task list lock and a fork with a fatal signal pending fails.
 * Escaping the process group with setsid, or being reparented to init, does not help the code.
 */
import { readdirSync, readFileSync } from "node:fs";
import { killAsIdentity } from "./privilege.js";
import type { SandboxIdentity } from "./uid-pool.js";

const MAX_PASSES = 5;
const ZOMBIE_POLL_MS = 100;

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

/** Lists the pids whose real uid is `uid` from /proc, zombies too when `includeZombies`. */
export async function findProcesses(uid: number, includeZombies: boolean): Promise<number[]> {
  const processes = scanProcesses();
  return processes
    .filter((process) => process.uid === uid && (includeZombies || !process.isDead))
    .map((process) => process.pid);
}

/** Lists the uids in [base, base + count) that have processes that are not zombies. */
export async function findUidsWithLiveProcesses(base: number, count: number): Promise<Set<number>> {
  const processes = scanProcesses();
  const uids = processes
    .filter((process) => !process.isDead && process.uid >= base && process.uid < base + count)
    .map((process) => process.uid);
  return new Set(uids);
}

type ProcessEntry = Readonly<{ pid: number; uid: number; isDead: boolean }>;

/**
 * Reads the real uid and state of every process from /proc. The reads are synchronous on
 * purpose: a scan is a few hundred small reads of kernel memory, about a millisecond, while the
 * same reads through the thread pool queue in front of every other file operation of the service
 * and made each execution tens of milliseconds slower. One descriptor is open at a time. A
 * process that exits during the scan is skipped; any other read error is thrown, because a
 * process that cannot be seen cannot be killed.
 */
function scanProcesses(): ProcessEntry[] {
  const entries: ProcessEntry[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) {
      continue;
    }
    const entry = toProcessEntry(Number(name), readStatus(name));
    if (entry !== undefined) {
      entries.push(entry);
    }
  }
  return entries;
}

function readStatus(pid: string): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/status`, "utf8");
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
