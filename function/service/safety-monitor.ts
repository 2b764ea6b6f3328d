/**
 * Holds the verdict of the startup safety check, which gates execution and drives /health/.
 * When an execution fails because of the sandbox machinery (runner missing, cgroup or disk
 * trouble), the verdict turns to failed and the check reruns at an interval until it passes
 * again, so the service recovers without a restart once the cause is gone.
 */
import { describeError, log } from "../log.js";
import type { SafetyReport } from "./safety-check.js";

const RECHECK_INTERVAL_MS = 2000;

export class SafetyMonitor {
  private report: SafetyReport | undefined;
  private isRechecking = false;
  /** Settles when the first check has finished; never rejects. */
  readonly firstCheck: Promise<void>;

  constructor(private readonly runChecks: () => Promise<SafetyReport>) {
    this.firstCheck = this.check();
  }

  get isPassed(): boolean {
    return this.report?.passed === true;
  }

  get current(): SafetyReport | undefined {
    return this.report;
  }

  /** Marks the service unsafe and reruns the check until it passes. */
  reportSandboxFailure(): void {
    if (this.isRechecking || this.report === undefined) {
      return;
    }

    this.isRechecking = true;
    this.report = { ...this.report, passed: false };
    log.warning("Rejecting executions until the safety check passes again");
    void this.recheckUntilPassed();
  }

  private async recheckUntilPassed(): Promise<void> {
    while (!this.isPassed) {
      await new Promise((resolve) => setTimeout(resolve, RECHECK_INTERVAL_MS).unref());
      await this.check();
    }
    this.isRechecking = false;
  }

  private async check(): Promise<void> {
    try {
      this.report = await this.runChecks();
    } catch (error) {
      log.error("Safety check failed to run", { error: describeError(error) });
      this.report = { passed: false, checks: [], landlockAbi: undefined };
    }
    const passed = this.report.passed;
    log[passed ? "info" : "error"](`Safety check ${passed ? "passed" : "failed"}`, { passed });
  }
}
