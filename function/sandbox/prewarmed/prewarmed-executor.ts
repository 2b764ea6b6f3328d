/**
 * The prewarmed executor: each execution runs in a child forked from a template interpreter that
 * imported the preload modules once (template-pool.ts), instead of in a new interpreter. The uid
 * pool, execution directory, cgroups and clean-up are the fresh executor's (SlotExecutor).
 *
 * The templates run as their own uid, one below the sandbox pool's first uid, with only
 * CAP_SETUID and CAP_SETGID. Each makes, while still root, the directory of their sockets under
 * /run/codejail, which only the service's user may enter (template_start.py names the same
 * paths).
 *
 * CODEJAIL_TEMPLATE_SPARES children are kept forked ahead of requests (spares.ts). An execution
 * takes the uid of a spare with the spare, and forks a child on demand when none is ready.
 */
import path from "node:path";
import type { Config } from "../../config.js";
import { log } from "../../log.js";
import { SlotExecutor, type RunnerLaunch } from "../executor.js";
import type { SandboxIdentity } from "../uid-pool.js";
import { killAllProcesses } from "../reaper.js";
import type { RunnerOutcome } from "../runner-process.js";
import { runForked } from "./forked-runner.js";
import { SpareChildren } from "./spares.js";
import { TemplatePool } from "./template-pool.js";
import { closeConnections, type ForkedChild } from "./template-process.js";

const RUN_DIR = "/run/codejail";
const TEMPLATE_FILE_NAME = "template.py";
/** How long executions killed by removeLeftovers may take to end before the templates stop. */
const STATUS_AFTER_KILL_MS = 2000;

export class PrewarmedExecutor extends SlotExecutor {
  private readonly templates: TemplatePool;
  private readonly templateUid: number;
  private readonly spares: SpareChildren;
  /** Spare children taken for executions that have not started them yet, by uid. */
  private readonly taken = new Map<number, ForkedChild>();

  constructor(config: Config) {
    super(config);
    this.templateUid = config.sandboxUidBase - 1;
    this.templates = new TemplatePool({
      template: {
        pythonPath: config.pythonPath,
        templatePath: path.join(path.dirname(config.runnerPath), TEMPLATE_FILE_NAME),
        launcherPath: config.launcherPath,
        uid: this.templateUid,
        gid: config.sandboxGid,
        poolUidBase: config.sandboxUidBase,
        poolUidCount: config.sandboxUidCount,
        preloadModules: config.preloadModules,
      },
      socketDir: path.join(RUN_DIR, `templates-${this.templateUid}`),
      count: config.templateCount,
      maxExecutions: config.templateMaxExecutions,
      maxAgeMs: config.templateMaxAgeSeconds * 1000,
    });
    const { NPROC, VMEM } = config.defaultLimits;
    this.spares = new SpareChildren(
      this.templates,
      {
        tryAcquire: () => this.pool.tryAcquire(),
        release: (identity) => this.pool.release(identity),
        enter: async (identity, pid) => {
          const cgroups = await this.cgroups;
          await cgroups.configure(identity.slot, { maxProcesses: NPROC, maxMemoryBytes: VMEM });
          await cgroups.attach(identity.slot, pid);
        },
      },
      // Spares take only uids that concurrent executions cannot all need, so no execution ever
      // waits for a uid that a spare holds.
      Math.max(0, Math.min(config.templateSpares, config.sandboxUidCount - config.maxConcurrent)),
    );
  }

  protected override async acquireIdentity(): Promise<SandboxIdentity> {
    const spare = this.spares.take();
    if (spare === undefined) {
      return super.acquireIdentity();
    }
    this.taken.set(spare.identity.uid, spare.child);
    return spare.identity;
  }

  protected override isInCgroupsAlready(identity: SandboxIdentity, pid: number): boolean {
    return this.taken.get(identity.uid)?.pid === pid;
  }

  /**
   * Runs the launch on its spare, if it took one, else on a child forked now. A spare killed
   * just before its execution, after the check in SpareChildren.take, ends by a signal before it
   * reported its confinement, so no code of the request ran: the launch then runs again on a
   * new child. A child forked now that ends so is a sandbox failure, as with the fresh executor.
   */
  protected override async launch(launch: RunnerLaunch): Promise<RunnerOutcome> {
    const spare = this.taken.get(launch.identity.uid);
    const outcome = await runForked(this.templates, this.runnerOptions(), launch, spare);
    if (spare === undefined || !isKilledBeforeConfinement(outcome)) {
      return outcome;
    }
    log.warning("Spare child died before its execution started; forking another", {
      pid: spare.pid,
      status: outcome.status,
    });
    return runForked(this.templates, this.runnerOptions(), launch, undefined);
  }

  protected override endUnused(identity: SandboxIdentity): void {
    const spare = this.taken.get(identity.uid);
    this.taken.delete(identity.uid);
    if (spare !== undefined) {
      // A spare that never got its fields exits now. After a run, its connections are done anyway.
      closeConnections(spare);
    }
  }

  protected override afterRun(): void {
    this.spares.fill();
  }

  /**
   * Removes the fresh executor's leftovers first, which kills what runs under the pool's uids,
   * so that executions still running end as killed (status -9) while their template can still
   * report it. Then stops the templates and kills every process of the template uid: templates
   * of a crashed predecessor, and children not yet switched to a pool uid. The templates start
   * again on the next execution.
   */
  override close(): void {
    super.close();
    this.spares.close();
  }

  override async removeLeftovers(): Promise<void> {
    this.spares.endAll();
    await super.removeLeftovers();
    // The killed executions end once their templates report the exit status, which a template
    // stopped first would never send: they would fail instead of ending as killed.
    await this.whenIdle(STATUS_AFTER_KILL_MS);
    await this.templates.stop();
    // NOTE: with the launcher the service may kill pool uids only. A crashed predecessor's
    // templates then exit by themselves, once their stdin (the dead service's end) closes.
    if (this.config.launcherPath === undefined) {
      const identity = { uid: this.templateUid, gid: this.config.sandboxGid, slot: -1 };
      const killed = await killAllProcesses(identity);
      if (killed > 0) {
        log.warning("Killed template processes of a previous run", { processes: killed });
      }
    }
  }
}

/** True when the child ended by a signal before it wrote anything on its result channel. */
function isKilledBeforeConfinement(outcome: RunnerOutcome): boolean {
  return outcome.status < 0 && outcome.resultChannel.length === 0 && !outcome.timedOut;
}
