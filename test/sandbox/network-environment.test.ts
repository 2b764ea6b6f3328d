/**
 * Network and environment confinement: no socket but AF_UNIX, and none of the service's
 * environment variables.
 */
import net from "node:net";
import { exec, type TestServer } from "../helpers/server.js";
import { CANARY_VARIABLE, expectError, startSandboxServer } from "../helpers/sandbox.js";

let server: TestServer;

beforeAll(async () => {
  server = await startSandboxServer();
});

afterAll(async () => {
  await server.stop();
});

describe("network", () => {
  it.each([
    ["AF_INET stream", "socket.AF_INET, socket.SOCK_STREAM"],
    ["AF_INET datagram", "socket.AF_INET, socket.SOCK_DGRAM"],
    ["AF_INET6", "socket.AF_INET6, socket.SOCK_STREAM"],
    ["AF_NETLINK", "socket.AF_NETLINK, socket.SOCK_RAW"],
    ["AF_PACKET", "socket.AF_PACKET, socket.SOCK_RAW"],
  ])("deny creating an %s socket", async (_name, args) => {
    const emsg = await expectError(server.url, `import socket\nsocket.socket(${args})`);

    expect(emsg).toContain("PermissionError: [Errno 13] Permission denied");
  });

  it("deny connecting to an abstract unix socket outside the execution", async () => {
    const name = `codejail-test-${process.pid}`;
    const listener = net.createServer((socket) => socket.end());
    await new Promise<void>((resolve) => listener.listen(`\0${name}`, resolve));
    try {
      // Node binds abstract names padded with NULs to the full 108 bytes of sun_path.
      const code = [
        "import socket",
        "s = socket.socket(socket.AF_UNIX)",
        `s.connect('\\0${name}'.ljust(108, '\\0'))`,
      ].join("\n");
      const emsg = await expectError(server.url, code);

      expect(emsg).toContain("PermissionError: [Errno 1] Operation not permitted");
    } finally {
      listener.close();
    }
  });

  it("allow an AF_UNIX socket inside tmp", async () => {
    const code = [
      "import socket",
      "server = socket.socket(socket.AF_UNIX)",
      "server.bind('tmp/s')",
      "server.listen(1)",
      "client = socket.socket(socket.AF_UNIX)",
      "client.connect('tmp/s')",
      "connected = True",
      "client.close(); server.close()",
    ].join("\n");
    const result = await exec(server.url, code);

    expect(result.emsg).toBeUndefined();
    expect(result.globals.connected).toBe(true);
  });
});

describe("environment", () => {
  it("deny seeing the service's environment variables", async () => {
    const result = await exec(server.url, "import os\nnames = sorted(os.environ)");

    expect(result.globals.names).not.toContain(CANARY_VARIABLE);
    expect(result.globals.names).not.toContain("PORT");
  });

  it("support starting with only the standard descriptors", async () => {
    const code = [
      "import os",
      "open_fds = []",
      "for fd in range(4, 1024):",
      "    try:",
      "        os.fstat(fd)",
      "        open_fds.append(fd)",
      "    except OSError:",
      "        pass",
    ].join("\n");
    const result = await exec(server.url, code);

    expect(result.emsg).toBeUndefined();
    expect(result.globals.open_fds).toEqual([]);
  });

  it("allow PATH, HOME, TMPDIR and OPENBLAS_NUM_THREADS", async () => {
    const result = await exec(server.url, "import os\nnames = sorted(os.environ)");

    expect(result.globals.names).toEqual(
      expect.arrayContaining(["HOME", "OPENBLAS_NUM_THREADS", "PATH", "TMPDIR"]),
    );
  });
});
