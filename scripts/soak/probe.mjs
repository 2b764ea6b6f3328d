/**
 * Readings of the service's footprint from /proc and the execution root: resident memory, open
 * file descriptors, execution directories left on disk and live processes of the sandbox uids.
 */
import { readdir, readFile } from "node:fs/promises";
import path from "node:path";

const FD_SAMPLES = 10;
const FD_SAMPLE_INTERVAL_MS = 100;

/**
 * Takes one reading. `pid` may be undefined when the service runs elsewhere (--url without
 * --pid); its memory and descriptors are then reported as null.
 */
export async function readFootprint({ pid, execRoot, uidBase, uidCount }) {
  return {
    rssKib: pid === undefined ? null : await readRssKib(pid),
    openFds: pid === undefined ? null : await countOpenFds(pid),
    executionDirs: (await listExecutionDirs(execRoot)).length,
    sandboxProcesses: (await findSandboxProcesses(uidBase, uidCount)).length,
  };
}

async function readRssKib(pid) {
  const status = await readFile(`/proc/${pid}/status`, "utf8").catch(() => "");
  const match = /^VmRSS:\s+(\d+) kB/m.exec(status);
  return match === null ? null : Number(match[1]);
}

/**
 * Counts open descriptors as the lowest of several samples: the service's reaper reads every
 * /proc/<pid>/status file at once while it waits for killed processes, which briefly opens
 * one descriptor per process on the host (over 4000 were seen during a soak), and those are no
 * leak.
 */
async function countOpenFds(pid) {
  let lowest = null;
  for (let sample = 0; sample < FD_SAMPLES; sample += 1) {
    const entries = await readdir(`/proc/${pid}/fd`).catch(() => null);
    if (entries !== null && (lowest === null || entries.length < lowest)) {
      lowest = entries.length;
    }
    await new Promise((resolve) => setTimeout(resolve, FD_SAMPLE_INTERVAL_MS));
  }
  return lowest;
}

/** Lists `exec-*` directories under the root and inside each `slot-*` filesystem there. */
export async function listExecutionDirs(execRoot) {
  const found = [];
  for (const name of await readdir(execRoot).catch(() => [])) {
    if (name.startsWith("exec-")) {
      found.push(path.join(execRoot, name));
    } else if (name.startsWith("slot-")) {
      const slotDir = path.join(execRoot, name);
      for (const inner of await readdir(slotDir).catch(() => [])) {
        if (inner.startsWith("exec-")) {
          found.push(path.join(slotDir, inner));
        }
      }
    }
  }
  return found;
}

/** Lists live (not zombie) processes whose real uid is in the sandbox pool. */
export async function findSandboxProcesses(uidBase, uidCount) {
  const found = [];
  for (const pid of (await readdir("/proc")).filter((name) => /^\d+$/.test(name))) {
    const status = await readFile(`/proc/${pid}/status`, "utf8").catch(() => "");
    const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
    const state = /^State:\s+(\S)/m.exec(status)?.[1];
    if (uid >= uidBase && uid < uidBase + uidCount && state !== "Z" && state !== "X") {
      found.push(Number(pid));
    }
  }
  return found;
}

/**
 * Polls until no execution directory and no sandbox process is left, or `timeoutMs` passes.
 * Clean-up of killed executions and the reaping of their processes run after the responses.
 */
export async function waitForQuiet(options, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const reading = await readFootprint(options);
    const isQuiet = reading.executionDirs === 0 && reading.sandboxProcesses === 0;
    if (isQuiet || Date.now() > deadline) {
      return reading;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/**
 * Samples the service's resident memory every `intervalMs` until stopped. Returns a stop
 * function that returns the samples in KiB, none when `pid` is undefined.
 */
export function sampleRss(pid, intervalMs) {
  const samples = [];
  const timer =
    pid === undefined
      ? undefined
      : setInterval(() => {
          readRssKib(pid).then((rss) => rss !== null && samples.push(rss));
        }, intervalMs);
  return () => {
    clearInterval(timer);
    return samples;
  };
}
