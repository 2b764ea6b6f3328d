/**
 * Runs one execution from start to clean-up: take a sandbox uid, build the execution directory,
 * start the confined runner, and then, in every case, kill what the code left running, delete the
 * directory and give the uid back. The two executors differ only in how they start the runner:
 * FreshExecutor starts a new interpreter, PrewarmedExecutor (prewarmed/) forks it from a template.
 */
import { readdir } from "node:fs/promises";
import path from "node:path";
import type { Config, Limits } from "../config.js";
import { SandboxFailedError, ServiceError } from "../errors.js";
import { describeError, log } from "../log.js";
import { SlotCgroups } from "./cgroups.js";
import { SlotDisks } from "./slot-disks.js";
import {
  findProcesses,
  findUidsWithLiveProcesses,
  killAllProcesses,
  waitForNoProcesses,
} from "./reaper.js";
import { runRunner, type RunnerOptions, type RunnerOutcome } from "./runner-process.js";
import { UidPool, type SandboxIdentity } from "./uid-pool.js";
import { createWorkdir, isWorkdirName, removeWorkdir, type WorkdirFile } from "./workdir.js";

/** How long killed processes may stay unreaped before their uid is withheld from the pool. */
const REAP_TIMEOUT_MS = 60_000;
/** How often a withheld uid is looked at again. */
const WITHHELD_RECHECK_MS = 10_000;

export type ExecutionRequest = Readonly<{
  code: string;
  /** The runner's stdin document, serialised in Python's JSON dialect. */
  input: string;
  files: readonly WorkdirFile[];
  limits: Limits;
}>;

/** The operations the service needs of an executor, whichever way it starts the runner. */
export interface Executor {
  /** Runs the request; throws a ServiceError when the machinery (not the code) failed. */
  run(request: ExecutionRequest): Promise<RunnerOutcome>;
  /** Removes what a previous process left; runs at start-up and after draining. */
  removeLeftovers(): Promise<void>;
  /**
   * Starts no new execution and prepares nothing ahead of requests; called when the service
   * starts to drain.
   */
  close(): void;
  /** Resolves once no execution runs, or after `timeoutMs`. */
  whenIdle(timeoutMs: number): Promise<void>;
  /** Detected once; "none" inside containers that cannot write cgroups. */
  readonly cgroups: Promise<SlotCgroups>;
  readonly disks: SlotDisks;
}

/** The state of an execution's processes after clean-up. */
type Remains = "none" | "unreaped" | "alive";

/** One prepared execution: its identity, directory, limits and stdin document. */
export type RunnerLaunch = Readonly<{
  identity: SandboxIdentity;
  dir: string;
  limits: Limits;
  input: string;
  /** Moves the runner's process into the slot's cgroups; called before stdin is written. */
  attach: (pid: number | undefined) => Promise<void>;
}>;

/** The steps both executors share; a subclass supplies `launch`, which starts the runner. */
export abstract class SlotExecutor implements Executor {
  protected readonly pool: UidPool;
  readonly cgroups: Promise<SlotCgroups>;
  readonly disks: SlotDisks;
  private isClosed = false;
  /** Executions from their start to the end of their clean-up. */
  private readonly running = new Set<Promise<unknown>>();

  constructor(protected readonly config: Config) {
    this.pool = new UidPool(config.sandboxUidBase, config.sandboxUidCount, config.sandboxGid);
    this.cgroups = SlotCgroups.detect(config.sandboxUidBase);
    this.disks = new SlotDisks(config.execRoot, config.diskBytes);
  }

  /**
   * Starts the runner for a prepared execution and collects its outcome. Errors that are not a
   * ServiceError become SandboxFailedError.
   */
  protected abstract launch(launch: RunnerLaunch): Promise<RunnerOutcome>;

  /**
   * Runs the request; throws SandboxFailedError when the machinery (not the code) failed, or the
   * ServiceError that `launch` threw.
   */
  async run(request: ExecutionRequest): Promise<RunnerOutcome> {
    if (this.isClosed) {
      // A startup check still running when the service drains would otherwise make a
      // directory after the drain removed what was left.
      throw new SandboxFailedError("the service is shutting down");
    }
    const execution = this.runInSlot(request);
    this.running.add(execution);
    try {
      return await execution;
    } finally {
      this.running.delete(execution);
    }
  }

  private async runInSlot(request: ExecutionRequest): Promise<RunnerOutcome> {
    const identity = await this.acquireIdentity();
    let dir: string | undefined;
    let isAttached = false;
    try {
      if (this.config.unconfinedForTests) {
        return await this.runUnconfined(identity, request);
      }
      const parent = await this.disks.parentFor(identity.slot);
      dir = await createWorkdir(parent, identity, request.code, request.files);
      const cgroups = await this.cgroups;
      const { NPROC, VMEM } = request.limits;
      await cgroups.configure(identity.slot, { maxProcesses: NPROC, maxMemoryBytes: VMEM });
      const attach = async (pid: number | undefined) => {
        if (pid === undefined) {
          throw new Error("runner process has no pid");
        }
        if (!this.isInCgroupsAlready(identity, pid)) {
          await cgroups.attach(identity.slot, pid);
        }
        isAttached = cgroups.mechanism !== "none";
      };
      return await this.launch({
        identity,
        dir,
        limits: request.limits,
        input: request.input,
        attach,
      });
    } catch (error) {
      if (error instanceof ServiceError) {
        throw error;
      }
      throw new SandboxFailedError("execution could not be started or collected", {
        cause: error,
      });
    } finally {
      this.endUnused(identity);
      const remains = this.config.unconfinedForTests
        ? "none"
        : await this.cleanUp(identity, dir, isAttached);
      if (remains === "none") {
        this.pool.release(identity);
      } else if (remains === "unreaped") {
        void this.releaseWhenReaped(identity);
      }
      this.afterRun();
    }
  }

  close(): void {
    this.isClosed = true;
  }

  async whenIdle(timeoutMs: number): Promise<void> {
    const timeout = new Promise((resolve) => setTimeout(resolve, timeoutMs).unref());
    await Promise.race([Promise.allSettled([...this.running]), timeout]);
  }

  /** Takes a sandbox uid for the next execution. */
  protected acquireIdentity(): Promise<SandboxIdentity> {
    return this.pool.acquire();
  }

  /** True when `pid` was moved into the identity's cgroups before its request came. */
  protected isInCgroupsAlready(_identity: SandboxIdentity, _pid: number): boolean {
    return false;
  }

  /** Ends what was prepared for the identity and not used; called when its execution ended. */
  protected endUnused(_identity: SandboxIdentity): void {}

  /** Called after each execution, once its clean-up is done. */
  protected afterRun(): void {}

  /**
   * Runs without the runner's confinement, cgroups, disk quota or clean-up kill: the test-only
   * mode in which every `deny` test must fail. The uid switch stays, so that hostile test code
   * cannot act as root on the test machine.
   */
  private async runUnconfined(
    identity: SandboxIdentity,
    request: ExecutionRequest,
  ): Promise<RunnerOutcome> {
    const dir = await createWorkdir(this.config.execRoot, identity, request.code, request.files);
    try {
      return await this.launch({
        identity,
        dir,
        limits: request.limits,
        input: request.input,
        attach: async () => {},
      });
    } finally {
      await removeWorkdir(dir);
    }
  }

  /**
   * Removes what a previous process left after a crash: execution directories, and processes of
   * the pool's uids. Runs once at start-up, before any execution.
   */
  async removeLeftovers(): Promise<void> {
    await this.disks.findExistingMounts();
    const leftovers: string[] = [];
    for (const parent of this.disks.parentDirs()) {
      const names = await readdir(parent);
      leftovers.push(...names.filter(isWorkdirName).map((name) => path.join(parent, name)));
    }
    // One /proc scan finds the pool uids that still have processes; only those are killed.
    const { sandboxUidBase: base, sandboxUidCount: count, sandboxGid: gid } = this.config;
    const busyUids = await findUidsWithLiveProcesses(base, count);
    const identities = [...busyUids].map((uid) => ({ uid, gid, slot: uid - base }));
    const killed = await Promise.all(identities.map((identity) => killAllProcesses(identity)));
    await Promise.all(leftovers.map((dir) => removeWorkdir(dir)));

    const processes = killed.reduce((sum, count) => sum + count, 0);
    if (leftovers.length > 0 || processes > 0) {
      log.warning("Removed leftover executions", { dirs: leftovers.length, processes });
    }
  }

  protected runnerOptions(): RunnerOptions {
    const c = this.config;
    return {
      pythonPath: c.pythonPath,
      runnerPath: c.runnerPath,
      readPaths: c.readPaths,
      confine: !c.unconfinedForTests,
      maxOutputBytes: c.maxOutputBytes,
      maxResultBytes: c.maxResultBytes,
    };
  }

  /**
   * Kills leftover processes, then removes the directory. Returns what is left of the uid's
   * processes: "alive" when some survived, so the uid is kept out of the pool rather than handed
   * to the next execution.
   */
  private async cleanUp(
    identity: SandboxIdentity,
    dir: string | undefined,
    isAttached: boolean,
  ): Promise<Remains> {
    let remains: Remains = "unreaped";
    try {
      if (await this.isUidEmpty(identity, isAttached)) {
        remains = "none";
      } else {
        const orphans = await killAllProcesses(identity);
        if (orphans > 0) {
          log.info("Killed processes left by an execution", { uid: identity.uid, orphans });
        }
      }
    } catch (error) {
      remains = "alive";
      log.error("Sandbox uid withheld from the pool", {
        uid: identity.uid,
        error: describeError(error),
      });
    }

    if (dir !== undefined) {
      await removeWorkdir(dir).catch((error: unknown) =>
        log.error("Execution directory not removed", { dir, error: describeError(error) }),
      );
    }
    return remains;
  }

  /**
   * True when no process of the uid is left, zombies included. Once the runner was attached to
   * the slot's cgroups, one read of their process count decides, because everything the code
   * starts stays inside. Otherwise one /proc scan decides. False when neither can be read.
   */
  private async isUidEmpty(identity: SandboxIdentity, isAttached: boolean): Promise<boolean> {
    try {
      const count = isAttached ? (await this.cgroups).countProcesses(identity.slot) : undefined;
      return (count ?? (await findProcesses(identity.uid, true)).length) === 0;
    } catch {
      return false;
    }
  }

  /**
   * Returns the uid to the pool once its killed processes are reaped, in the background so the
   * response does not wait. Zombies count against the next execution's process limit.
   */
  private async releaseWhenReaped(identity: SandboxIdentity): Promise<void> {
    if (await waitForNoProcesses(identity.uid, REAP_TIMEOUT_MS)) {
      this.pool.release(identity);
      return;
    }

    log.error("Sandbox uid withheld from the pool: its processes were not reaped", {
      uid: identity.uid,
      timeoutMs: REAP_TIMEOUT_MS,
    });
    // A zombie's parent may still reap it (a replaced template does), so the uid is looked at
    // again, rarely, and returns to the pool once it is free.
    while (!(await waitForNoProcesses(identity.uid, 0))) {
      await new Promise((resolve) => setTimeout(resolve, WITHHELD_RECHECK_MS).unref());
    }
    log.info("Sandbox uid back in the pool", { uid: identity.uid });
    this.pool.release(identity);
  }
}

/** Starts a new interpreter for every execution (runner-process.ts). */
export class FreshExecutor extends SlotExecutor {
  protected override launch(launch: RunnerLaunch): Promise<RunnerOutcome> {
    const { identity, dir, limits, input, attach } = launch;
    return runRunner(this.runnerOptions(), identity, dir, limits, input, attach);
  }
}
