/**
 * Shared checks for the fault tests: what a real service left behind (sandbox processes and
 * execution directories), the runner processes of running executions, and the service's memory.
 */
import { execFile } from "node:child_process";
import type { ChildProcess } from "node:child_process";
import { access, readdir, readFile } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { findSandboxProcesses } from "../helpers/sandbox.js";
import { TEST_EXEC_ROOT, TEST_UID_BASE, TEST_UID_COUNT } from "../helpers/server.js";

const POLL_MS = 50;
const run = promisify(execFile);

export type Leftovers = { processes: number[]; dirs: string[] };
export type ExitStatus = { code: number | null; signal: NodeJS.Signals | null };

/** Lists `exec-*` directories under the root and under each `slot-*` filesystem inside it. */
export async function listExecutionDirs(root = TEST_EXEC_ROOT): Promise<string[]> {
  const found: string[] = [];
  for (const name of await readdir(root).catch(() => [])) {
    if (name.startsWith("exec-")) {
      found.push(path.join(root, name));
    } else if (name.startsWith("slot-")) {
      const slot = path.join(root, name);
      const inner = await readdir(slot).catch(() => []);
      found.push(...inner.filter((n) => n.startsWith("exec-")).map((n) => path.join(slot, n)));
    }
  }
  return found;
}

/**
 * Waits until no sandbox process and no execution directory is left, and returns what is still
 * there after `timeoutMs`. Clean-up of a finished request runs before its response, but clean-up
 * after a crash or a drain may still be running when the test looks.
 */
export async function waitForNoLeftovers(
  root = TEST_EXEC_ROOT,
  timeoutMs = 3000,
): Promise<Leftovers> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = { processes: await findSandboxProcesses(), dirs: await listExecutionDirs(root) };
    if ((left.processes.length === 0 && left.dirs.length === 0) || Date.now() > deadline) {
      return left;
    }
    await delay(POLL_MS);
  }
}

/**
 * Builds Python code that creates `tmp/started` in its execution directory, sleeps `seconds`
 * and then sets `done = True`. The marker shows a test that the runner is past confinement and
 * running the code (see waitForStartedExecution).
 */
export function sleepCode(seconds: number): string {
  return `import time\nopen('tmp/started', 'w').close()\ntime.sleep(${seconds})\ndone = True`;
}

/** Waits until `count` executions running sleepCode have created their markers. */
export async function waitForStartedExecution(
  count = 1,
  root = TEST_EXEC_ROOT,
  timeoutMs = 5000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    let started = 0;
    for (const dir of await listExecutionDirs(root)) {
      const marker = path.join(dir, "tmp", "started");
      started += await access(marker).then(
        () => 1,
        () => 0,
      );
    }
    if (started >= count) {
      return;
    }
    await delay(POLL_MS);
  }
  throw new Error(`fewer than ${count} executions under ${root} started within ${timeoutMs} ms`);
}

/** Lists the pids of runner processes (python running runner.py) under a pool uid. */
export async function findRunnerPids(): Promise<number[]> {
  const found: number[] = [];
  for (const pid of (await readdir("/proc")).filter((name) => /^\d+$/.test(name))) {
    const status = await readFile(`/proc/${pid}/status`, "utf8").catch(() => "");
    const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
    if (uid < TEST_UID_BASE || uid >= TEST_UID_BASE + TEST_UID_COUNT) {
      continue;
    }

    const commandLine = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
    if (commandLine.split("\0").some((arg) => arg.endsWith("/runner.py"))) {
      found.push(Number(pid));
    }
  }
  return found;
}

/** Reads a process's resident set size in KiB from /proc/<pid>/status. */
export async function readRssKib(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const rss = /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1];
  if (rss === undefined) {
    throw new Error(`no VmRSS line for pid ${pid}`);
  }
  return Number(rss);
}

/** Resolves with the exit status, or undefined when the process still runs after `timeoutMs`. */
export function waitForExit(
  child: ChildProcess,
  timeoutMs: number,
): Promise<ExitStatus | undefined> {
  if (child.exitCode !== null || child.signalCode !== null) {
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode });
  }

  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), timeoutMs);
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal });
    });
  });
}

/** Unmounts the slot filesystems a service mounted under `root`, for roots a test made itself. */
export async function unmountSlots(root: string): Promise<void> {
  const mountInfo = await readFile("/proc/self/mountinfo", "utf8");
  const mountPoints = mountInfo
    .split("\n")
    .map((line) => line.split(" ")[4] ?? "")
    .filter((mountPoint) => mountPoint.startsWith(`${root}/slot-`));
  for (const mountPoint of mountPoints) {
    await run("/usr/bin/umount", [mountPoint]);
  }
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
