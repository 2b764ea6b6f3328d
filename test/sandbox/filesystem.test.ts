/**
 * Filesystem confinement: the code reads only its own directory and the Python installation, and
 * writes only inside its own directory.
 */
import { exec, TEST_EXEC_ROOT, type TestServer } from "../helpers/server.js";
import { expectError, startSandboxServer } from "../helpers/sandbox.js";

let server: TestServer;

beforeAll(async () => {
  server = await startSandboxServer();
});

afterAll(async () => {
  await server.stop();
});

describe("filesystem", () => {
  it.each([
    ["/etc/hosts", "open('/etc/hosts').read()"],
    ["/proc/1/cmdline", "open('/proc/1/cmdline', 'rb').read()"],
    ["/etc/passwd", "open('/etc/passwd').read()"],
  ])("deny reading %s", async (target, code) => {
    const emsg = await expectError(server.url, code);

    expect(emsg).toContain(`PermissionError: [Errno 13] Permission denied: \\'${target}\\'`);
  });

  it.each(["/", "/tmp", "/sys", "/proc", "../", TEST_EXEC_ROOT, "/root"])(
    "deny listing %s",
    async (target) => {
      const emsg = await expectError(server.url, `import os; os.listdir('${target}')`);

      expect(emsg).toContain(`PermissionError: [Errno 13] Permission denied: \\'${target}\\'`);
    },
  );

  it.each(["/tmp/x", "../x", "/dev/shm/x"])("deny writing %s", async (target) => {
    const emsg = await expectError(server.url, `open('${target}', 'w').write('x')`);

    expect(emsg).toContain(`PermissionError: [Errno 13] Permission denied: \\'${target}\\'`);
  });

  it("deny creating a symbolic link out of the directory", async () => {
    const code = "import os; os.symlink('/etc/hosts', 'tmp/l'); open('tmp/l').read()";
    const emsg = await expectError(server.url, code);

    expect(emsg).toContain("PermissionError: [Errno 13] Permission denied");
  });

  it("allow listing and writing in the own directory", async () => {
    const code = [
      "import os",
      "open('note.txt', 'w').write('a')",
      "open('tmp/scratch.txt', 'w').write('b')",
      "names = sorted(os.listdir('.'))",
      "scratch = sorted(os.listdir('tmp'))",
    ].join("\n");
    const result = await exec(server.url, code);

    expect(result.emsg).toBeUndefined();
    expect(result.globals.names).toEqual(["jailed_code", "note.txt", "tmp"]);
    expect(result.globals.scratch).toEqual(["scratch.txt"]);
  });

  it("allow reading every sys.path entry", async () => {
    const code = [
      "import os, sys",
      "entries = [p for p in sys.path if os.path.exists(p)]",
      "listed = [p for p in entries if os.path.isfile(p) or os.listdir(p) is not None]",
    ].join("\n");
    const result = await exec(server.url, code);

    expect(result.emsg).toBeUndefined();
    expect(result.globals.listed).toEqual(result.globals.entries);
    expect((result.globals.entries as string[]).length).toBeGreaterThan(1);
  });

  it("allow TMPDIR pointing at the scratch directory", async () => {
    const code =
      "import os, tempfile\nf = tempfile.NamedTemporaryFile(delete=False)\n" +
      "inside = os.path.dirname(f.name) == os.path.join(os.getcwd(), 'tmp')";
    const result = await exec(server.url, code);

    expect(result.emsg).toBeUndefined();
    expect(result.globals.inside).toBe(true);
  });
});
