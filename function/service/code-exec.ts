/**
 * The code-exec request path, step by step: reject when the service may not run code, read the
 * body within limits, validate the payload, apply the policy checks, wait for a turn, run,
 * respond, and log the outcome once.
 */
import type { Request, Response } from "@google-cloud/functions-framework";
import type { Config } from "../config.js";
import {
  SafetyCheckFailedError,
  SandboxFailedError,
  ServiceDisabledError,
  toServiceError,
} from "../errors.js";
import type { JsonObject } from "../json/value.js";
import { describeError, log, toTraceFields, type LogFields } from "../log.js";
import { parsePayload } from "../payload/parse.js";
import { validatePolicy } from "../payload/policy.js";
import { parseForm } from "../request/form.js";
import type { Executor } from "../sandbox/executor.js";
import { DrainingError, OverloadedError, type Admission } from "./admission.js";
import { runExecution, type ExecutionReport } from "./execution.js";
import { sendJson, toJsonObject } from "./responses.js";
import type { SafetyMonitor } from "./safety-monitor.js";

export type CodeExecContext = Readonly<{
  config: Config;
  executor: Executor;
  admission: Admission;
  safety: SafetyMonitor;
  isDraining: () => boolean;
}>;

export async function handleCodeExec(
  context: CodeExecContext,
  req: Request,
  res: Response,
): Promise<void> {
  const startedMs = performance.now();
  const fields: LogFields = { ...toTraceFields(req.get("X-Cloud-Trace-Context")) };
  let outcome = "executed.success";
  try {
    await validateReady(context);
    const form = await parseForm(req.get("Content-Type"), req.rawBody, context.config);
    const payload = parsePayload(form.payload);
    Object.assign(fields, { slug: payload.slug, limitContext: payload.limitOverridesContext });
    validatePolicy({ ...payload, fileNames: form.files.keys() });

    const files = [...form.files].map(([name, data]) => ({ name, data }));
    Object.assign(fields, {
      codeBytes: Buffer.byteLength(payload.code),
      libraryBytes: files.reduce((sum, file) => sum + file.data.length, 0),
    });
    const queueStartedMs = performance.now();
    await context.admission.acquire();
    fields.queueMs = Math.round(performance.now() - queueStartedMs);

    let report: ExecutionReport;
    try {
      report = await runExecution(context.config, context.executor, {
        ...payload,
        globals: payload.globalsDict,
        files,
      });
    } finally {
      context.admission.release();
    }
    Object.assign(fields, { status: report.status, sandboxMs: Math.round(report.durationMs) });
    outcome = toOutcomeLabel(report);

    const body: JsonObject = new Map([["globals_dict", report.globals]]);
    if (report.emsg !== undefined) {
      body.set("emsg", report.emsg);
    }
    sendJson(res, 200, body);
  } catch (thrown) {
    const error = toServiceError(thrown);
    outcome = error.code;
    if (error.status >= 500 && !(error instanceof OverloadedError)) {
      fields.error = describeError(thrown);
    }
    if (error instanceof SandboxFailedError) {
      context.safety.reportSandboxFailure();
    }
    const retryAfter =
      error instanceof OverloadedError || error instanceof DrainingError
        ? { "Retry-After": String(error.retryAfterSeconds) }
        : undefined;
    sendJson(res, error.status, toJsonObject({ error: error.message }), retryAfter);
  } finally {
    const totalMs = Math.round(performance.now() - startedMs);
    const severity = outcome.startsWith("failed.") ? "error" : "info";
    log[severity](`code-exec ${outcome}`, { outcome, totalMs, ...fields });
  }
}

async function validateReady(context: CodeExecContext): Promise<void> {
  if (context.isDraining()) {
    throw new DrainingError();
  }
  if (!context.config.enabled) {
    throw new ServiceDisabledError();
  }

  await context.safety.firstCheck;
  if (!context.safety.isPassed && !context.config.unconfinedForTests) {
    throw new SafetyCheckFailedError();
  }
}

function toOutcomeLabel(report: ExecutionReport): string {
  if (report.emsg === undefined) {
    return "executed.success";
  }
  if (report.timedOut) {
    return "executed.timeout";
  }
  return report.exceededOutput === undefined ? "executed.error" : "executed.output_limit";
}
