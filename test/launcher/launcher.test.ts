/**
 * The privilege split of the image: the service runs as the unprivileged web user and reaches
 * the sandbox only through the set-user-ID launcher installed by provisioning. Uses the
 * launcher's own configuration (/etc/codejail/launcher.conf), so it runs on the default sandbox
 * uids and execution root.
 */
import { spawnSync } from "node:child_process";
import { mkdir, mkdtemp, readdir, rm, symlink } from "node:fs/promises";
import path from "node:path";
import { exec, execText, startServer, WEB_USER_ID, type TestServer } from "../helpers/server.js";

const LAUNCHER = "/opt/codejail/bin/codejail-launch";
const EXEC_ROOT = "/var/lib/codejail/exec";
const PYTHON = "/usr/bin/python3";
let server: TestServer;

beforeAll(async () => {
  server = await startServer(
    {
      CODEJAIL_LAUNCHER: LAUNCHER,
      CODEJAIL_SANDBOX_UID_BASE: "2002717000",
      CODEJAIL_EXEC_ROOT: EXEC_ROOT,
    },
    { uid: WEB_USER_ID, gid: WEB_USER_ID },
  );
});

afterAll(async () => {
  await server.stop();
});

/** Runs the launcher as the web user, the way the service does. */
function launch(args: string[]) {
  return spawnSync(LAUNCHER, args, { uid: WEB_USER_ID, gid: WEB_USER_ID, encoding: "utf8" });
}

describe("service as the web user", () => {
  it("runs code under a pool uid", async () => {
    const result = await exec(server.url, "import os\nx = x + 1\nuid = os.getuid()", { x: 16 });

    expect(result.globals.x).toBe(17);
    expect(result.globals.uid).toBeGreaterThanOrEqual(2_002_717_000);
  });

  it("keeps confinement in force", async () => {
    const result = await exec(server.url, "import os\nos.listdir('/')");

    expect(result.emsg).toContain("PermissionError: [Errno 13] Permission denied: \\'/\\'");
  });

  it("sets TMPDIR to the scratch directory", async () => {
    const result = await exec(server.url, "import os\nt = os.environ['TMPDIR']");

    expect(result.globals.t).toMatch(/^\/var\/lib\/codejail\/exec\/.*exec-[^/]+\/tmp$/);
  });

  it("kills the tree and removes the directory after a timeout", async () => {
    const code = [
      "import os, time",
      "if os.fork() == 0:",
      "    os.makedirs('tmp/a/b')",
      "    os.chmod('tmp/a', 0)",
      "    time.sleep(60)",
      "time.sleep(30)",
    ].join("\n");
    const response = await execText(server.url, code);
    const leftovers = (await readdir(EXEC_ROOT)).filter((name) => name.startsWith("exec-"));

    expect(JSON.parse(response.text).emsg).toMatch(/status code: -9$/);
    expect(leftovers).toEqual([]);
  });
});

describe("launcher checks", () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(EXEC_ROOT, "exec-"));
    await mkdir(path.join(dir, "tmp"));
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it.each([
    ["a slot outside the pool", ["run", "64", "DIR", PYTHON, "-c", "pass"]],
    ["another program", ["run", "1", "DIR", "/bin/sh", "-c", "id"]],
    ["a directory outside the root", ["run", "1", "/etc", PYTHON, "-c", "pass"]],
    ["a parent reference", ["run", "1", `${EXEC_ROOT}/../exec/NAME`, PYTHON, "-c", "pass"]],
    ["an unknown mode", ["chown", "1", "DIR"]],
    ["a template without -I", ["template", PYTHON, "-B", "/opt/codejail/runner/template.py"]],
    ["a template script elsewhere", ["template", PYTHON, "-I", "-B", "/tmp/template.py"]],
  ])("rejects %s", (_name, args) => {
    const filled = args.map((arg) => arg.replace("DIR", dir).replace("NAME", path.basename(dir)));
    const result = launch(filled);

    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/^codejail-launch: /);
  });

  it("replaces the caller's environment", () => {
    const code = "import json, os; print(json.dumps(sorted(os.environ)))";
    const result = spawnSync(LAUNCHER, ["run", "1", dir, PYTHON, "-I", "-c", code], {
      uid: WEB_USER_ID,
      gid: WEB_USER_ID,
      encoding: "utf8",
      env: { LD_PRELOAD: "/nonexistent.so", PYTHONPATH: "/tmp", SECRET: "x" },
    });

    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual([
      "HOME",
      "LANG",
      "OPENBLAS_NUM_THREADS",
      "PATH",
      "TMPDIR",
    ]);
  });

  it("rejects a symbolic link to a directory", async () => {
    const link = path.join(EXEC_ROOT, `exec-link-${process.pid}`);
    await symlink("/etc", link);
    try {
      const result = launch(["prepare", "1", link]);

      expect(result.status).toBe(77);
    } finally {
      await rm(link, { force: true });
    }
  });

  it("rejects a caller outside the web group", () => {
    const result = spawnSync(LAUNCHER, ["kill", "1"], { uid: 65534, gid: 65534 });

    expect(result.error?.message ?? "").toMatch(/EACCES/);
  });
});
