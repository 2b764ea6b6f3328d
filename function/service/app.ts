/**
 * The service: routes requests, owns the executor, admission control and the safety verdict, and
 * drains on shutdown. Every error is contained here and returned as JSON, because the Functions
 * Framework exits the process on an uncaught exception.
 */
import type { Request, Response } from "@google-cloud/functions-framework";
import type { Config } from "../config.js";
import { describeError, log } from "../log.js";
import { FreshExecutor, type Executor } from "../sandbox/executor.js";
import { PrewarmedExecutor } from "../sandbox/prewarmed/prewarmed-executor.js";
import { Admission, DrainingError } from "./admission.js";
import { handleCodeExec, type CodeExecContext } from "./code-exec.js";
import { runExecution } from "./execution.js";
import { sendJson, toJsonObject } from "./responses.js";
import { runSafetyCheck } from "./safety-check.js";
import { SafetyMonitor } from "./safety-monitor.js";

const CODE_EXEC_PATH = "/api/v0/code-exec";
const HEALTH_PATH = "/health/";
const HEALTH_DETAIL_PATH = "/health/detail";
const DRAIN_POLL_MS = 50;
/** After the grace period, how long killed executions' responses may take before exit. */
const FINAL_RESPONSES_MS = 1000;

export class CodejailService {
  private readonly executor: Executor;
  private readonly admission: Admission;
  private readonly safety: SafetyMonitor;
  private readonly context: CodeExecContext;
  private isDraining = false;
  private openRequests = 0;
  private hasRemovedLeftovers = false;

  constructor(private readonly config: Config) {
    this.executor =
      config.executor === "fresh" ? new FreshExecutor(config) : new PrewarmedExecutor(config);
    this.admission = new Admission(config.maxConcurrent, config.maxQueued, config.maxQueueWaitMs);
    this.safety = new SafetyMonitor(() => this.runChecks());
    this.context = {
      config,
      executor: this.executor,
      admission: this.admission,
      safety: this.safety,
      isDraining: () => this.isDraining,
    };
  }

  /** Handles one HTTP request; never rejects. */
  async handle(req: Request, res: Response): Promise<void> {
    this.openRequests += 1;
    try {
      await this.route(req, res);
    } catch (error) {
      log.error("Request failed outside the handler", { error: describeError(error) });
      if (!res.headersSent) {
        sendJson(res, 500, toJsonObject({ error: "Internal server error" }));
      }
    } finally {
      this.openRequests -= 1;
    }
  }

  /**
   * Stops taking work, lets open requests finish within the grace period, then kills what is
   * still running and removes its directories.
   */
  async drain(): Promise<void> {
    this.isDraining = true;
    this.executor.close();
    this.admission.rejectWaiting(new DrainingError());
    await this.waitForOpenRequests(this.config.shutdownGraceMs);

    // Killing what still runs ends those requests with an emsg, and their responses go out before exit.
    const abandoned = this.openRequests;
    await this.executor.removeLeftovers();
    await this.waitForOpenRequests(FINAL_RESPONSES_MS);
    // Executions outside requests (the startup check) clean up before the slots are unmounted.
    await this.executor.whenIdle(FINAL_RESPONSES_MS);
    await this.executor.disks.unmountAll();
    log.info("Drained", { killedRequests: abandoned, unansweredRequests: this.openRequests });
  }

  private async waitForOpenRequests(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.openRequests > 0 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, DRAIN_POLL_MS));
    }
  }

  private async route(req: Request, res: Response): Promise<void> {
    const routes: Record<string, [string, () => Promise<void> | void]> = {
      [CODE_EXEC_PATH]: ["POST", () => handleCodeExec(this.context, req, res)],
      [HEALTH_PATH]: ["GET", () => this.handleHealth(res)],
      [HEALTH_DETAIL_PATH]: ["GET", () => this.handleHealthDetail(res)],
    };
    const route = Object.hasOwn(routes, req.path) ? routes[req.path] : undefined;
    if (route === undefined) {
      sendJson(res, 404, toJsonObject({ error: "Not found" }));
      return;
    }

    const [method, handler] = route;
    if (req.method !== method && !(method === "GET" && req.method === "HEAD")) {
      sendJson(res, 405, toJsonObject({ error: "Method not allowed" }), { Allow: method });
      return;
    }
    await handler();
  }

  private isHealthy(): boolean {
    return this.safety.isPassed && !this.isDraining;
  }

  private handleHealth(res: Response): void {
    const status = this.isHealthy() ? "OK" : "UNAVAILABLE";
    sendJson(res, this.isHealthy() ? 200 : 503, toJsonObject({ status }));
  }

  /** Lists each safety check and confinement layer, so an operator sees why work is refused. */
  private async handleHealthDetail(res: Response): Promise<void> {
    const report = this.safety.current;
    const cgroups = await this.executor.cgroups;
    const layers = toJsonObject({
      uid_pool: `${this.config.sandboxUidCount} uids from ${this.config.sandboxUidBase}`,
      process_tree_kill: "kill(-1) as the execution's uid",
      cgroups: cgroups.mechanism,
      disk_quota: this.executor.disks.mechanism,
      landlock_abi: report?.landlockAbi === undefined ? "unknown" : String(report.landlockAbi),
      seccomp: report?.passed === true ? "in force" : "unknown",
    });
    const checks = (report?.checks ?? []).map((check) => toJsonObject({ ...check }));
    let state = "running";
    if (report !== undefined) {
      state = report.passed ? "pass" : "fail";
    }
    const load = toJsonObject({
      active: String(this.admission.activeCount),
      queued: String(this.admission.queuedCount),
      max_concurrent: String(this.config.maxConcurrent),
    });
    const body = toJsonObject({ state, draining: this.isDraining, checks, layers, load });
    sendJson(res, this.isHealthy() ? 200 : 503, body);
  }

  private async runChecks() {
    if (!this.hasRemovedLeftovers) {
      // Before the first check, clear what a crashed predecessor left.
      this.hasRemovedLeftovers = true;
      await this.executor.removeLeftovers().catch((error: unknown) => {
        log.error("Leftovers of a previous run not removed", { error: describeError(error) });
      });
    }
    const report = await runSafetyCheck(async (code, globals) => {
      const input = { code, globals, pythonPath: [], limitOverridesContext: null, files: [] };
      return runExecution(this.config, this.executor, input);
    }, this.config.egressProbeUrl);

    const cgroups = await this.executor.cgroups;
    log.info("Confinement layers", {
      uidPool: this.config.sandboxUidCount,
      cgroups: cgroups.mechanism,
      diskQuota: this.executor.disks.mechanism,
      landlockAbi: report.landlockAbi,
      maxConcurrent: this.config.maxConcurrent,
    });
    return report;
  }
}
