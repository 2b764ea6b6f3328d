/**
 * Two services on one host, each with its own sandbox uids and execution root, must not share
 * their executions' process budget: an execution of one must be able to fork its NPROC share
 * while an execution of the other uses its own share.
 */
import { execText, SECOND_SERVICE_ENV, startServer, type TestServer } from "../helpers/server.js";
import { waitForStartedExecution } from "./support.js";

/** Forks `count` children that sleep, marks itself started, and sleeps until they end. */
function forkSleepersCode(count: number, seconds: number): string {
  return [
    "import os, time",
    `for i in range(${count}):`,
    "    if os.fork() == 0:",
    `        time.sleep(${seconds})`,
    "        os._exit(0)",
    "open('tmp/started', 'w').close()",
    `time.sleep(${seconds})`,
    `forked = ${count}`,
  ].join("\n");
}

let first: TestServer;
let second: TestServer;

beforeAll(async () => {
  first = await startServer();
  second = await startServer(SECOND_SERVICE_ENV);
});

afterAll(async () => {
  await second.stop();
  await first.stop();
});

describe("services side by side", () => {
  it("keep separate process budgets", async () => {
    // Executions fill slots from the lowest number, so the second service's executions take
    // slot numbers that the first service's holders also use.
    const holders = [1, 2, 3, 4].map(() => execText(first.url, forkSleepersCode(10, 2)));
    await waitForStartedExecution(4);
    const responses = await Promise.all(
      [1, 2].map(() => execText(second.url, forkSleepersCode(10, 0.5))),
    );

    for (const response of responses) {
      expect(response.status).toBe(200);
      expect(response.text).toBe('{"globals_dict":{"i":9,"forked":10}}');
    }
    for (const holder of await Promise.all(holders)) {
      expect(holder.text).toBe('{"globals_dict":{"i":9,"forked":10}}');
    }
  });
});
