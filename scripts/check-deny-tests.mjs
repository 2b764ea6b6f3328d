#!/usr/bin/env node
// Checks that the sandbox tests can fail: runs test/sandbox against a service started with
// confinement switched off (CODEJAIL_UNCONFINED_FOR_TESTS) and requires every test named
// "deny ..." to fail and every other test to pass. A deny test that still passes without
// confinement does not test confinement. Exits non-zero and lists the offenders otherwise.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";

// Deny tests that the per-execution uid enforces as well, through ordinary file permissions: the
// execution root and its parents are root-owned 0711. The uid switch stays on without
// confinement, so that hostile test code never runs as root on the test machine.
const ALSO_DENIED_BY_UID = new Set([
  "filesystem deny listing ../",
  "filesystem deny listing /root",
  "filesystem deny writing ../x",
  "resources deny seeing other executions",
]);

// Files that the deny-writing tests create when confinement is off. A copy left by an earlier
// run belongs to another pool uid, so the next run's write fails for that reason instead.
const WRITTEN_WITHOUT_CONFINEMENT = ["/tmp/x", "/dev/shm/x"];
const removeWrittenFiles = () =>
  WRITTEN_WITHOUT_CONFINEMENT.forEach((file) => rmSync(file, { force: true }));

removeWrittenFiles();
const outputDir = mkdtempSync(path.join(os.tmpdir(), "deny-check-"));
const outputFile = path.join(outputDir, "results.json");
const jest = spawnSync(
  "npx",
  ["jest", "--runInBand", "--json", `--outputFile=${outputFile}`, "test/sandbox"],
  {
    stdio: ["ignore", "ignore", "inherit"],
    env: {
      ...process.env,
      SANDBOX_TESTS_UNCONFINED: "1",
      NODE_OPTIONS: "--experimental-vm-modules",
    },
  },
);
if (jest.error) {
  console.error(`check-deny-tests: could not run jest: ${jest.error.message}`);
  process.exit(2);
}

const results = JSON.parse(readFileSync(outputFile, "utf8"));
rmSync(outputDir, { recursive: true, force: true });
removeWrittenFiles();
const offenders = [];
let denyCount = 0;
let otherCount = 0;
for (const file of results.testResults) {
  for (const test of file.assertionResults) {
    const isDeny = test.title.startsWith("deny ");
    const isUidEnforced =
      ALSO_DENIED_BY_UID.has(test.fullName) ||
      /deny listing \/var\/lib\/codejail\//.test(test.fullName);
    const expected = isDeny && !isUidEnforced ? "failed" : "passed";
    denyCount += isDeny ? 1 : 0;
    otherCount += isDeny ? 0 : 1;
    if (test.status !== expected) {
      offenders.push(`${test.fullName}: ${test.status} without confinement, expected ${expected}`);
    }
  }
}

console.log(
  `check-deny-tests: ${denyCount} deny tests, ${otherCount} allow/support tests, ` +
    `${offenders.length} not as expected without confinement`,
);
for (const line of offenders) {
  console.log(`  ${line}`);
}
process.exit(offenders.length === 0 ? 0 : 1);
