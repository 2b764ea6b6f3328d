/**
 * The prewarmed executor: each execution runs in a child forked from a template interpreter that
 * imported the preload modules once (template-pool.ts), instead of in a new interpreter. The uid
 * pool, execution directory, cgroups and clean-up are the fresh executor's (SlotExecutor).
 *
 * The templates run as their own uid, one below the sandbox pool's first uid, with only
 * CAP_SETUID and CAP_SETGID. Each makes, while still root, the directory of their sockets under
 * /run/codejail, which only the service's user may enter (template_start.py names the same
 * paths).
 */
import path from "node:path";
import type { Config } from "../../config.js";
import { log } from "../../log.js";
import { SlotExecutor, type RunnerLaunch } from "../executor.js";
import { killAllProcesses } from "../reaper.js";
import type { RunnerOutcome } from "../runner-process.js";
import { runForked } from "./forked-runner.js";
import { TemplatePool } from "./template-pool.js";

const RUN_DIR = "/run/codejail";
const TEMPLATE_FILE_NAME = "template.py";

export class PrewarmedExecutor extends SlotExecutor {
  private readonly templates: TemplatePool;
  private readonly templateUid: number;

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
  }

  protected override launch(launch: RunnerLaunch): Promise<RunnerOutcome> {
    return runForked(this.templates, this.runnerOptions(), launch);
  }

  /**
   * Removes the fresh executor's leftovers first, which kills what runs under the pool's uids,
   * so that executions still running end as killed (status -9) while their template can still
   * report it. Then stops the templates and kills every process of the template uid: templates
   * of a crashed predecessor, and children not yet switched to a pool uid. The templates start
   * again on the next execution.
   */
  override async removeLeftovers(): Promise<void> {
    await super.removeLeftovers();
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
