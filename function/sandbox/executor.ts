/**
 * Runs one execution from start to clean-up: take a sandbox uid, build the execution directory,
 * run the confined runner, and then, in every case, kill what the code left running, delete the
 * directory and give the uid back.
 */
import { readdir } from "node:fs/promises";
import path from "node:path";
import type { Config, Limits } from "../config.js";
import { SandboxFailedError } from "../errors.js";
import { describeError, log } from "../log.js";
import { SlotCgroups } from "./cgroups.js";
import { killAllProcesses } from "./reaper.js";
import { runRunner, type RunnerOutcome } from "./runner-process.js";
import { UidPool } from "./uid-pool.js";
import { createWorkdir, isWorkdirName, removeWorkdir, type WorkdirFile } from "./workdir.js";

export type ExecutionRequest = Readonly<{
  code: string;
  /** The runner's stdin document, serialised in Python's JSON dialect. */
  input: string;
  files: readonly WorkdirFile[];
  limits: Limits;
}>;

export class Executor {
  private readonly pool: UidPool;
  /** Detected once; "none" inside containers that cannot write cgroups. */
  readonly cgroups: Promise<SlotCgroups>;

  constructor(private readonly config: Config) {
    this.pool = new UidPool(config.sandboxUidBase, config.sandboxUidCount, config.sandboxGid);
    this.cgroups = SlotCgroups.detect();
  }

  /** Runs the request; throws SandboxFailedError when the machinery (not the code) failed. */
  async run(request: ExecutionRequest): Promise<RunnerOutcome> {
    const identity = await this.pool.acquire();
    let dir: string | undefined;
    try {
      dir = await createWorkdir(this.config.execRoot, identity, request.code, request.files);
      const cgroups = await this.cgroups;
      const { NPROC, VMEM } = request.limits;
      await cgroups.configure(identity.slot, { maxProcesses: NPROC, maxMemoryBytes: VMEM });
      const attach = async (pid: number | undefined) => {
        if (pid === undefined) {
          throw new Error("runner process has no pid");
        }
        await cgroups.attach(identity.slot, pid);
      };
      return await runRunner(
        this.runnerOptions(),
        identity,
        dir,
        request.limits,
        request.input,
        attach,
      );
    } catch (error) {
      throw new SandboxFailedError("execution could not be started or collected", {
        cause: error,
      });
    } finally {
      if (await this.cleanUp(identity.uid, () => killAllProcesses(identity), dir)) {
        this.pool.release(identity);
      }
    }
  }

  /**
   * Removes what a previous process left after a crash: execution directories, and processes of
   * the pool's uids. Runs once at start-up, before any execution.
   */
  async removeLeftovers(): Promise<void> {
    const names = await readdir(this.config.execRoot);
    const leftovers = names.filter(isWorkdirName);
    const identities = Array.from({ length: this.config.sandboxUidCount }, (_, slot) => ({
      uid: this.config.sandboxUidBase + slot,
      gid: this.config.sandboxGid,
      slot,
    }));
    const killed = await Promise.all(identities.map((identity) => killAllProcesses(identity)));
    await Promise.all(
      leftovers.map((name) => removeWorkdir(path.join(this.config.execRoot, name))),
    );

    const processes = killed.reduce((sum, count) => sum + count, 0);
    if (leftovers.length > 0 || processes > 0) {
      log.warning("Removed leftovers of a previous run", { dirs: leftovers.length, processes });
    }
  }

  private runnerOptions() {
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
   * Kills leftover processes, then removes the directory. Returns false when processes survived,
   * so the uid is kept out of the pool rather than handed to the next execution.
   */
  private async cleanUp(
    uid: number,
    kill: () => Promise<number>,
    dir: string | undefined,
  ): Promise<boolean> {
    let isUidClean = true;
    try {
      const orphans = await kill();
      if (orphans > 0) {
        log.info("Killed processes left by an execution", { uid, processes: orphans });
      }
    } catch (error) {
      isUidClean = false;
      log.error("Sandbox uid withheld from the pool", { uid, error: describeError(error) });
    }

    if (dir !== undefined) {
      await removeWorkdir(dir).catch((error: unknown) =>
        log.error("Execution directory not removed", { dir, error: describeError(error) }),
      );
    }
    return isUidClean;
  }
}
