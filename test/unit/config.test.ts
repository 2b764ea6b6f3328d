/**
 * parseConfig and resolveLimits: defaults, every variable's rejection naming the variable, limit
 * sets, and override contexts whose names collide with Object.prototype.
 */
import {
  ConfigError,
  DEFAULT_LIMITS,
  parseConfig,
  resolveLimits,
  type Config,
} from "../../function/config.js";

const MIB = 1024 * 1024;

function parseError(env: Record<string, string>): ConfigError {
  try {
    parseConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) {
      return error;
    }
    throw error;
  }
  throw new Error(`parseConfig accepted ${JSON.stringify(env)}`);
}

describe("parseConfig defaults", () => {
  let config: Config;

  beforeAll(() => {
    config = parseConfig({});
  });

  it.each<[keyof Config, unknown]>([
    ["enabled", true],
    ["pythonPath", "/usr/bin/python3"],
    ["runnerPath", "/opt/codejail/runner/runner.py"],
    ["execRoot", "/var/lib/codejail/exec"],
    ["sandboxUidBase", 2_002_717_000],
    ["sandboxUidCount", 64],
    ["sandboxGid", 2_002_717_000],
    ["limitOverrides", new Map()],
    ["maxBodyBytes", 40 * MIB],
    ["maxPayloadBytes", 5 * MIB],
    ["maxLibraryBytes", 32 * MIB],
    ["maxParts", 8],
    ["maxOutputBytes", 1 * MIB],
    ["maxResultBytes", 10 * MIB],
    ["maxQueued", 64],
    ["maxQueueWaitMs", 2000],
    ["diskBytes", 64 * MIB],
    ["shutdownGraceMs", 8000],
    ["egressProbeUrl", undefined],
    ["unconfinedForTests", false],
  ])("sets %s", (key, value) => {
    expect(config[key]).toEqual(value);
  });

  it("uses the Tutor plugin's limits", () => {
    expect(config.defaultLimits).toEqual({
      CPU: 3,
      REALTIME: 3,
      VMEM: 512 * MIB,
      FSIZE: 10 * MIB,
      NPROC: 15,
    });
  });

  it("reads the system library and matplotlib paths", () => {
    expect(config.readPaths).toContain("/usr/share/matplotlib");
    expect(config.readPaths).toContain("/etc/ld.so.cache");
    expect(config.readPaths.every((entry) => entry.startsWith("/"))).toBe(true);
  });

  it("sizes concurrency between one and the uid count", () => {
    expect(config.maxConcurrent).toBeGreaterThanOrEqual(1);
    expect(config.maxConcurrent).toBeLessThanOrEqual(config.sandboxUidCount);
  });

  it("is frozen", () => {
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.defaultLimits)).toBe(true);
    expect(Object.isFrozen(config.readPaths)).toBe(true);
  });

  it("treats an empty value as unset", () => {
    expect(parseConfig({ CODEJAIL_MAX_QUEUE: "" }).maxQueued).toBe(64);
  });
});

describe("parseConfig values", () => {
  it.each<[string, string, keyof Config, unknown]>([
    ["CODEJAIL_ENABLED", "false", "enabled", false],
    ["CODEJAIL_ENABLED", "0", "enabled", false],
    ["CODEJAIL_ENABLED", "1", "enabled", true],
    ["CODEJAIL_RUNNER_DIR", "/srv/runner", "runnerPath", "/srv/runner/runner.py"],
    ["CODEJAIL_READ_PATHS", "/a::/b:", "readPaths", ["/a", "/b"]],
    ["CODEJAIL_MAX_CONCURRENCY", "2", "maxConcurrent", 2],
    ["CODEJAIL_MAX_QUEUE", "0", "maxQueued", 0],
    ["CODEJAIL_DISK_BYTES", "0", "diskBytes", 0],
    ["CODEJAIL_EGRESS_PROBE_URL", "https://example.com/", "egressProbeUrl", "https://example.com/"],
  ])("reads %s=%s", (name, value, key, expected) => {
    expect(parseConfig({ [name]: value })[key]).toEqual(expected);
  });

  it("replaces only the default limits given", () => {
    const config = parseConfig({ CODEJAIL_LIMITS: '{"CPU": 5, "REALTIME": 0.5}' });

    expect(config.defaultLimits).toEqual({ ...DEFAULT_LIMITS, CPU: 5, REALTIME: 0.5 });
  });

  it("sizes default concurrency within a small uid pool", () => {
    const config = parseConfig({ CODEJAIL_SANDBOX_UID_COUNT: "2" });

    expect(config.maxConcurrent).toBeLessThanOrEqual(2);
  });
});

describe("parseConfig errors", () => {
  it.each<[string, string]>([
    ["CODEJAIL_ENABLED", "yes"],
    ["CODEJAIL_PYTHON", "python3"],
    ["CODEJAIL_RUNNER_DIR", "runner"],
    ["CODEJAIL_EXEC_ROOT", "exec"],
    ["CODEJAIL_SANDBOX_UID_BASE", "999"],
    ["CODEJAIL_SANDBOX_UID_BASE", "1e6"],
    ["CODEJAIL_SANDBOX_UID_COUNT", "0"],
    ["CODEJAIL_SANDBOX_UID_COUNT", "4097"],
    ["CODEJAIL_SANDBOX_GID", "-5"],
    ["CODEJAIL_READ_PATHS", "/usr/lib:relative"],
    ["CODEJAIL_LIMITS", "{"],
    ["CODEJAIL_LIMITS", "[]"],
    ["CODEJAIL_LIMITS", '{"CPU": 0}'],
    ["CODEJAIL_LIMITS", '{"CPU": 1.5}'],
    ["CODEJAIL_LIMITS", '{"REALTIME": 0.05}'],
    ["CODEJAIL_LIMITS", '{"NPROC": 5000}'],
    ["CODEJAIL_LIMITS", '{"VMEM": -1}'],
    ["CODEJAIL_LIMITS", '{"BOGUS": 1}'],
    ["CODEJAIL_LIMIT_OVERRIDES", '{"course": {"CPU": "3"}}'],
    ["CODEJAIL_LIMIT_OVERRIDES", '{"course": {"WALL": 3}}'],
    ["CODEJAIL_LIMIT_OVERRIDES", '["course"]'],
    ["CODEJAIL_MAX_BODY_BYTES", "1023"],
    ["CODEJAIL_MAX_PAYLOAD_BYTES", "5MiB"],
    ["CODEJAIL_MAX_LIBRARY_BYTES", "-1"],
    ["CODEJAIL_MAX_PARTS", "0"],
    ["CODEJAIL_MAX_OUTPUT_BYTES", "100"],
    ["CODEJAIL_MAX_RESULT_BYTES", "0x100000"],
    ["CODEJAIL_MAX_CONCURRENCY", "0"],
    ["CODEJAIL_MAX_QUEUE", "100001"],
    ["CODEJAIL_MAX_QUEUE_WAIT_MS", "1.5"],
    ["CODEJAIL_DISK_BYTES", " 1024"],
    ["CODEJAIL_SHUTDOWN_GRACE_MS", "3600001"],
    ["CODEJAIL_EGRESS_PROBE_URL", "ftp://example.com/"],
    ["CODEJAIL_EGRESS_PROBE_URL", "not a url"],
    ["CODEJAIL_UNCONFINED_FOR_TESTS", "on"],
  ])("names %s for %p", (name, value) => {
    const error = parseError({ [name]: value });

    expect(error.name).toBe("ConfigError");
    expect(error.message).toMatch(new RegExp(`^Invalid environment variable ${name}: \\S`));
  });

  it("rejects more concurrency than uids", () => {
    const error = parseError({ CODEJAIL_MAX_CONCURRENCY: "5", CODEJAIL_SANDBOX_UID_COUNT: "4" });

    expect(error.message).toBe(
      "Invalid environment variable CODEJAIL_MAX_CONCURRENCY: 5 is more than " +
        "CODEJAIL_SANDBOX_UID_COUNT (4); each execution needs a uid",
    );
  });

  it("explains invalid limits JSON", () => {
    expect(parseError({ CODEJAIL_LIMITS: "{" }).message).toBe(
      "Invalid environment variable CODEJAIL_LIMITS: must be valid JSON",
    );
  });
});

describe("resolveLimits", () => {
  const config = parseConfig({
    CODEJAIL_LIMITS: '{"CPU": 2}',
    CODEJAIL_LIMIT_OVERRIDES: JSON.stringify({
      "course-v1:Big+1+1": { FSIZE: 20 * MIB, REALTIME: 10 },
      empty: {},
    }),
  });
  const defaults = { ...DEFAULT_LIMITS, CPU: 2 };

  it.each<[string, string | null]>([
    ["no context", null],
    ["an unknown context", "course-v1:Other+1+1"],
    ["an empty set", "empty"],
    ["__proto__", "__proto__"],
    ["constructor", "constructor"],
    ["toString", "toString"],
    ["hasOwnProperty", "hasOwnProperty"],
  ])("uses the defaults for %s", (_name, context) => {
    expect(resolveLimits(config, context)).toEqual(defaults);
  });

  it("replaces the fields of a known set", () => {
    expect(resolveLimits(config, "course-v1:Big+1+1")).toEqual({
      ...defaults,
      FSIZE: 20 * MIB,
      REALTIME: 10,
    });
  });

  it("leaves the defaults unchanged", () => {
    resolveLimits(config, "course-v1:Big+1+1");

    expect(config.defaultLimits).toEqual(defaults);
    expect(Object.getPrototypeOf(resolveLimits(config, "__proto__"))).toBe(Object.prototype);
  });

  it("applies a set named __proto__", () => {
    const withProto = parseConfig({ CODEJAIL_LIMIT_OVERRIDES: '{"__proto__": {"CPU": 9}}' });

    expect(resolveLimits(withProto, "__proto__")).toEqual({ ...DEFAULT_LIMITS, CPU: 9 });
    expect(resolveLimits(withProto, "other")).toEqual(DEFAULT_LIMITS);
    expect(({} as Record<string, unknown>).CPU).toBeUndefined();
  });
});
