#!/usr/bin/env node
// Latency and throughput of the code-exec endpoint for each executor: for every scenario
// (scenarios.mjs) and concurrency level, p50/p90/p99 latency and executions per second, the
// fresh/prewarmed ratio, and the service's peak resident memory (Node plus its templates).
//
//   npm run bench -- [--executors prewarmed,fresh] [--scenarios trivial,numpy,...]
//                    [--concurrency 1,2,8] [--requests 100] [--max-seconds 10]
//                    [--uid-base N] [--exec-root DIR] [--port N]
//   npm run bench -- --url http://host:port     (a running service; no memory figures)
//   npm run bench -- --launcher                  (the image's privilege split: see below)
//
// Without --url it starts the real service itself, once per executor, as root (it needs the
// provisioned sandbox, like npm test), and sends requests to 127.0.0.1 only. Each cell stops
// after --requests requests or --max-seconds, whichever comes first, so a run is bounded.
// With --launcher the service runs as the image's web user (uid 10001) and reaches the sandbox
// through the set-user-ID launcher that provisioning installs. It then uses the launcher's own uid
// pool and execution root (/etc/codejail/launcher.conf), and --uid-base and --exec-root are unused.
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { buildScenarios, TIMEOUT_LIMITS } from "./scenarios.mjs";
import { sampleRss, startService, stopService } from "./service.mjs";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const WARMUP_REQUESTS = 3;
/** The launcher, web user, uid pool and execution root that provisioning sets up. */
const LAUNCHER_SETUP = {
  launcher: "/opt/codejail/bin/codejail-launch",
  runAs: { uid: 10001, gid: 10001 },
  uidBase: 2002717000,
  execRoot: "/var/lib/codejail/exec",
};

const { values: options } = parseArgs({
  options: {
    url: { type: "string" },
    executors: { type: "string", default: "prewarmed,fresh" },
    scenarios: { type: "string" },
    concurrency: { type: "string", default: "1,2,8" },
    requests: { type: "string", default: "100" },
    "max-seconds": { type: "string", default: "10" },
    "uid-base": { type: "string", default: "2002730000" },
    "exec-root": { type: "string", default: "/var/lib/codejail/exec-bench" },
    port: { type: "string", default: "18480" },
    launcher: { type: "boolean", default: false },
  },
});

const levels = options.concurrency.split(",").map(Number);
const maxRequests = Number(options.requests);
const maxMs = Number(options["max-seconds"]) * 1000;
let scenarios = await buildScenarios(ROOT);
if (options.scenarios !== undefined) {
  const requested = options.scenarios.split(",");
  scenarios = scenarios.filter((scenario) => requested.includes(scenario.name));
}

printMachine();
const results = [];
const peaks = new Map();
const targets = options.url === undefined ? options.executors.split(",") : ["remote"];
for (const executor of targets) {
  const service =
    options.url === undefined
      ? await startService({
          root: ROOT,
          port: Number(options.port),
          executor,
          ...(options.launcher ? LAUNCHER_SETUP : {}),
          ...(options.launcher
            ? {}
            : { uidBase: Number(options["uid-base"]), execRoot: options["exec-root"] }),
          env: {
            CODEJAIL_LIMIT_OVERRIDES: JSON.stringify(TIMEOUT_LIMITS),
            ...(options.launcher ? { CODEJAIL_LAUNCHER: LAUNCHER_SETUP.launcher } : {}),
          },
        })
      : { url: options.url.replace(/\/+$/, "") };
  const stopSampling = service.child === undefined ? undefined : sampleRss(service.child.pid);
  try {
    for (const scenario of scenarios) {
      await runCell(service.url, scenario, 1, WARMUP_REQUESTS, maxMs);
      for (const concurrency of levels) {
        const cell = await runCell(service.url, scenario, concurrency, maxRequests, maxMs);
        results.push({ executor, scenario: scenario.name, concurrency, ...cell });
        printRow(results.at(-1));
      }
    }
  } finally {
    if (stopSampling !== undefined) {
      peaks.set(executor, await stopSampling());
    }
    if (service.child !== undefined) {
      await stopService(service);
    }
  }
}
printRatios(results);
for (const [executor, bytes] of peaks) {
  console.log(`peak RSS ${executor}: ${(bytes / 1024 / 1024).toFixed(0)} MiB (Node + templates)`);
}

/** Sends `maxRequests` requests from `concurrency` workers, or as many as fit in `maxMs`. */
async function runCell(url, scenario, concurrency, maxRequests, maxMs) {
  const latencies = [];
  let errors = 0;
  let firstError;
  let issued = 0;
  const started = performance.now();
  const worker = async () => {
    while (issued < maxRequests && performance.now() - started < maxMs) {
      issued += 1;
      const requestStarted = performance.now();
      try {
        const response = await fetch(`${url}/api/v0/code-exec`, {
          method: "POST",
          ...scenario.toRequest(),
        });
        const text = await response.text();
        latencies.push(performance.now() - requestStarted);
        if (response.status !== 200 || !scenario.isExpected(JSON.parse(text))) {
          errors += 1;
          firstError ??= `${response.status} ${text.slice(0, 300)}`;
        }
      } catch (error) {
        errors += 1;
        firstError ??= String(error);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    count: latencies.length,
    errors,
    firstError,
    p50: percentile(latencies, 0.5),
    p90: percentile(latencies, 0.9),
    p99: percentile(latencies, 0.99),
    perSecond: latencies.length / seconds,
  };
}

/** Nearest-rank percentile of sorted values. */
function percentile(sorted, share) {
  if (sorted.length === 0) {
    return NaN;
  }
  return sorted[Math.min(sorted.length - 1, Math.ceil(share * sorted.length) - 1)];
}

function printMachine() {
  const cpus = os.cpus();
  console.log(
    `machine: ${cpus.length} x ${cpus[0]?.model ?? "unknown CPU"}, ` +
      `${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, Linux ${os.release()}, Node ${process.version}`,
  );
  console.log(`command: ${process.argv.slice(2).join(" ") || "(defaults)"}`);
  console.log(
    "| executor | scenario | concurrency | requests | errors | p50 ms | p90 ms | p99 ms | exec/s |",
  );
  console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
}

function printRow(row) {
  const ms = (value) => (Number.isNaN(value) ? "-" : value.toFixed(1));
  console.log(
    `| ${row.executor} | ${row.scenario} | ${row.concurrency} | ${row.count} | ${row.errors} | ` +
      `${ms(row.p50)} | ${ms(row.p90)} | ${ms(row.p99)} | ${row.perSecond.toFixed(1)} |`,
  );
  if (row.firstError !== undefined) {
    console.log(`  first error: ${row.firstError}`);
  }
}

function printRatios(rows) {
  const find = (executor, row) =>
    rows.find(
      (r) =>
        r.executor === executor && r.scenario === row.scenario && r.concurrency === row.concurrency,
    );
  const pairs = rows
    .filter((row) => row.executor === "fresh")
    .map((fresh) => [fresh, find("prewarmed", fresh)])
    .filter(([, prewarmed]) => prewarmed !== undefined);
  if (pairs.length === 0) {
    return;
  }
  console.log("\n| scenario | concurrency | p50 fresh/prewarmed | exec/s prewarmed/fresh |");
  console.log("| --- | --- | --- | --- |");
  for (const [fresh, prewarmed] of pairs) {
    console.log(
      `| ${fresh.scenario} | ${fresh.concurrency} | ${(fresh.p50 / prewarmed.p50).toFixed(1)} | ` +
        `${(prewarmed.perSecond / fresh.perSecond).toFixed(1)} |`,
    );
  }
}
