/**
 * The service: routes requests, gates execution on the startup safety check, and runs the
 * code-exec request path as a list of named steps. Every error is contained here and answered
 * as JSON, because the Functions Framework exits the process on an uncaught exception.
 */
import type { Request, Response } from "@google-cloud/functions-framework";
import type { Config } from "../config.js";
import { SafetyCheckFailedError, ServiceDisabledError, toServiceError } from "../errors.js";
import type { JsonObject } from "../json/value.js";
import { describeError, log, toTraceFields, type LogFields } from "../log.js";
import { parsePayload } from "../payload/parse.js";
import { validatePolicy } from "../payload/policy.js";
import { parseForm } from "../request/form.js";
import { Executor } from "../sandbox/executor.js";
import { sendJson, toJsonObject } from "./responses.js";
import { runExecution } from "./execution.js";
import { runSafetyCheck, type SafetyReport } from "./safety-check.js";

const CODE_EXEC_PATH = "/api/v0/code-exec";
const HEALTH_PATH = "/health/";
const HEALTH_DETAIL_PATH = "/health/detail";

export class CodejailService {
  private readonly executor: Executor;
  private safety: SafetyReport | undefined;
  private readonly safetyCheckDone: Promise<void>;

  constructor(private readonly config: Config) {
    this.executor = new Executor(config);
    this.safetyCheckDone = this.runStartupCheck();
  }

  /** Handles one HTTP request; never rejects. */
  async handle(req: Request, res: Response): Promise<void> {
    try {
      await this.route(req, res);
    } catch (error) {
      log.error("Request failed outside the handler", { error: describeError(error) });
      if (!res.headersSent) {
        sendJson(res, 500, toJsonObject({ error: "Internal server error" }));
      }
    }
  }

  private async route(req: Request, res: Response): Promise<void> {
    const routes: Record<string, [string, () => Promise<void> | void]> = {
      [CODE_EXEC_PATH]: ["POST", () => this.handleCodeExec(req, res)],
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

  private async handleCodeExec(req: Request, res: Response): Promise<void> {
    const startedMs = performance.now();
    const fields: LogFields = { ...toTraceFields(req.get("X-Cloud-Trace-Context")) };
    let outcome = "executed.success";
    try {
      await this.validateServiceReady();
      const form = await parseForm(req.get("Content-Type"), req.rawBody, this.config);
      const payload = parsePayload(form.payload);
      Object.assign(fields, { slug: payload.slug, limitContext: payload.limitOverridesContext });
      validatePolicy({ ...payload, fileNames: form.files.keys() });

      const report = await runExecution(this.config, this.executor, {
        ...payload,
        globals: payload.globalsDict,
        files: [...form.files].map(([name, data]) => ({ name, data })),
      });
      Object.assign(fields, {
        status: report.status,
        sandboxMs: Math.round(report.durationMs),
        codeBytes: Buffer.byteLength(payload.code),
      });
      outcome = toOutcomeLabel(report);

      const body: JsonObject = new Map([["globals_dict", report.globals]]);
      if (report.emsg !== undefined) {
        body.set("emsg", report.emsg);
      }
      sendJson(res, 200, body);
    } catch (thrown) {
      const error = toServiceError(thrown);
      outcome = error.code;
      if (error.status >= 500) {
        fields.error = describeError(thrown);
      }
      sendJson(res, error.status, toJsonObject({ error: error.message }));
    } finally {
      const totalMs = Math.round(performance.now() - startedMs);
      const severity = outcome.startsWith("failed.") ? "error" : "info";
      log[severity](`code-exec ${outcome}`, { outcome, totalMs, ...fields });
    }
  }

  private async validateServiceReady(): Promise<void> {
    if (!this.config.enabled) {
      throw new ServiceDisabledError();
    }

    await this.safetyCheckDone;
    if (this.safety?.passed !== true) {
      throw new SafetyCheckFailedError();
    }
  }

  private handleHealth(res: Response): void {
    const isHealthy = this.safety?.passed === true;
    sendJson(
      res,
      isHealthy ? 200 : 503,
      toJsonObject({ status: isHealthy ? "OK" : "UNAVAILABLE" }),
    );
  }

  private handleHealthDetail(res: Response): void {
    const checks = (this.safety?.checks ?? []).map((check) => toJsonObject({ ...check }));
    const state = this.safety === undefined ? "running" : this.safety.passed ? "pass" : "fail";
    sendJson(res, this.safety?.passed === true ? 200 : 503, toJsonObject({ state, checks }));
  }

  private async runStartupCheck(): Promise<void> {
    await this.executor.removeLeftovers().catch((error: unknown) => {
      log.error("Leftovers of a previous run not removed", { error: describeError(error) });
    });
    this.safety = await runSafetyCheck(async (code, globals) => {
      const input = { code, globals, pythonPath: [], limitOverridesContext: null, files: [] };
      return runExecution(this.config, this.executor, input);
    }, this.config.egressProbeUrl);
    log[this.safety.passed ? "info" : "error"](
      `Startup safety check ${this.safety.passed ? "passed" : "failed"}`,
      { passed: this.safety.passed },
    );
  }
}

function toOutcomeLabel(report: { emsg: string | undefined; timedOut: boolean }): string {
  if (report.emsg === undefined) {
    return "executed.success";
  }
  return report.timedOut ? "executed.timeout" : "executed.error";
}
