/**
 * Starts the trusted Python runner for one execution and collects what it left: exit status,
 * bounded stdout and stderr, and the result channel (fd 3). The wall-clock deadline kills the
 * whole process tree of the execution's uid, then stops waiting on pipes that anything could
 * still hold.
 */
import os from "node:os";
import path from "node:path";
import { execa } from "execa";
import type { Limits } from "../config.js";
import { killAllProcesses } from "./reaper.js";
import type { SandboxIdentity } from "./uid-pool.js";
import { SCRATCH_DIR_NAME } from "./workdir.js";

const SANDBOX_PATH = "/usr/local/bin:/usr/bin:/bin";
const OPEN_FILES_LIMIT = 256;
/** How long to wait for pipes to close after the tree was killed, before giving up on them. */
const PIPE_DRAIN_AFTER_KILL_MS = 1000;

export type RunnerOptions = Readonly<{
  pythonPath: string;
  runnerPath: string;
  readPaths: readonly string[];
  confine: boolean;
  maxOutputBytes: number;
  maxResultBytes: number;
}>;

export type RunnerOutcome = Readonly<{
  /** Exit status as codejail reports it: the exit code, or minus the signal number. */
  status: number;
  stdout: Uint8Array;
  stderr: Uint8Array;
  resultChannel: Uint8Array;
  timedOut: boolean;
  outputLimitExceeded: boolean;
  durationMs: number;
}>;

/** Runs the runner in `dir` as `identity`, feeding `input` on stdin. */
export async function runRunner(
  options: RunnerOptions,
  identity: SandboxIdentity,
  dir: string,
  limits: Limits,
  input: string,
  attach: (pid: number | undefined) => Promise<void>,
): Promise<RunnerOutcome> {
  const runnerConfig = {
    limits: {
      cpu_seconds: limits.CPU,
      vmem_bytes: limits.VMEM,
      fsize_bytes: limits.FSIZE,
      nproc: limits.NPROC,
      nofile: OPEN_FILES_LIMIT,
    },
    read_paths: options.readPaths,
    confine: options.confine,
  };
  const scratch = path.join(dir, SCRATCH_DIR_NAME);
  const started = performance.now();

  const subprocess = execa(
    options.pythonPath,
    ["-I", "-B", options.runnerPath, JSON.stringify(runnerConfig)],
    {
      cwd: dir,
      uid: identity.uid,
      gid: identity.gid,
      env: {
        PATH: SANDBOX_PATH,
        HOME: scratch,
        TMPDIR: scratch,
        OPENBLAS_NUM_THREADS: "1",
        LANG: "C.UTF-8",
      },
      extendEnv: false,
      stdio: ["pipe", "pipe", "pipe", "pipe"],
      encoding: "buffer",
      stripFinalNewline: false,
      maxBuffer: {
        stdout: options.maxOutputBytes,
        stderr: options.maxOutputBytes,
        fd3: options.maxResultBytes,
      },
      reject: false,
      cleanup: true,
    },
  );

  // The code arrives on stdin only after the runner is inside the slot's cgroups, so nothing it
  // starts can be created outside them.
  try {
    await attach(subprocess.pid);
    subprocess.stdin.end(input);
  } catch (error) {
    subprocess.kill("SIGKILL");
    await subprocess;
    throw error;
  }

  let timedOut = false;
  let stopWaiting: () => void = () => {};
  const drainGiveUp = new Promise<void>((resolve) => (stopWaiting = resolve));
  const deadline = setTimeout(() => {
    timedOut = true;
    void killAllProcesses(identity)
      .catch(() => subprocess.kill("SIGKILL"))
      .finally(() => setTimeout(stopWaiting, PIPE_DRAIN_AFTER_KILL_MS).unref());
  }, limits.REALTIME * 1000);

  let result = await Promise.race([subprocess, drainGiveUp.then(() => undefined)]);
  clearTimeout(deadline);
  if (result === undefined) {
    // Something still holds a pipe after the kill; destroying the streams ends the wait.
    for (const stream of subprocess.stdio) {
      stream?.destroy();
    }
    subprocess.kill("SIGKILL");
    result = await Promise.race([subprocess, delay(PIPE_DRAIN_AFTER_KILL_MS)]);
    if (result === undefined) {
      throw new Error(`runner pid ${subprocess.pid} did not exit after SIGKILL`);
    }
  }

  return {
    status: toStatus(result.exitCode, result.signal),
    stdout: result.stdout ?? new Uint8Array(),
    stderr: result.stderr ?? new Uint8Array(),
    resultChannel: (result.stdio[3] as Uint8Array | undefined) ?? new Uint8Array(),
    timedOut,
    outputLimitExceeded: result.isMaxBuffer,
    durationMs: performance.now() - started,
  };
}

function delay(ms: number): Promise<undefined> {
  return new Promise((resolve) => setTimeout(() => resolve(undefined), ms).unref());
}

function toStatus(exitCode: number | undefined, signal: string | undefined): number {
  if (signal !== undefined) {
    const number = os.constants.signals[signal as keyof typeof os.constants.signals];
    return -(number ?? 0);
  }

  return exitCode ?? -1;
}
