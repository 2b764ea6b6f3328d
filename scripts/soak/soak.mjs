#!/usr/bin/env node
/**
 * Soak test: drives a real service on loopback with concurrent clients that send a mix of
 * normal, failing, slow, oversized and hostile requests, for a bounded time and count. It then
 * reports responses by kind, 5xx other than deliberate overload and latency percentiles. It also
 * reports the service's memory, descriptors, execution directories and sandbox processes before
 * and after.
 *
 *   node scripts/soak/soak.mjs [--short] [--duration-s N] [--clients N] [--max-requests N]
 *                              [--max-queue N] [--url URL [--pid PID]] [--json]
 *
 * Without --url it starts the compiled service (run `npm run build` first) with the sandbox
 * uids and execution root of TEST_SANDBOX_NAMESPACE, as the test helpers do, and a short queue
 * (--max-queue, default 2) so that the clients also meet deliberate overload; it stops the
 * service with SIGTERM at the end. With --url it drives a running service, and reads that
 * service's memory and descriptors only when --pid names its process. Exit status 0 when every
 * target is met, 1 otherwise.
 */
import { parseArgs } from "node:util";
import { readFootprint, sampleRss, waitForQuiet } from "./probe.mjs";
import { runLoad } from "./load.mjs";
import { startService } from "./server.mjs";
import { evaluateTargets, printReport } from "./report.mjs";

const SETTLE_TIMEOUT_MS = 15_000;
const RSS_SAMPLE_INTERVAL_MS = 2000;

const { values: args } = parseArgs({
  options: {
    short: { type: "boolean", default: false },
    "duration-s": { type: "string" },
    clients: { type: "string" },
    "max-requests": { type: "string" },
    "max-queue": { type: "string", default: "2" },
    url: { type: "string" },
    pid: { type: "string" },
    json: { type: "boolean", default: false },
  },
});

const namespace = Number(process.env.TEST_SANDBOX_NAMESPACE ?? "0");
const isolation = {
  uidBase: Number(process.env.CODEJAIL_SANDBOX_UID_BASE ?? 2_002_717_000 + namespace * 1000),
  uidCount: 64,
  execRoot:
    process.env.CODEJAIL_EXEC_ROOT ??
    (namespace === 0 ? "/var/lib/codejail/exec" : `/var/lib/codejail/exec-test-${namespace}`),
};
const settings = {
  durationMs: 1000 * Number(args["duration-s"] ?? (args.short ? 20 : 300)),
  clients: Number(args.clients ?? (args.short ? 6 : 12)),
  maxRequests: Number(args["max-requests"] ?? (args.short ? 2000 : 100_000)),
};
for (const [name, value] of Object.entries(settings)) {
  if (!Number.isInteger(value) || value <= 0) {
    throw new Error(`Invalid setting ${name}: ${value}; expected a positive whole number`);
  }
}
if (
  args.url !== undefined &&
  !/^http:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?\/?$/.test(args.url)
) {
  throw new Error(`--url must be a loopback http URL, got ${args.url}`);
}

const service =
  args.url === undefined
    ? await startService({ ...isolation, env: { CODEJAIL_MAX_QUEUE: args["max-queue"] } })
    : {
        url: args.url.replace(/\/$/, ""),
        pid: args.pid === undefined ? undefined : Number(args.pid),
        outcomes: undefined,
        errorLines: undefined,
        stop: undefined,
      };
const probe = { ...isolation, pid: service.pid };

let report;
try {
  // One warm-up request, so the baseline includes the service's first-use allocations.
  await fetch(`${service.url}/api/v0/code-exec`, {
    method: "POST",
    body: new URLSearchParams({ payload: '{"code": "x = 1", "globals_dict": {}}' }),
  });
  const before = await readFootprint(probe);
  const stopSampling = sampleRss(service.pid, RSS_SAMPLE_INTERVAL_MS);
  const load = await runLoad(service.url, settings);
  const rssSamplesKib = stopSampling();
  const after = await waitForQuiet(probe, SETTLE_TIMEOUT_MS);
  const health = await fetch(`${service.url}/health/`).then(
    (response) => response.status,
    () => null,
  );
  const shutdown = service.stop === undefined ? undefined : await service.stop();
  const afterExit = shutdown === undefined ? undefined : await waitForQuiet(probe, 5000);
  report = {
    settings,
    load,
    healthAfter: health,
    serviceOutcomes: service.outcomes === undefined ? null : Object.fromEntries(service.outcomes),
    serviceErrors: service.errorLines ?? [],
    footprint: { before, after, afterExit: afterExit ?? null, rssSamplesKib },
    shutdown: shutdown ?? null,
  };
  report.targets = evaluateTargets(report);
} catch (error) {
  await service.stop?.();
  throw error;
}

if (args.json) {
  process.stdout.write(`${JSON.stringify(report)}\n`);
} else {
  printReport(report);
}
process.exitCode = report.targets.every((target) => target.isMet) ? 0 : 1;
