/**
 * Service configuration, parsed once at cold start from environment variables into a frozen
 * object. A bad value stops the service at start-up with an error naming the variable and what
 * it accepts, so a misconfigured instance never serves.
 */
import os from "node:os";
import { z } from "zod";

/** Resource limits with codejail's names: seconds, bytes and counts. 0 means no limit for VMEM. */
export const limitsSchema = z
  .object({
    CPU: z.number().int().min(1).max(600),
    REALTIME: z.number().min(0.1).max(600),
    VMEM: z.number().int().min(0),
    FSIZE: z.number().int().min(0),
    NPROC: z.number().int().min(1).max(4096),
  })
  .strict();

export type Limits = z.infer<typeof limitsSchema>;

/** Defaults of the Tutor codejail plugin's service: enough for numpy, scipy, sympy, matplotlib. */
export const DEFAULT_LIMITS: Limits = Object.freeze({
  CPU: 3,
  REALTIME: 3,
  VMEM: 512 * 1024 * 1024,
  FSIZE: 10 * 1024 * 1024,
  NPROC: 15,
});

const DEFAULT_READ_PATHS = [
  `/usr/lib/${os.arch() === "arm64" ? "aarch64" : "x86_64"}-linux-gnu`,
  "/usr/share/matplotlib",
  "/usr/share/fonts",
  "/usr/share/zoneinfo",
  "/etc/matplotlibrc",
  "/etc/ld.so.cache",
  "/etc/localtime",
];

const MIB = 1024 * 1024;

/** Imported once by each template of the prewarmed executor; a module that is missing is skipped. */
const DEFAULT_PRELOAD_MODULES = ["numpy", "scipy", "sympy", "matplotlib", "six", "random2"];

const booleanText = z.enum(["true", "false", "1", "0"]).transform((v) => v === "true" || v === "1");
const integerText = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, "must be a whole number")
    .transform(Number)
    .pipe(z.number().int().min(min).max(max));
const jsonText = <T extends z.ZodType>(schema: T) =>
  z
    .string()
    .transform((text, ctx) => {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        ctx.addIssue({ code: "custom", message: "must be valid JSON" });
        return z.NEVER;
      }
    })
    .pipe(schema);
const moduleList = z
  .string()
  .transform((text) => text.split(",").map((name) => name.trim()))
  .transform((names) => names.filter((name) => name !== ""))
  .pipe(
    z.array(
      z
        .string()
        .regex(/^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$/, "entries must be dotted Python module names"),
    ),
  );
const pathList = z
  .string()
  .transform((text) => text.split(":").filter((entry) => entry !== ""))
  .pipe(z.array(z.string().startsWith("/", "entries must be absolute paths")));

const environmentSchema = z.object({
  CODEJAIL_ENABLED: booleanText.default(true),
  CODEJAIL_PYTHON: z.string().startsWith("/").default("/usr/bin/python3"),
  CODEJAIL_RUNNER_DIR: z.string().startsWith("/").default("/opt/codejail/runner"),
  CODEJAIL_EXEC_ROOT: z.string().startsWith("/").default("/var/lib/codejail/exec"),
  CODEJAIL_SANDBOX_UID_BASE: integerText(1000, 4_000_000_000).default(2_002_717_000),
  CODEJAIL_SANDBOX_UID_COUNT: integerText(1, 4096).default(64),
  CODEJAIL_SANDBOX_GID: integerText(1000, 4_000_000_000).default(2_002_717_000),
  CODEJAIL_READ_PATHS: pathList.default(DEFAULT_READ_PATHS),
  CODEJAIL_LIMITS: jsonText(limitsSchema.partial()).default({}),
  // Entries rather than a record: a context named "__proto__" (JSON.parse keeps it as an own
  // key) must stay an ordinary name, not become an object's prototype.
  CODEJAIL_LIMIT_OVERRIDES: jsonText(
    z.custom<Record<string, unknown>>(
      (value) => typeof value === "object" && value !== null && !Array.isArray(value),
      "must be a JSON object",
    ),
  )
    .transform((record) => Object.entries(record))
    .pipe(z.array(z.tuple([z.string(), limitsSchema.partial()])))
    .default([]),
  CODEJAIL_MAX_BODY_BYTES: integerText(1024, 1024 * MIB).default(40 * MIB),
  CODEJAIL_MAX_PAYLOAD_BYTES: integerText(1024, 1024 * MIB).default(5 * MIB),
  CODEJAIL_MAX_LIBRARY_BYTES: integerText(0, 1024 * MIB).default(32 * MIB),
  CODEJAIL_MAX_PARTS: integerText(1, 1000).default(8),
  CODEJAIL_MAX_OUTPUT_BYTES: integerText(1024, 256 * MIB).default(1 * MIB),
  CODEJAIL_MAX_RESULT_BYTES: integerText(1024, 1024 * MIB).default(10 * MIB),
  CODEJAIL_MAX_CONCURRENCY: integerText(1, 4096).optional(),
  CODEJAIL_MAX_QUEUE: integerText(0, 100_000).default(64),
  CODEJAIL_MAX_QUEUE_WAIT_MS: integerText(0, 600_000).default(2000),
  CODEJAIL_DISK_BYTES: integerText(0, 64 * 1024 * MIB).default(64 * MIB),
  CODEJAIL_SHUTDOWN_GRACE_MS: integerText(0, 3_600_000).default(8000),
  CODEJAIL_EGRESS_PROBE_URL: z.url({ protocol: /^https?$/ }).optional(),
  CODEJAIL_UNCONFINED_FOR_TESTS: booleanText.default(false),
  CODEJAIL_LAUNCHER: z.string().startsWith("/").optional(),
  CODEJAIL_EXECUTOR: z.enum(["prewarmed", "fresh"]).default("prewarmed"),
  CODEJAIL_PRELOAD_MODULES: moduleList.default(DEFAULT_PRELOAD_MODULES),
  CODEJAIL_TEMPLATE_COUNT: integerText(1, 64).default(1),
  CODEJAIL_TEMPLATE_MAX_EXECUTIONS: integerText(1, 1_000_000).default(2000),
  CODEJAIL_TEMPLATE_MAX_AGE_SECONDS: integerText(1, 86_400).default(600),
  CODEJAIL_TEMPLATE_SPARES: integerText(0, 16).default(2),
});

export type Config = Readonly<{
  enabled: boolean;
  pythonPath: string;
  runnerPath: string;
  execRoot: string;
  sandboxUidBase: number;
  sandboxUidCount: number;
  sandboxGid: number;
  readPaths: readonly string[];
  defaultLimits: Limits;
  limitOverrides: ReadonlyMap<string, Partial<Limits>>;
  maxBodyBytes: number;
  maxPayloadBytes: number;
  maxLibraryBytes: number;
  maxParts: number;
  maxOutputBytes: number;
  maxResultBytes: number;
  maxConcurrent: number;
  maxQueued: number;
  maxQueueWaitMs: number;
  /** Bytes the code may write in its directory in total; 0 leaves the host's disk as the bound. */
  diskBytes: number;
  shutdownGraceMs: number;
  egressProbeUrl: string | undefined;
  /** Test-only switch that turns confinement off so the deny tests can be shown to fail. */
  unconfinedForTests: boolean;
  /** The set-user-ID launcher; unset when the service itself runs as root. */
  launcherPath: string | undefined;
  /** "prewarmed" forks each execution from a template interpreter; "fresh" starts a new one. */
  executor: "prewarmed" | "fresh";
  preloadModules: readonly string[];
  templateCount: number;
  templateMaxExecutions: number;
  templateMaxAgeSeconds: number;
  /** Children each template keeps forked ahead of requests. */
  templateSpares: number;
}>;

/** Thrown at start-up when an environment variable has an invalid value. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Parses the environment into a frozen Config, or throws ConfigError naming the variable. */
export function parseConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const present = Object.fromEntries(
    Object.keys(environmentSchema.shape)
      .filter((name) => env[name] !== undefined && env[name] !== "")
      .map((name) => [name, env[name]]),
  );
  const parsed = environmentSchema.safeParse(present);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ConfigError(
      `Invalid environment variable ${String(issue.path[0])}: ${issue.message}`,
    );
  }

  const e = parsed.data;
  const defaultLimits = Object.freeze({ ...DEFAULT_LIMITS, ...e.CODEJAIL_LIMITS });
  const maxConcurrent =
    e.CODEJAIL_MAX_CONCURRENCY ??
    Math.min(toDefaultConcurrency(defaultLimits), e.CODEJAIL_SANDBOX_UID_COUNT);
  if (maxConcurrent > e.CODEJAIL_SANDBOX_UID_COUNT) {
    throw new ConfigError(
      `Invalid environment variable CODEJAIL_MAX_CONCURRENCY: ${maxConcurrent} is more than ` +
        `CODEJAIL_SANDBOX_UID_COUNT (${e.CODEJAIL_SANDBOX_UID_COUNT}); each execution needs a uid`,
    );
  }

  return Object.freeze({
    enabled: e.CODEJAIL_ENABLED,
    pythonPath: e.CODEJAIL_PYTHON,
    runnerPath: `${e.CODEJAIL_RUNNER_DIR}/runner.py`,
    execRoot: e.CODEJAIL_EXEC_ROOT,
    sandboxUidBase: e.CODEJAIL_SANDBOX_UID_BASE,
    sandboxUidCount: e.CODEJAIL_SANDBOX_UID_COUNT,
    sandboxGid: e.CODEJAIL_SANDBOX_GID,
    readPaths: Object.freeze([...e.CODEJAIL_READ_PATHS]),
    defaultLimits,
    limitOverrides: new Map(e.CODEJAIL_LIMIT_OVERRIDES),
    maxBodyBytes: e.CODEJAIL_MAX_BODY_BYTES,
    maxPayloadBytes: e.CODEJAIL_MAX_PAYLOAD_BYTES,
    maxLibraryBytes: e.CODEJAIL_MAX_LIBRARY_BYTES,
    maxParts: e.CODEJAIL_MAX_PARTS,
    maxOutputBytes: e.CODEJAIL_MAX_OUTPUT_BYTES,
    maxResultBytes: e.CODEJAIL_MAX_RESULT_BYTES,
    maxConcurrent,
    maxQueued: e.CODEJAIL_MAX_QUEUE,
    maxQueueWaitMs: e.CODEJAIL_MAX_QUEUE_WAIT_MS,
    diskBytes: e.CODEJAIL_DISK_BYTES,
    shutdownGraceMs: e.CODEJAIL_SHUTDOWN_GRACE_MS,
    egressProbeUrl: e.CODEJAIL_EGRESS_PROBE_URL,
    unconfinedForTests: e.CODEJAIL_UNCONFINED_FOR_TESTS,
    launcherPath: e.CODEJAIL_LAUNCHER,
    executor: e.CODEJAIL_EXECUTOR,
    preloadModules: Object.freeze([...e.CODEJAIL_PRELOAD_MODULES]),
    templateCount: e.CODEJAIL_TEMPLATE_COUNT,
    templateMaxExecutions: e.CODEJAIL_TEMPLATE_MAX_EXECUTIONS,
    templateMaxAgeSeconds: e.CODEJAIL_TEMPLATE_MAX_AGE_SECONDS,
    templateSpares: e.CODEJAIL_TEMPLATE_SPARES,
  });
}

/**
 * Sizes concurrency to the host: two executions per CPU (they mostly wait on imports and I/O),
 * and no more than three quarters of the memory divided by one execution's memory budget.
 */
function toDefaultConcurrency(limits: Limits): number {
  const perExecutionBytes = limits.VMEM > 0 ? limits.VMEM : 512 * MIB;
  const byMemory = Math.floor((os.totalmem() * 0.75) / perExecutionBytes);
  return Math.max(1, Math.min(os.availableParallelism() * 2, byMemory));
}

/** Resolves the limits for one request: the defaults, replaced field by field by the named set. */
export function resolveLimits(config: Config, context: string | null): Limits {
  const override = context === null ? undefined : config.limitOverrides.get(context);
  return override === undefined ? config.defaultLimits : { ...config.defaultLimits, ...override };
}
