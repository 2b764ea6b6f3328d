/**
 * Turns what the runner left into the response's content, as codejail's safe_exec does: on a
 * clean exit with a well-formed result, the input globals updated with the returned ones; in
 * every other case the input globals unchanged and an `emsg` built from the captured output.
 *
 * The first line on the result channel is written by the runner before any user input is read,
 * so it alone is trusted to say whether confinement was set up. Everything after it may be
 * forged or garbage, and is only ever used as the user's own output.
 */
import { SandboxFailedError } from "../errors.js";
import { parsePythonJson } from "../json/parse.js";
import type { JsonObject, JsonValue } from "../json/value.js";
import type { RunnerOutcome } from "../sandbox/runner-process.js";
import { formatEmsg } from "./emsg.js";

export type ExecutionResult = Readonly<{
  globals: JsonObject;
  emsg: string | undefined;
  /** The Landlock ABI the runner reported when it confined itself. */
  landlockAbi: number | undefined;
}>;

/** Limits of the captured output, named in the emsg when one was exceeded. */
export type OutputLimits = Readonly<{ maxOutputBytes: number; maxResultBytes: number }>;

export type ReadyReport = Readonly<{ landlockAbi: number | undefined }>;

/** Maps the outcome to a result; throws SandboxFailedError when confinement did not start. */
export function toExecutionResult(
  outcome: RunnerOutcome,
  inputGlobals: JsonObject,
  limits: OutputLimits,
): ExecutionResult {
  const text = Buffer.from(outcome.resultChannel).toString("utf8");
  const newline = text.indexOf("\n");
  const firstLine = newline === -1 ? text : text.slice(0, newline);
  const { landlockAbi } = toReadyReport(firstLine, outcome);

  const isClean = outcome.status === 0 && outcome.exceededOutput === undefined;
  const returned = isClean ? parseReturnedGlobals(text.slice(newline + 1)) : undefined;
  if (returned === undefined) {
    const emsg = formatEmsg(outcome.stdout, outcome.stderr, outcome.status);
    return { globals: inputGlobals, emsg: emsg + describeExceeded(outcome, limits), landlockAbi };
  }

  const globals = new Map(inputGlobals);
  for (const [key, value] of returned) {
    globals.set(key, value);
  }
  return { globals, emsg: undefined, landlockAbi };
}

/** Reads the runner's first line, which must report that confinement is in place. */
export function toReadyReport(line: string, outcome: RunnerOutcome): ReadyReport {
  let report: unknown;
  try {
    report = JSON.parse(line);
  } catch {
    report = undefined;
  }

  if (isRecord(report) && report.ready === true) {
    const abi = report.landlock_abi;
    return { landlockAbi: typeof abi === "number" ? abi : undefined };
  }

  const reason =
    isRecord(report) && typeof report.sandbox_error === "string"
      ? report.sandbox_error
      : `runner exited with status ${outcome.status} before confinement was reported` +
        (outcome.timedOut ? " (wall-clock limit reached)" : "") +
        // Before the ready line only the runner itself wrote to stderr, never the user's code.
        `; stderr: ${Buffer.from(outcome.stderr.subarray(0, 2000)).toString("utf8")}`;
  throw new SandboxFailedError(reason);
}

/**
 * Names the output limit that stopped the run, after codejail's usual message, so that operators
 * matching its prefix still match.
 */
function describeExceeded(outcome: RunnerOutcome, limits: OutputLimits): string {
  switch (outcome.exceededOutput) {
    case undefined:
      return "";
    case "result":
      return ` (the returned globals exceeded the limit of ${limits.maxResultBytes} bytes)`;
    default:
      return ` (${outcome.exceededOutput} exceeded the limit of ${limits.maxOutputBytes} bytes)`;
  }
}

function parseReturnedGlobals(text: string): JsonObject | undefined {
  let document: JsonValue;
  try {
    document = parsePythonJson(text.trimEnd());
  } catch {
    return undefined;
  }

  const globals = document instanceof Map ? document.get("globals") : undefined;
  return globals instanceof Map ? globals : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
