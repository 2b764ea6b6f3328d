/**
 * The AppArmor profiles in sandbox-image/apparmor/ compile with the real parser, with warnings
 * as errors, and keep the properties the deployment relies on. Nothing is loaded into a kernel:
 * --skip-kernel-load compiles only, and --skip-cache writes no cache.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));
const PROFILE_DIR = path.join(REPO_ROOT, "sandbox-image", "apparmor");
const SERVICE_PROFILE = path.join(PROFILE_DIR, "codejail-service");
const SANDBOX_PROFILE = path.join(PROFILE_DIR, "codejail-sandbox");
const PARSER_CANDIDATES = ["/usr/sbin/apparmor_parser", "/sbin/apparmor_parser"];

// The feature set that the profiles declare (abi <abi/3.0>), shipped with the parser.
const ABI_FEATURES = "/etc/apparmor.d/abi/3.0";
// The features of Debian 12's kernel, shipped by Debian's apparmor package: compiling against
// them shows that no rule is silently dropped on the hosts the README describes.
const DEBIAN_KERNEL_FEATURES = "/usr/share/apparmor-features/features";

// Against the declared ABI every warning counts. Against Debian 12's kernel the parser warns, as
// expected, that AF_UNIX rules become plain network rules there (that kernel has no fine-grained
// AF_UNIX mediation), so only the default warnings count, which include "rule not enforced".
const WARNINGS_BY_FEATURES: Readonly<Record<string, readonly string[]>> = {
  [ABI_FEATURES]: ["--warn=all"],
  [DEBIAN_KERNEL_FEATURES]: [],
};

type ParserResult = Readonly<{ status: number | null; output: string }>;

function findParser(): string {
  const parser = PARSER_CANDIDATES.find((candidate) => existsSync(candidate));
  if (parser === undefined) {
    throw new Error(
      "apparmor_parser not found (looked in " +
        `${PARSER_CANDIDATES.join(", ")}): run \`npm run provision\`, which installs ` +
        "Debian's apparmor package",
    );
  }
  return parser;
}

/**
 * Compiles profiles without loading them, with warnings as errors. --config-file=/dev/null keeps
 * the machine's parser.conf from changing the result.
 */
function compile(files: readonly string[], features: string): ParserResult {
  const args = [
    "--config-file=/dev/null",
    "--skip-kernel-load",
    "--skip-cache",
    `--features-file=${features}`,
    ...WARNINGS_BY_FEATURES[features]!,
    "--Werror",
    ...files,
  ];
  const result = spawnSync(findParser(), args, { encoding: "utf8" });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

/** Lists the profile names that a file defines, child profiles as `parent//child`. */
function profileNames(file: string): string[] {
  const result = spawnSync(findParser(), ["--config-file=/dev/null", "--names", file], {
    encoding: "utf8",
  });
  return result.stdout.split("\n").filter((line) => line !== "");
}

/** Returns the profile's rules: lines without comments, blank lines and surrounding spaces. */
function rulesOf(file: string): string[] {
  return readFileSync(file, "utf8")
    .split("\n")
    .map((line) => line.replace(/#.*$/, "").trim())
    .filter((line) => line !== "");
}

/** True for a file rule whose permissions include exec (ix, Px, Cx, ...), target or not. */
function isExecRule(rule: string): boolean {
  return /\s[rwamlkiupcUPC]*x(\s+->\s+\S+)?,$/.test(rule);
}

describe("apparmor parser", () => {
  it("is installed", () => {
    expect(findParser()).toMatch(/apparmor_parser$/);
  });

  it.each([ABI_FEATURES, DEBIAN_KERNEL_FEATURES])("feature file %s exists", (features) => {
    expect(existsSync(features)).toBe(true);
  });
});

describe("apparmor profiles compile", () => {
  it.each([
    ["codejail-service", ABI_FEATURES],
    ["codejail-sandbox", ABI_FEATURES],
    ["codejail-service", DEBIAN_KERNEL_FEATURES],
    ["codejail-sandbox", DEBIAN_KERNEL_FEATURES],
  ])("%s against %s", (name, features) => {
    const result = compile([path.join(PROFILE_DIR, name)], features);

    expect(result).toEqual({ status: 0, output: expect.not.stringMatching(/Warning|Error/) });
  });
});

describe("apparmor profile check", () => {
  let scratch: string;

  beforeAll(() => {
    scratch = mkdtempSync(path.join(tmpdir(), "codejail-apparmor-"));
  });

  afterAll(() => {
    rmSync(scratch, { recursive: true, force: true });
  });

  // Controls: the same command must reject broken copies, or a passing compile proves nothing.
  it.each([
    ["a missing comma", (text: string) => text.replace("/dev/null rw,", "/dev/null rw")],
    ["an unknown permission", (text: string) => text.replace("/dev/null rw,", "/dev/null rwq,")],
    [
      "a rule the features cannot enforce",
      (text: string) => `${text}\nprofile extra { deny unix addr=@**, }\n`,
    ],
  ])("rejects a copy with %s", (_case, breakProfile) => {
    const broken = path.join(scratch, "codejail-sandbox");
    writeFileSync(broken, breakProfile(readFileSync(SANDBOX_PROFILE, "utf8")));

    expect(compile([broken], ABI_FEATURES).status).not.toBe(0);
  });
});

describe("apparmor profile names", () => {
  it("service file defines codejail-service, its launcher and reaper", () => {
    expect(profileNames(SERVICE_PROFILE)).toEqual([
      "codejail-service",
      "codejail-service//launcher",
      "codejail-service//reaper",
    ]);
  });

  it("sandbox file defines codejail-sandbox", () => {
    expect(profileNames(SANDBOX_PROFILE)).toEqual(["codejail-sandbox"]);
  });
});

describe("apparmor service profile", () => {
  const rules = rulesOf(SERVICE_PROFILE);
  const execRules = rules.filter((rule) => isExecRule(rule) && !rule.startsWith("deny "));

  it("runs python only with a transition to codejail-sandbox", () => {
    const pythonRules = execRules.filter((rule) => rule.includes("python"));

    expect(pythonRules.every((rule) => rule.endsWith("Px -> codejail-sandbox,"))).toBe(true);
  });

  it("has a python transition rule", () => {
    expect(execRules.some((rule) => rule.startsWith("/usr/bin/python3"))).toBe(true);
  });

  it("executes only node, python, kill and the launcher", () => {
    const programs = execRules.map((rule) => rule.split(/\s/)[0]);

    expect(programs).toEqual([
      "/usr/local/bin/node",
      "/usr/bin/python3.[0-9]*",
      "/opt/codejail/sandbox-venv/bin/python*",
      "/usr/bin/kill",
      "/opt/codejail/bin/codejail-launch",
      // The launcher's child profile starts only the sandbox interpreter.
      "/usr/bin/python3.[0-9]*",
      "/opt/codejail/sandbox-venv/bin/python*",
    ]);
  });

  it.each(["inet dgram", "inet6 dgram", "inet raw", "inet6 raw", "packet"])(
    "denies network %s",
    (socket) => {
      expect(rules).toContain(`deny network ${socket},`);
    },
  );
});

describe("apparmor sandbox profile", () => {
  const rules = rulesOf(SANDBOX_PROFILE);

  it("has no exec rule", () => {
    expect(rules.filter(isExecRule)).toEqual([]);
  });

  it("has no capability rule", () => {
    expect(rules.filter((rule) => rule.startsWith("capability"))).toEqual([]);
  });

  it("allows only AF_UNIX sockets", () => {
    const networkRules = rules.filter((rule) => rule.startsWith("network"));

    expect(networkRules).toEqual(["network unix stream,", "network unix dgram,"]);
  });

  it("writes only under the execution root", () => {
    const writeRules = rules.filter((rule) => /\s[rmkl]*w[rmkl]*,$/.test(rule));

    expect(writeRules).toEqual(["/dev/null rw,", "owner /var/lib/codejail/exec/*/** wk,"]);
  });
});
