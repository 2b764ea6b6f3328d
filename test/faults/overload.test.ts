/**
 * Overload: with one execution slot and one queue place, a burst of sleepers gets 200 for the
 * requests that found a slot or a place, and 503 with Retry-After for the rest, without leaking
 * processes or directories.
 */
import {
  execText,
  SECOND_SERVICE_ENV,
  startServer,
  type ServiceResponse,
  type TestServer,
} from "../helpers/server.js";
import { waitForNoLeftovers } from "./support.js";

const BURST = 6;
const OVERLOADED = /^\{"error":"Service is at capacity \([^)]+\); retry later"\}$/;

let server: TestServer;

beforeAll(async () => {
  server = await startServer({
    CODEJAIL_MAX_CONCURRENCY: "1",
    CODEJAIL_MAX_QUEUE: "1",
    CODEJAIL_MAX_QUEUE_WAIT_MS: "5000",
  });
});

afterAll(async () => {
  await server.stop();
});

describe("overload", () => {
  let responses: ServiceResponse[];

  beforeAll(async () => {
    const code = "import time\ntime.sleep(0.5)\ndone = True";
    responses = await Promise.all(Array.from({ length: BURST }, () => execText(server.url, code)));
  });

  it("runs requests with a slot or place", () => {
    const executed = responses.filter((response) => response.status === 200);

    expect(executed).toHaveLength(2);
    for (const response of executed) {
      expect(response.text).toBe('{"globals_dict":{"done":true}}');
    }
  });

  it("rejects the rest with 503 JSON and Retry-After", () => {
    const rejected = responses.filter((response) => response.status !== 200);

    expect(rejected).toHaveLength(BURST - 2);
    for (const response of rejected) {
      expect(response.status).toBe(503);
      expect(response.headers.get("content-type")).toMatch(/^application\/json/);
      expect(response.headers.get("retry-after")).toBe("1");
      expect(response.text).toMatch(OVERLOADED);
    }
  });

  it("names the full queue in the rejection", () => {
    const rejected = responses.filter((response) => response.status === 503);

    expect(rejected[0]?.text).toBe(
      '{"error":"Service is at capacity (1 requests already waiting); retry later"}',
    );
  });

  it("rejects after the queue wait limit", async () => {
    const slow = await startServer({
      ...SECOND_SERVICE_ENV,
      CODEJAIL_MAX_CONCURRENCY: "1",
      CODEJAIL_MAX_QUEUE: "4",
      CODEJAIL_MAX_QUEUE_WAIT_MS: "300",
    });
    try {
      const running = execText(slow.url, "import time\ntime.sleep(1.5)");
      await new Promise((resolve) => setTimeout(resolve, 300));
      const waited = await execText(slow.url, "x = 1");

      expect(waited.status).toBe(503);
      expect(waited.headers.get("retry-after")).toBe("1");
      expect(waited.text).toBe(
        '{"error":"Service is at capacity (no execution slot within 300 ms); retry later"}',
      );
      expect((await running).status).toBe(200);
    } finally {
      await slow.stop();
    }
  });

  it("leaves no process or directory behind", async () => {
    expect(await waitForNoLeftovers()).toEqual({ processes: [], dirs: [] });
  });

  it("logs each rejection as overload", () => {
    const lines = server.logs().match(/"outcome":"rejected\.overload"/g) ?? [];

    expect(lines).toHaveLength(BURST - 2);
  });
});
