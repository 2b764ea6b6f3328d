/**
 * Errors of the prewarmed executor that the executor and the service tell apart: a template lost
 * before the fork (the execution is retried on another template) and a template that exited
 * while its child ran (the execution fails).
 */
import { ServiceError } from "../../errors.js";

/** The template was gone before it reported the fork, so the execution never started. */
export class TemplateLostError extends Error {
  override name = "TemplateLostError";
}

/**
 * The template exited while its child ran, so the child's exit status is unknown. A 500 that
 * leaves the safety verdict alone: the pool replaces the template, and other executions go on.
 */
export class TemplateExitedError extends ServiceError {
  constructor(pid: number | undefined) {
    super("failed.template_exited", 500, "Code execution failed because of an internal error", {
      cause: new Error(`template pid ${pid} exited while the execution ran`),
    });
  }
}
