/**
 * The execution step shared by the request handler and the startup safety check: resolve the
 * limits, hand the code and globals to the executor, and map what came back.
 */
import { resolveLimits, type Config } from "../config.js";
import { serializePythonJson } from "../json/serialize.js";
import type { JsonObject } from "../json/value.js";
import { toExecutionResult, type ExecutionResult } from "../result/outcome.js";
import type { Executor } from "../sandbox/executor.js";
import type { ExceededOutput } from "../sandbox/runner-process.js";
import type { WorkdirFile } from "../sandbox/workdir.js";

export type ExecutionInput = Readonly<{
  code: string;
  globals: JsonObject;
  pythonPath: readonly string[];
  limitOverridesContext: string | null;
  files: readonly WorkdirFile[];
}>;

export type ExecutionReport = ExecutionResult &
  Readonly<{
    status: number;
    timedOut: boolean;
    exceededOutput: ExceededOutput | undefined;
    durationMs: number;
  }>;

/** Runs the code confined; throws SandboxFailedError when the sandbox itself failed. */
export async function runExecution(
  config: Config,
  executor: Executor,
  input: ExecutionInput,
): Promise<ExecutionReport> {
  const stdinDocument = new Map<string, JsonObject | string | string[]>([
    ["code", input.code],
    ["globals_dict", input.globals],
    ["python_path", [...input.pythonPath]],
  ]);
  const outcome = await executor.run({
    code: input.code,
    input: serializePythonJson(stdinDocument, { ensureAscii: true }),
    files: input.files,
    limits: resolveLimits(config, input.limitOverridesContext),
  });

  return {
    ...toExecutionResult(outcome, input.globals, config),
    status: outcome.status,
    timedOut: outcome.timedOut,
    exceededOutput: outcome.exceededOutput,
    durationMs: outcome.durationMs,
  };
}
