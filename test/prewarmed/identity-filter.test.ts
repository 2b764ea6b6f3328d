/**
 * The template's identity filter (sandbox-image/runner/identity_filter.py) lets CAP_SETUID and
 * CAP_SETGID reach only the pool's uids, the sandbox gid and an empty group list. The check runs
 * in a throwaway interpreter that still has every capability of root, so only the filter can
 * refuse.
 */
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const RUNNER_DIR = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  "../../sandbox-image/runner",
);
const UID_BASE = 2_002_799_000;
const GID = 2_002_717_000;
const EPERM = 1;

/** Installs the filter for a pool of two uids, then reports each call as "ok" or its errno. */
function runUnderFilter(calls: Record<string, string>): Record<string, string> {
  const script = [
    "import ctypes, json, os, sys",
    `sys.path.insert(0, ${JSON.stringify(RUNNER_DIR)})`,
    "import identity_filter",
    "assert ctypes.CDLL(None).prctl(38, 1, 0, 0, 0) == 0",
    `identity_filter.install(${UID_BASE}, 2, ${GID})`,
    `B, G = ${UID_BASE}, ${GID}`,
    "results = {}",
    `for name, call in json.loads(${JSON.stringify(JSON.stringify(calls))}).items():`,
    "    try:",
    "        eval(call)",
    "        results[name] = 'ok'",
    "    except OSError as error:",
    "        results[name] = str(error.errno)",
    "print(json.dumps(results))",
  ].join("\n");
  const result = spawnSync("/usr/bin/python3", ["-I", "-B", "-c", script], { encoding: "utf8" });
  if (result.status !== 0) {
    throw new Error(`the filter check failed: ${result.stderr}`);
  }
  return JSON.parse(result.stdout) as Record<string, string>;
}

describe("identity filter", () => {
  it("refuses root's own ids and ids outside the pool", () => {
    const results = runUnderFilter({
      setgroups: "os.setgroups([0])",
      setresgid: "os.setresgid(0, 0, 0)",
      setgid: "os.setgid(G + 1)",
      setresuid: "os.setresuid(0, 0, 0)",
      setreuid: "os.setreuid(-1, B + 2)",
      setuid: "os.setuid(B - 1)",
    });

    expect(results).toEqual({
      setgroups: String(EPERM),
      setresgid: String(EPERM),
      setgid: String(EPERM),
      setresuid: String(EPERM),
      setreuid: String(EPERM),
      setuid: String(EPERM),
    });
  });

  it("allows the switch a forked child makes", () => {
    const results = runUnderFilter({
      setgroups: "os.setgroups([])",
      setresgid: "os.setresgid(G, G, G)",
      unchanged: "os.setresuid(-1, -1, -1)",
      setresuid: "os.setresuid(B + 1, B + 1, B + 1)",
    });

    expect(results).toEqual({ setgroups: "ok", setresgid: "ok", unchanged: "ok", setresuid: "ok" });
  });
});
