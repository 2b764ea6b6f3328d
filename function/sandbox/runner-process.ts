/**
 * Starts the trusted Python runner for one execution and collects what it left: exit status,
 * bounded stdout and stderr, and the result channel (fd 3). The wall-clock deadline, and any
 * output past its limit, kill the whole process tree of the execution's uid; after a kill the
 * service stops waiting on pipes that something could still hold.
 */
import os from "node:os";
import { execa } from "execa";
import type { Limits } from "../config.js";
import {
  delay,
  PIPE_DRAIN_AFTER_KILL_MS,
  toDeadlineMs,
  toRunnerConfigText,
  toSandboxEnvironment,
} from "./runner-settings.js";
import { toSpawnSpec } from "./privilege.js";
import { ExecutionSupervisor } from "./supervisor.js";
import type { SandboxIdentity } from "./uid-pool.js";

export type RunnerOptions = Readonly<{
  pythonPath: string;
  runnerPath: string;
  readPaths: readonly string[];
  confine: boolean;
  maxOutputBytes: number;
  maxResultBytes: number;
}>;

/** The output that went past its limit: the code's stdout or stderr, or the returned globals. */
export type ExceededOutput = "stdout" | "stderr" | "result";

export type RunnerOutcome = Readonly<{
  /** Exit status as codejail reports it: the exit code, or minus the signal number. */
  status: number;
  stdout: Uint8Array;
  stderr: Uint8Array;
  resultChannel: Uint8Array;
  timedOut: boolean;
  exceededOutput: ExceededOutput | undefined;
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
  const started = performance.now();
  const runnerArgs = ["-I", "-B", options.runnerPath, toRunnerConfigText(options, limits)];
  const spec = toSpawnSpec(identity, dir, options.pythonPath, runnerArgs);
  const subprocess = execa(spec.file, spec.args, {
    ...spec.options,
    env: toSandboxEnvironment(options, dir),
    extendEnv: false,
    stdio: ["pipe", "pipe", "pipe", "pipe"],
    buffer: false,
    reject: false,
    cleanup: true,
  });

  // Created before any await: with `buffer: false`, execa discards output that no listener reads.
  const supervisor = new ExecutionSupervisor(
    identity,
    () => void subprocess.kill("SIGKILL"),
    { stdout: subprocess.stdout, stderr: subprocess.stderr, result: subprocess.stdio[3] },
    options,
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

  supervisor.startDeadline(toDeadlineMs(options, limits));

  // Once the runner itself has exited the execution is over: descendants that keep the pipes
  // open are killed rather than waited for. ("exit" fires when the process ends, while execa's
  // promise also waits for the pipes.)
  if (options.confine) {
    subprocess.once("exit", () => supervisor.killTree());
  }
  const exited = Promise.all([subprocess, supervisor.channelsClosed]);
  const finished = await Promise.race([exited, supervisor.giveUpAfterKill()]);
  supervisor.stopDeadline();
  if (finished === undefined) {
    // A pipe is still open after the kill, so destroying the streams ends the wait.
    subprocess.stdio.forEach((stream) => stream?.destroy());
    subprocess.kill("SIGKILL");
  }
  const [subprocessResult] = (await Promise.race([exited, delay(PIPE_DRAIN_AFTER_KILL_MS)])) ?? [];
  await supervisor.killSettled();
  if (subprocessResult === undefined) {
    throw new Error(`runner pid ${subprocess.pid} did not exit after SIGKILL`);
  }

  const status = toStatus(subprocessResult.exitCode, subprocessResult.signal);
  return supervisor.toOutcome(status, started);
}

function toStatus(exitCode: number | undefined, signal: string | undefined): number {
  if (signal !== undefined) {
    const number = os.constants.signals[signal as keyof typeof os.constants.signals];
    return -(number ?? 0);
  }

  return exitCode ?? -1;
}
