/**
 * Settings a runner gets from the service: the runner configuration, the environment and the
 * deadline. runner-process.ts (fresh) and forked-runner.ts (prewarmed) both build them here, so
 * both executors give the code the same limits and variables.
 * test/prewarmed/parity.test.ts compares what the code reads of them under both executors.
 */
import path from "node:path";
import type { Limits } from "../config.js";
import type { RunnerOptions } from "./runner-process.js";
import { SCRATCH_DIR_NAME } from "./workdir.js";

export const SANDBOX_PATH = "/usr/local/bin:/usr/bin:/bin";
const OPEN_FILES_LIMIT = 256;
/** How long to wait for the channels to close after the tree was killed, before giving up. */
export const PIPE_DRAIN_AFTER_KILL_MS = 1000;
/** Without confinement (a test-only mode) only this long deadline remains, as a safety net. */
const UNCONFINED_REALTIME_SECONDS = 40;

/** Builds the runner configuration (argv[1] of a fresh runner) as JSON text. */
export function toRunnerConfigText(options: RunnerOptions, limits: Limits): string {
  return JSON.stringify({
    limits: {
      cpu_seconds: limits.CPU,
      vmem_bytes: limits.VMEM,
      fsize_bytes: limits.FSIZE,
      nproc: limits.NPROC,
      nofile: OPEN_FILES_LIMIT,
    },
    read_paths: options.readPaths,
    confine: options.confine,
  });
}

/**
 * Builds the only variables the code gets: none of the service's own. Without confinement (a
 * test-only mode) the code also gets the service's environment, as a fresh runner does then.
 */
export function toSandboxEnvironment(options: RunnerOptions, dir: string): Record<string, string> {
  const scratch = path.join(dir, SCRATCH_DIR_NAME);
  const sandbox = {
    PATH: SANDBOX_PATH,
    HOME: scratch,
    TMPDIR: scratch,
    OPENBLAS_NUM_THREADS: "1",
    LANG: "C.UTF-8",
  };
  if (options.confine) {
    return sandbox;
  }

  const service = Object.entries(process.env).filter(
    (entry): entry is [string, string] => entry[1] !== undefined,
  );
  return { ...Object.fromEntries(service), ...sandbox };
}

export function toDeadlineMs(options: RunnerOptions, limits: Limits): number {
  return (options.confine ? limits.REALTIME : UNCONFINED_REALTIME_SECONDS) * 1000;
}

export function delay(ms: number): Promise<undefined> {
  return new Promise((resolve) => setTimeout(() => resolve(undefined), ms).unref());
}
