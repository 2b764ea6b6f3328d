/**
 * The deployment definitions keep the service private and reproducible: infra/service.yaml (the
 * Cloud Run service) and cloudbuild.yaml (the pipeline that deploys it), parsed as YAML.
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";

const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));
const SERVICE_FILE = path.join(REPO_ROOT, "infra", "service.yaml");
const RENDER_SCRIPT = path.join(REPO_ROOT, "infra", "render_service.py");
const CLOUDBUILD_FILE = path.join(REPO_ROOT, "cloudbuild.yaml");
const DOCKERFILE = path.join(REPO_ROOT, "sandbox-image", "Dockerfile");

const DIGEST_PINNED = /@sha256:[0-9a-f]{64}$/;
const PUBLIC_ACCESS_MARKERS = ["allUsers", "allAuthenticatedUsers", "--allow-unauthenticated"];
// Values for Cloud Build's built-in substitutions when the test renders the deploy step.
const BUILT_IN_VALUES: Readonly<Record<string, string>> = {
  PROJECT_ID: "test-project",
  BUILD_ID: "test-build",
};

type Step = Readonly<{ id: string; name: string; args: string[]; env: string[] }>;

const service: unknown = parse(readFileSync(SERVICE_FILE, "utf8"));
const cloudbuild: unknown = parse(readFileSync(CLOUDBUILD_FILE, "utf8"));
const steps: Step[] = toArray(valueAt(cloudbuild, ["steps"])).map(toStep);
const substitutions = toStringRecord(valueAt(cloudbuild, ["substitutions"]));

/** Returns the value at keyPath inside nested objects and arrays, or undefined. */
function valueAt(root: unknown, keyPath: readonly (string | number)[]): unknown {
  let value = root;
  for (const key of keyPath) {
    if (typeof value !== "object" || value === null) {
      return undefined;
    }
    value = (value as Record<string | number, unknown>)[key];
  }
  return value;
}

function toArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function toStringRecord(value: unknown): Record<string, string> {
  const entries = Object.entries(typeof value === "object" && value !== null ? value : {});
  return Object.fromEntries(entries.map(([key, item]) => [key, String(item)]));
}

function toStep(value: unknown, index: number): Step {
  return {
    id: String(valueAt(value, ["id"]) ?? `#${index}`),
    name: String(valueAt(value, ["name"])),
    args: toArray(valueAt(value, ["args"])).map(String),
    env: toArray(valueAt(value, ["env"])).map(String),
  };
}

/** Lists every string in a parsed document: keys and values, at any depth. */
function allStrings(value: unknown): string[] {
  if (typeof value === "string") {
    return [value];
  }
  if (typeof value !== "object" || value === null) {
    return [];
  }
  return Object.entries(value).flatMap(([key, item]) => [key, ...allStrings(item)]);
}

function templateAnnotation(name: string): unknown {
  return valueAt(service, ["spec", "template", "metadata", "annotations", name]);
}

function containerEnv(name: string): unknown {
  const env = toArray(valueAt(service, ["spec", "template", "spec", "containers", 0, "env"]));
  return valueAt(
    env.find((entry) => valueAt(entry, ["name"]) === name),
    ["value"],
  );
}

function deploySteps(): Step[] {
  return steps.filter((step) =>
    step.args.some((arg) => arg.includes("gcloud run services replace")),
  );
}

/** Resolves Cloud Build substitutions ($NAME and ${NAME}) in a step's env entries. */
function toDeployEnvironment(step: Step): Record<string, string> {
  const values: Record<string, string> = { ...BUILT_IN_VALUES, ...substitutions };
  const resolve = (text: string) =>
    text.replace(/\$\{?([A-Z_][A-Z0-9_]*)\}?/g, (_match, name: string) => values[name] ?? "");
  return Object.fromEntries(
    step.env.map((entry) => {
      const separator = entry.indexOf("=");
      return [entry.slice(0, separator), resolve(entry.slice(separator + 1))];
    }),
  );
}

function renderService(env: Record<string, string>) {
  return spawnSync("/usr/bin/python3", [RENDER_SCRIPT, SERVICE_FILE], {
    encoding: "utf8",
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...env },
  });
}

describe("service.yaml", () => {
  it.each<[string, readonly (string | number)[], unknown]>([
    ["is a Knative Service", ["kind"], "Service"],
    ["ingress is internal", ["metadata", "annotations", "run.googleapis.com/ingress"], "internal"],
    [
      "runs in the gen2 environment",
      ["spec", "template", "metadata", "annotations", "run.googleapis.com/execution-environment"],
      "gen2",
    ],
    [
      "sends all egress into the VPC",
      ["spec", "template", "metadata", "annotations", "run.googleapis.com/vpc-access-egress"],
      "all-traffic",
    ],
    [
      "keeps CPU allocated",
      ["spec", "template", "metadata", "annotations", "run.googleapis.com/cpu-throttling"],
      "false",
    ],
    [
      "runs as the dedicated service account",
      ["spec", "template", "spec", "serviceAccountName"],
      "${_SERVICE}@${PROJECT_ID}.iam.gserviceaccount.com",
    ],
    [
      "probes /health/ at start-up",
      ["spec", "template", "spec", "containers", 0, "startupProbe", "httpGet", "path"],
      "/health/",
    ],
  ])("%s", (_name, keyPath, expected) => {
    expect(valueAt(service, keyPath)).toEqual(expected);
  });

  it("keeps at least one instance warm", () => {
    expect(Number(templateAnnotation("autoscaling.knative.dev/minScale"))).toBeGreaterThanOrEqual(
      1,
    );
  });

  it("matches containerConcurrency to the executor", () => {
    const concurrency = valueAt(service, ["spec", "template", "spec", "containerConcurrency"]);

    expect(String(concurrency)).toBe(containerEnv("CODEJAIL_MAX_CONCURRENCY"));
  });

  it("sets an egress probe URL", () => {
    expect(containerEnv("CODEJAIL_EGRESS_PROBE_URL")).toMatch(/^\$\{_[A-Z_]+\}$|^https:\/\//);
  });

  it("turns the invoker check off only behind internal ingress", () => {
    const isCheckOff = valueAt(service, [
      "metadata",
      "annotations",
      "run.googleapis.com/invoker-iam-disabled",
    ]);
    const ingress = valueAt(service, ["metadata", "annotations", "run.googleapis.com/ingress"]);

    expect(isCheckOff !== "true" || ingress === "internal").toBe(true);
  });
});

describe("public access", () => {
  it.each(
    PUBLIC_ACCESS_MARKERS.flatMap((marker) => [
      ["service.yaml", marker, service],
      ["cloudbuild.yaml", marker, cloudbuild],
    ]),
  )("%s does not mention %s", (_file, marker, document) => {
    expect(allStrings(document).filter((text) => text.includes(marker))).toEqual([]);
  });
});

describe("cloudbuild.yaml", () => {
  it.each(steps.map((step) => [step.id, step.name]))(
    "step %s pins its image by digest",
    (_id, name) => {
      expect(name).toMatch(DIGEST_PINNED);
    },
  );

  it("pins the Dockerfile's base image by digest", () => {
    const base = /^ARG NODE_IMAGE=(\S+)$/m.exec(readFileSync(DOCKERFILE, "utf8"))?.[1];

    expect(base).toMatch(DIGEST_PINNED);
  });

  it("has exactly one deploy step", () => {
    expect(deploySteps().map((step) => step.id)).toEqual(["deploy"]);
  });

  it("deploys infra/service.yaml", () => {
    const script = deploySteps()[0]?.args.join("\n") ?? "";

    expect(script).toContain("infra/render_service.py infra/service.yaml");
  });

  it("never runs gcloud run deploy", () => {
    expect(allStrings(cloudbuild).filter((text) => text.includes("run deploy"))).toEqual([]);
  });

  it("defines every user substitution it uses", () => {
    const used = [...readFileSync(CLOUDBUILD_FILE, "utf8").matchAll(/\$\{(_[A-Z0-9_]+)\}/g)];
    const undefinedNames = used
      .map((match) => match[1]!)
      .filter((name) => !(name in substitutions));

    expect(undefinedNames).toEqual([]);
  });

  it.each(["secretEnv", "availableSecrets"])("uses no %s", (key) => {
    expect(allStrings(cloudbuild)).not.toContain(key);
  });
});

describe("rendered service.yaml", () => {
  const deployStep = deploySteps()[0];
  const env = deployStep === undefined ? {} : toDeployEnvironment(deployStep);

  it("renders with the deploy step's environment", () => {
    expect(renderService(env)).toMatchObject({ status: 0, stderr: "" });
  });

  it("leaves no placeholder", () => {
    expect(renderService(env).stdout).not.toContain("${");
  });

  it("deploys the pushed image", () => {
    const rendered: unknown = parse(renderService(env).stdout);
    const image = valueAt(rendered, ["spec", "template", "spec", "containers", 0, "image"]);

    expect(image).toBe(
      "us-central1-docker.pkg.dev/test-project/codejail/codejail-service:test-build",
    );
  });

  it("fails on a placeholder without a value", () => {
    const result = renderService({ ...env, IMAGE: "" });

    expect(result).toMatchObject({ status: 1, stderr: expect.stringContaining("IMAGE") });
  });
});
