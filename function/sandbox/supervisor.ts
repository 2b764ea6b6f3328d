/**
 * Watches one running execution for both executors: captures its three output channels within
 * their limits, kills its whole process tree once (at the wall-clock deadline, on output past a
 * limit, or when the executor asks), and builds the outcome.
 */
import type { Readable } from "node:stream";
import { captureStream, type Capture } from "./capture.js";
import { killAllProcesses } from "./reaper.js";
import type { ExceededOutput, RunnerOutcome } from "./runner-process.js";
import { delay, PIPE_DRAIN_AFTER_KILL_MS } from "./runner-settings.js";
import type { SandboxIdentity } from "./uid-pool.js";

export type OutputChannels = Readonly<{
  stdout: Readable | null | undefined;
  stderr: Readable | null | undefined;
  result: Readable | null | undefined;
}>;

export type OutputLimits = Readonly<{ maxOutputBytes: number; maxResultBytes: number }>;

export class ExecutionSupervisor {
  readonly stdout: Capture;
  readonly stderr: Capture;
  readonly result: Capture;
  /** Resolves once a kill of the tree has finished; never resolves without a kill. */
  readonly killed: Promise<void>;
  private isTimedOut = false;
  private exceeded: ExceededOutput | undefined;
  private isKilling = false;
  private markKilled: () => void = () => {};
  private deadline: NodeJS.Timeout | undefined;

  /**
   * Starts capturing at once: with `buffer: false`, execa discards output that no listener
   * reads, so this must run before the caller's first await. `killDirectly` is the fallback when
   * the kill as the execution's uid fails.
   */
  constructor(
    private readonly identity: SandboxIdentity,
    private readonly killDirectly: () => void,
    channels: OutputChannels,
    limits: OutputLimits,
  ) {
    this.killed = new Promise<void>((resolve) => (this.markKilled = resolve));
    this.stdout = captureStream(channels.stdout, limits.maxOutputBytes, this.overflow("stdout"));
    this.stderr = captureStream(channels.stderr, limits.maxOutputBytes, this.overflow("stderr"));
    this.result = captureStream(channels.result, limits.maxResultBytes, this.overflow("result"));
  }

  /** Promise that settles when all three channels have closed. */
  get channelsClosed(): Promise<[void, void, void]> {
    return Promise.all([this.stdout.done, this.stderr.done, this.result.done]);
  }

  /** Kills every process of the execution's uid; later calls do nothing. */
  killTree(): void {
    if (this.isKilling) {
      return;
    }

    this.isKilling = true;
    killAllProcesses(this.identity)
      .catch(() => this.killDirectly())
      .finally(this.markKilled);
  }

  /**
   * Resolves once a kill that was started has finished, at once when none was. The executor
   * waits for it before it cleans up: a kill still running could otherwise reach the next
   * execution of the same uid.
   */
  async killSettled(): Promise<void> {
    if (this.isKilling) {
      await this.killed;
    }
  }

  /** Kills the tree when `ms` milliseconds have passed, and records the timeout. */
  startDeadline(ms: number): void {
    this.deadline = setTimeout(() => {
      this.isTimedOut = true;
      this.killTree();
    }, ms);
  }

  stopDeadline(): void {
    clearTimeout(this.deadline);
  }

  /** Resolves (to undefined) PIPE_DRAIN_AFTER_KILL_MS after a kill finished. */
  giveUpAfterKill(): Promise<undefined> {
    return this.killed.then(() => delay(PIPE_DRAIN_AFTER_KILL_MS));
  }

  toOutcome(status: number, startedMs: number): RunnerOutcome {
    return {
      status,
      stdout: this.stdout.bytes(),
      stderr: this.stderr.bytes(),
      resultChannel: this.result.bytes(),
      timedOut: this.isTimedOut,
      exceededOutput: this.exceeded,
      durationMs: performance.now() - startedMs,
    };
  }

  private overflow(name: ExceededOutput): () => void {
    return () => {
      this.exceeded ??= name;
      this.killTree();
    };
  }
}
