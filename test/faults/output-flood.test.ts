/**
 * Output floods: code that writes far more than CODEJAIL_MAX_OUTPUT_BYTES to fd 1 or stderr, or
 * more than CODEJAIL_MAX_RESULT_BYTES to the result channel, is killed with an emsg naming the
 * limit, and the service's memory stays bounded.
 */
import { execText, startServer, type TestServer } from "../helpers/server.js";
import { readRssKib, waitForNoLeftovers } from "./support.js";

const MIB = 1024 * 1024;
const FLOOD_BYTES = 10 * MIB;
/** Growth of the service's RSS allowed over ten floods: heap growth, not the flood's size. */
const MAX_RSS_GROWTH_KIB = 64 * 1024;

let server: TestServer;

beforeAll(async () => {
  server = await startServer();
});

afterAll(async () => {
  await server.stop();
});

const FLOODS = {
  stdout: `import os\nos.write(1, b'x' * ${FLOOD_BYTES})`,
  stderr: `import sys\nsys.stderr.write('y' * ${FLOOD_BYTES})`,
};

describe("output flood", () => {
  // The service keeps reading past the limit so the writer never blocks, so the code may finish
  // its write and exit 0 before the kill reaches it.
  it("truncates stdout and names the limit", async () => {
    const response = await execText(server.url, FLOODS.stdout, '{"a": 1}');
    const stored = "x".repeat(MIB);

    expect(response.status).toBe(200);
    expect([0, -9].map((status) => floodBody('{"a":1}', stored, "", status, "stdout"))).toContain(
      response.text,
    );
  });

  it("truncates stderr and names the limit", async () => {
    const response = await execText(server.url, FLOODS.stderr);
    const stored = "y".repeat(MIB);

    expect(response.status).toBe(200);
    expect([0, -9].map((status) => floodBody("{}", "", stored, status, "stderr"))).toContain(
      response.text,
    );
  });

  it("names the result limit for oversized globals", async () => {
    const response = await execText(server.url, `s = 'a' * ${11 * MIB}`);
    const body = JSON.parse(response.text) as { globals_dict: unknown; emsg: string };

    expect(response.status).toBe(200);
    expect(body.globals_dict).toEqual({});
    // The runner may finish writing and exit 0 before the kill reaches it.
    expect([0, -9].map((status) => resultLimitEmsg(status))).toContain(body.emsg);
  });

  it("names the result limit for fd 3", async () => {
    const response = await execText(server.url, `import os\nos.write(3, b'z' * ${11 * MIB})`);
    const body = JSON.parse(response.text) as { emsg: string };

    expect(response.status).toBe(200);
    expect(body.emsg).toMatch(/status code: (0|-9) \(the returned globals exceeded the limit/);
  });

  it("kills a flooding orphan", async () => {
    const code = [
      "import os",
      "if os.fork() == 0:",
      "    while True:",
      "        os.write(1, b'c' * 65536)",
      "done = True",
    ].join("\n");
    const response = await execText(server.url, code);

    expect(response.status).toBe(200);
    expect(response.text.length).toBeLessThan(5 * MIB);
    expect(await waitForNoLeftovers()).toEqual({ processes: [], dirs: [] });
  });

  it("keeps the service's memory bounded over repeated floods", async () => {
    const pid = server.process.pid!;
    const beforeKib = await readRssKib(pid);
    for (let run = 0; run < 5; run += 1) {
      for (const code of Object.values(FLOODS)) {
        const response = await execText(server.url, code);
        expect(response.status).toBe(200);
      }
    }
    const afterKib = await readRssKib(pid);

    expect(afterKib - beforeKib).toBeLessThan(MAX_RSS_GROWTH_KIB);
    expect(await waitForNoLeftovers()).toEqual({ processes: [], dirs: [] });
  });
});

/** Builds the response body for a flood that the default output limit (1 MiB) cut off. */
function floodBody(
  globals: string,
  stdout: string,
  stderr: string,
  status: number,
  stream: string,
): string {
  return (
    `{"globals_dict":${globals},"emsg":"Couldn't execute jailed code: stdout: b'${stdout}', ` +
    `stderr: b'${stderr}' with status code: ${status} (${stream} exceeded the limit of ` +
    `1048576 bytes)"}`
  );
}

function resultLimitEmsg(status: number): string {
  return (
    `Couldn't execute jailed code: stdout: b'', stderr: b'' with status code: ${status} ` +
    "(the returned globals exceeded the limit of 10485760 bytes)"
  );
}
