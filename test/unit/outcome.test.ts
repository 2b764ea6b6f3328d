/**
 * toExecutionResult with fake runner outcomes: the ready line decides whether confinement was in
 * force, everything after it is the user's own output, and the returned globals update the input
 * globals as dict.update does.
 */
import { SandboxFailedError } from "../../function/errors.js";
import { PyInt, type JsonObject } from "../../function/json/value.js";
import { toExecutionResult } from "../../function/result/outcome.js";
import type { RunnerOutcome } from "../../function/sandbox/runner-process.js";

const LIMITS = { maxOutputBytes: 1024, maxResultBytes: 4096 };
const READY = '{"ready": true, "landlock_abi": 7}\n';
const text = (value: string) => new TextEncoder().encode(value);

function outcome(fields: Partial<RunnerOutcome>): RunnerOutcome {
  return {
    status: 0,
    stdout: text(""),
    stderr: text(""),
    resultChannel: text(""),
    timedOut: false,
    exceededOutput: undefined,
    durationMs: 10,
    ...fields,
  };
}

function globals(entries: Array<[string, number]>): JsonObject {
  return new Map(entries.map(([key, value]) => [key, new PyInt(String(value))]));
}

/** Flattens globals of PyInts to [key, digits] pairs, in order. */
function toPairs(map: JsonObject): Array<[string, string]> {
  return [...map].map(([key, value]) => [key, value instanceof PyInt ? value.digits : "?"]);
}

function sandboxFailure(fields: Partial<RunnerOutcome>): SandboxFailedError {
  try {
    toExecutionResult(outcome(fields), new Map(), LIMITS);
  } catch (error) {
    if (error instanceof SandboxFailedError) {
      return error;
    }
    throw error;
  }
  throw new Error("the outcome was accepted");
}

describe("toExecutionResult ready line", () => {
  it("fails the sandbox without a ready line", () => {
    const error = sandboxFailure({ status: 2, stderr: text("python3: can't open file") });

    expect(error.status).toBe(500);
    expect(error.code).toBe("failed.sandbox");
    expect(error.message).toBe("Code execution failed because of an internal error");
    expect(error.reason).toBe(
      "runner exited with status 2 before confinement was reported; " +
        "stderr: python3: can't open file",
    );
  });

  it("notes a wall-clock kill before the ready line", () => {
    const error = sandboxFailure({ status: -9, timedOut: true });

    expect(error.reason).toBe(
      "runner exited with status -9 before confinement was reported " +
        "(wall-clock limit reached); stderr: ",
    );
  });

  it("caps stderr in the reason", () => {
    const error = sandboxFailure({ status: 1, stderr: text("e".repeat(5000)) });

    expect(error.reason).toMatch(/stderr: e{2000}$/);
  });

  it("reports the runner's sandbox error", () => {
    const error = sandboxFailure({
      status: 70,
      resultChannel: text('{"sandbox_error": "landlock_restrict_self failed"}\n'),
    });

    expect(error.reason).toBe("landlock_restrict_self failed");
  });

  it.each([
    ["ready false", '{"ready": false}\n'],
    ["ready as a string", '{"ready": "true"}\n'],
    ["a JSON list", "[true]\n"],
    ["trailing text on the line", '{"ready": true} \u0000x\n'],
    ["garbage", "\u00ff\u00fe\n"],
  ])("fails the sandbox for %s", (_name, channel) => {
    expect(sandboxFailure({ resultChannel: text(channel) }).code).toBe("failed.sandbox");
  });

  it("reads the Landlock ABI", () => {
    const result = toExecutionResult(
      outcome({ resultChannel: text(`${READY}{"globals": {}}\n`) }),
      new Map(),
      LIMITS,
    );

    expect(result.landlockAbi).toBe(7);
  });

  it("leaves a missing ABI unset", () => {
    const result = toExecutionResult(
      outcome({ resultChannel: text('{"ready": true}\n{"globals": {}}\n') }),
      new Map(),
      LIMITS,
    );

    expect(result.landlockAbi).toBeUndefined();
  });
});

describe("toExecutionResult globals", () => {
  it("updates the input globals in dict.update order", () => {
    const input = globals([
      ["a", 1],
      ["b", 2],
    ]);
    const channel = `${READY}{"globals": {"c": 4, "b": 3}}\n`;
    const result = toExecutionResult(outcome({ resultChannel: text(channel) }), input, LIMITS);

    expect(result.emsg).toBeUndefined();
    expect(toPairs(result.globals)).toEqual([
      ["a", "1"],
      ["b", "3"],
      ["c", "4"],
    ]);
    expect(toPairs(input)).toEqual([
      ["a", "1"],
      ["b", "2"],
    ]);
  });

  it("keeps big integers exact", () => {
    const channel = `${READY}{"globals": {"n": 123456789012345678901234567890}}\n`;
    const result = toExecutionResult(outcome({ resultChannel: text(channel) }), new Map(), LIMITS);

    expect(toPairs(result.globals)).toEqual([["n", "123456789012345678901234567890"]]);
  });

  it("returns input globals on failure", () => {
    const input = globals([["a", 1]]);
    const channel = `${READY}{"globals": {"a": 2}}\n`;
    const result = toExecutionResult(
      outcome({ status: 1, resultChannel: text(channel), stderr: text("Boom\n") }),
      input,
      LIMITS,
    );

    expect(result.globals).toBe(input);
    expect(result.emsg).toBe(
      "Couldn't execute jailed code: stdout: b'', stderr: b'Boom\\n' with status code: 1",
    );
  });

  it("fails the code for a forged line", () => {
    const channel = `${READY}{"globals": {"a": 666}}\n{"globals": {"a": 2}}\n`;
    const result = toExecutionResult(
      outcome({ resultChannel: text(channel) }),
      globals([["a", 1]]),
      LIMITS,
    );

    expect(toPairs(result.globals)).toEqual([["a", "1"]]);
    expect(result.emsg).toBe(
      "Couldn't execute jailed code: stdout: b'', stderr: b'' with status code: 0",
    );
  });

  it.each([
    ["no result line", READY],
    ["a result that is not an object", `${READY}[1, 2]\n`],
    ["a result without globals", `${READY}{"other": {}}\n`],
    ["globals that are not an object", `${READY}{"globals": [1]}\n`],
    ["a truncated result", `${READY}{"globals": {"a": 1`],
  ])("fails the code for %s", (_name, channel) => {
    const result = toExecutionResult(
      outcome({ resultChannel: text(channel) }),
      globals([["a", 1]]),
      LIMITS,
    );

    expect(toPairs(result.globals)).toEqual([["a", "1"]]);
    expect(result.emsg).toMatch(/^Couldn't execute jailed code: .* with status code: 0$/);
  });
});

describe("toExecutionResult encoding", () => {
  it("decodes invalid UTF-8 in the result as U+FFFD", () => {
    const channel = Buffer.concat([
      Buffer.from(`${READY}{"globals": {"s": "a`),
      Buffer.from([0xff, 0xc3]),
      Buffer.from('"}}\n'),
    ]);
    const result = toExecutionResult(outcome({ resultChannel: channel }), new Map(), LIMITS);

    expect(result.emsg).toBeUndefined();
    expect(result.globals.get("s")).toBe("a\ufffd\ufffd");
  });
});

describe("toExecutionResult exceeded output", () => {
  it.each<[RunnerOutcome["exceededOutput"], string]>([
    ["stdout", " (stdout exceeded the limit of 1024 bytes)"],
    ["stderr", " (stderr exceeded the limit of 1024 bytes)"],
    ["result", " (the returned globals exceeded the limit of 4096 bytes)"],
  ])("names the %s limit", (exceeded, suffix) => {
    const result = toExecutionResult(
      outcome({ status: -9, exceededOutput: exceeded, resultChannel: text(READY) }),
      new Map(),
      LIMITS,
    );

    expect(result.emsg).toBe(
      `Couldn't execute jailed code: stdout: b'', stderr: b'' with status code: -9${suffix}`,
    );
  });

  it("fails even when a complete result arrived", () => {
    const channel = `${READY}{"globals": {"a": 2}}\n`;
    const result = toExecutionResult(
      outcome({ exceededOutput: "stdout", resultChannel: text(channel), stdout: text("x") }),
      globals([["a", 1]]),
      LIMITS,
    );

    expect(toPairs(result.globals)).toEqual([["a", "1"]]);
    expect(result.emsg).toBe(
      "Couldn't execute jailed code: stdout: b'x', stderr: b'' with status code: 0 " +
        "(stdout exceeded the limit of 1024 bytes)",
    );
  });
});
