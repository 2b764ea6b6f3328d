/**
 * The soak's targets and its printed report. Targets: /health/ still 200 after the load, no 5xx
 * except deliberate overload (503 with Retry-After), no wrong responses or failed connections, execution directories and sandbox
 * processes back to their baseline, open descriptors back to their baseline within a small
 * margin, resident memory growth bounded, and a clean exit on SIGTERM when the soak started the
 * service.
 */

/** Descriptors the service may hold beyond its baseline after the load (timers, log pipes). */
const FD_MARGIN = 5;
/** Resident memory growth allowed over the run: heap growth, not a leak per request. */
const MAX_RSS_GROWTH_KIB = 150 * 1024;

export function evaluateTargets({ load, healthAfter, footprint, shutdown }) {
  const { before, after, afterExit } = footprint;
  const targets = [
    target("health after load", healthAfter, 200, healthAfter === 200),
    target("5xx other than overload", load.serverErrors, 0, load.serverErrors === 0),
    target("wrong responses", load.wrongResponses, 0, load.wrongResponses === 0),
    target("connection failures", load.connectionErrors, 0, load.connectionErrors === 0),
    target(
      "execution dirs after",
      after.executionDirs,
      before.executionDirs,
      after.executionDirs <= before.executionDirs,
    ),
    target(
      "sandbox processes after",
      after.sandboxProcesses,
      before.sandboxProcesses,
      after.sandboxProcesses <= before.sandboxProcesses,
    ),
  ];
  if (before.openFds !== null && after.openFds !== null) {
    const limit = before.openFds + FD_MARGIN;
    targets.push(target("open fds after", after.openFds, `<= ${limit}`, after.openFds <= limit));
  }
  if (before.rssKib !== null && after.rssKib !== null) {
    const growth = after.rssKib - before.rssKib;
    const bound = `< ${MAX_RSS_GROWTH_KIB}`;
    targets.push(target("RSS growth KiB", growth, bound, growth < MAX_RSS_GROWTH_KIB));
  }
  if (shutdown !== null) {
    const exitCode = shutdown.exitCode;
    targets.push(target("exit code on SIGTERM", exitCode, 0, exitCode === 0));
    const leftovers = afterExit.executionDirs + afterExit.sandboxProcesses;
    targets.push(target("leftovers after exit", leftovers, 0, leftovers === 0));
  }
  return targets;
}

function target(name, value, expected, isMet) {
  return { name, value, expected, isMet };
}

export function printReport(report) {
  const { settings, load, serviceOutcomes, footprint, shutdown, targets } = report;
  const lines = [
    `soak: ${settings.clients} clients, ${load.requests} requests in ` +
      `${(load.elapsedMs / 1000).toFixed(1)} s (limits ${settings.durationMs / 1000} s, ` +
      `${settings.maxRequests} requests)`,
    "",
    "requests by kind: sent / ok / overloaded / problems",
  ];
  for (const [kind, counts] of Object.entries(load.byKind).sort()) {
    lines.push(
      `  ${kind.padEnd(14)} ${pad(counts.sent)} ${pad(counts.ok)} ${pad(counts.overloaded)} ` +
        pad(counts.problems),
    );
  }
  if (serviceOutcomes !== null) {
    lines.push("", "service outcome labels:");
    for (const [outcome, count] of Object.entries(serviceOutcomes).sort()) {
      lines.push(`  ${outcome.padEnd(32)} ${pad(count)}`);
    }
  }
  const latency = load.latencyMs;
  lines.push(
    "",
    `latency ms (responses other than overload): p50 ${latency.p50}  p90 ${latency.p90}  ` +
      `p99 ${latency.p99}  max ${latency.max}`,
    "",
    "footprint:            before     after",
  );
  for (const key of ["rssKib", "openFds", "executionDirs", "sandboxProcesses"]) {
    lines.push(
      `  ${key.padEnd(18)} ${pad(footprint.before[key], 9)} ${pad(footprint.after[key], 9)}`,
    );
  }
  if (shutdown !== null) {
    lines.push(
      "",
      `shutdown: exit code ${shutdown.exitCode}, drain ${shutdown.drainMs} ms, leftovers after ` +
        `exit: ${footprint.afterExit.executionDirs} dirs, ` +
        `${footprint.afterExit.sandboxProcesses} processes`,
    );
  }
  for (const sample of load.samples) {
    lines.push(`  sample problem (${sample.kind}, ${sample.problem}): ${sample.detail}`);
  }
  for (const line of report.serviceErrors) {
    lines.push(`  service error: ${line}`);
  }
  lines.push("", "targets:");
  for (const { name, value, expected, isMet } of targets) {
    lines.push(`  ${isMet ? "met   " : "MISSED"} ${name}: ${value} (target ${expected})`);
  }
  process.stdout.write(`${lines.join("\n")}\n`);
}

function pad(value, width = 6) {
  return String(value ?? "n/a").padStart(width);
}
