/**
 * The startup safety check: a few probes through the real sandbox, and one from the service's own
 * process, that must all pass before any submitted code is accepted. They are a smoke test that
 * confinement is in force on this host, not a full test suite.
 */
import { PyInt, type JsonObject } from "../json/value.js";
import { describeError, log } from "../log.js";
import type { ExecutionResult } from "../result/outcome.js";

export type CheckStatus = "pass" | "fail" | "skipped";
export type CheckReport = Readonly<{
  id: string;
  name: string;
  status: CheckStatus;
  detail: string;
}>;
export type SafetyReport = Readonly<{
  passed: boolean;
  checks: readonly CheckReport[];
  /** The Landlock ABI the runner reported in the basic execution check. */
  landlockAbi: number | undefined;
}>;

type RunCode = (code: string, globals: JsonObject) => Promise<ExecutionResult>;
type Check = Readonly<{ id: string; name: string; run: () => Promise<CheckOutcome> }>;
type CheckOutcome = Readonly<{ status: CheckStatus; detail: string }>;

const EGRESS_TIMEOUT_MS = 3000;
const PERMISSION_DENIED = "PermissionError: [Errno 13] Permission denied";
const FORK_REFUSED = "BlockingIOError: [Errno 11] Resource temporarily unavailable";

/** Runs every check, logs each result, and never throws. */
export async function runSafetyCheck(
  runCode: RunCode,
  egressProbeUrl: string | undefined,
): Promise<SafetyReport> {
  let landlockAbi: number | undefined;
  const recordingRunCode: RunCode = async (code, globals) => {
    const result = await runCode(code, globals);
    landlockAbi ??= result.landlockAbi;
    return result;
  };
  const checks = buildChecks(recordingRunCode, egressProbeUrl);
  const reports: CheckReport[] = [];
  for (const check of checks) {
    let outcome: CheckOutcome;
    try {
      outcome = await check.run();
    } catch (error) {
      outcome = { status: "fail", detail: `check raised: ${describeError(error)}` };
    }

    reports.push({ id: check.id, name: check.name, ...outcome });
    const fields = { check: check.id, status: outcome.status, detail: outcome.detail };
    if (outcome.status === "fail") {
      log.error(`Startup check '${check.name}' failed`, fields);
    } else {
      log.info(`Startup check '${check.name}' ${outcome.status}`, fields);
    }
  }

  return { passed: reports.every((r) => r.status !== "fail"), checks: reports, landlockAbi };
}

function buildChecks(runCode: RunCode, egressProbeUrl: string | undefined): Check[] {
  const expectError = async (code: string, accepted: string[]): Promise<CheckOutcome> => {
    const result = await runCode(code, new Map());
    if (result.emsg === undefined) {
      return { status: "fail", detail: "expected an error, but the code ran successfully" };
    }
    if (!accepted.some((text) => result.emsg!.includes(text))) {
      return { status: "fail", detail: `unexpected error: ${result.emsg.slice(0, 500)}` };
    }
    return { status: "pass", detail: "denied as expected" };
  };

  return [
    { id: "functionality", name: "Basic code execution", run: () => checkBasicFunction(runCode) },
    {
      id: "disk",
      name: "Block sandbox escape by disk access",
      run: () => expectError("import os; ret = os.listdir('/')", [PERMISSION_DENIED]),
    },
    {
      id: "exec",
      name: "Block sandbox escape by process execution",
      run: () =>
        expectError("import subprocess; ret = subprocess.check_output(['/usr/bin/true'])", [
          PERMISSION_DENIED,
          FORK_REFUSED,
        ]),
    },
    {
      id: "network",
      name: "Block network access",
      run: () =>
        expectError(
          "import socket\nwith socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:\n  pass\n",
          [PERMISSION_DENIED],
        ),
    },
    {
      id: "webapp_egress",
      name: "Block egress from webapp",
      run: () => checkServiceEgress(egressProbeUrl),
    },
  ];
}

async function checkBasicFunction(runCode: RunCode): Promise<CheckOutcome> {
  const result = await runCode("x = x + 1", new Map([["x", new PyInt("16")]]));
  const x = result.globals.get("x");
  if (result.emsg !== undefined) {
    return { status: "fail", detail: `unexpected error: ${result.emsg.slice(0, 500)}` };
  }
  if (!(x instanceof PyInt) || x.digits !== "17") {
    return { status: "fail", detail: "returned global x is not 17" };
  }
  return { status: "pass", detail: "x = x + 1 gave 17" };
}

/**
 * Tries an outbound request from the service's own process; any response means egress is open.
 * Skipped without a configured target, so development machines and CI never contact the outside.
 */
async function checkServiceEgress(url: string | undefined): Promise<CheckOutcome> {
  if (url === undefined) {
    return { status: "skipped", detail: "CODEJAIL_EGRESS_PROBE_URL is not set" };
  }

  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(EGRESS_TIMEOUT_MS) });
    return { status: "fail", detail: `outbound request succeeded with status ${response.status}` };
  } catch (error) {
    return { status: "pass", detail: `outbound request failed: ${describeError(error)}` };
  }
}
