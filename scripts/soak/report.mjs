/**
 * The soak's targets and its printed report. Targets: /health/ still 200 after the load, no 5xx
 * except deliberate overload (503 with Retry-After), no wrong responses or failed connections,
 * execution directories and sandbox processes back to their baseline, open descriptors back to
 * their baseline within a small margin, resident memory under a peak and not growing in the
 * second half of the load, and a clean exit on SIGTERM when the soak started the service.
 */

/** Descriptors the service may hold beyond its baseline after the load (timers, log pipes). */
const FD_MARGIN = 5;
/**
 * Largest resident memory allowed during the load. infra/service.yaml gives an instance 2 GiB
 * for the service and 3 sandboxes of 512 MiB, which leaves 512 MiB for Node.js and the slot
 * filesystems.
 */
const MAX_RSS_PEAK_KIB = 512 * 1024;
/**
 * Growth allowed from the first half's peak to the second half's peak. Memory that keeps
 * growing once the heap has reached its working size is a leak.
 */
const MAX_RSS_TREND_KIB = 64 * 1024;

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
  const samples = footprint.rssSamplesKib;
  if (samples.length >= 4) {
    const peak = Math.max(...samples);
    const half = Math.floor(samples.length / 2);
    const trend = Math.max(...samples.slice(half)) - Math.max(...samples.slice(0, half));
    targets.push(target("RSS peak KiB", peak, `< ${MAX_RSS_PEAK_KIB}`, peak < MAX_RSS_PEAK_KIB));
    targets.push(
      target(
        "RSS peak growth, 2nd half KiB",
        trend,
        `< ${MAX_RSS_TREND_KIB}`,
        trend < MAX_RSS_TREND_KIB,
      ),
    );
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

/** Prints the report as text: counts, latency, footprint, problems and targets. */
export function printReport(report) {
  const sections = [
    formatCounts(report),
    formatFootprint(report),
    formatProblems(report),
    formatTargets(report),
  ];
  process.stdout.write(`${sections.map((lines) => lines.join("\n")).join("\n\n")}\n`);
}

function formatCounts({ settings, load, serviceOutcomes }) {
  const lines = [
    `soak: ${settings.clients} clients, ${load.requests} requests in ` +
      `${(load.elapsedMs / 1000).toFixed(1)} s (limits ${settings.durationMs / 1000} s, ` +
      `${settings.maxRequests} requests)`,
    "",
    "requests by kind: sent / ok / overloaded / problems",
  ];
  for (const [kind, counts] of Object.entries(load.byKind).sort()) {
    const columns = [counts.sent, counts.ok, counts.overloaded, counts.problems];
    lines.push(`  ${kind.padEnd(14)} ${columns.map((count) => pad(count)).join(" ")}`);
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
  );
  return lines;
}

function formatFootprint({ footprint, shutdown }) {
  const lines = ["footprint:            before     after"];
  for (const key of ["rssKib", "openFds", "executionDirs", "sandboxProcesses"]) {
    lines.push(
      `  ${key.padEnd(18)} ${pad(footprint.before[key], 9)} ${pad(footprint.after[key], 9)}`,
    );
  }

  const samples = footprint.rssSamplesKib;
  if (samples.length > 0) {
    lines.push(`  rssKib during load: min ${Math.min(...samples)}, max ${Math.max(...samples)}`);
  }
  if (shutdown !== null) {
    lines.push(
      "",
      `shutdown: exit code ${shutdown.exitCode}, drain ${shutdown.drainMs} ms, leftovers after ` +
        `exit: ${footprint.afterExit.executionDirs} dirs, ` +
        `${footprint.afterExit.sandboxProcesses} processes`,
    );
  }
  return lines;
}

function formatProblems({ load, serviceErrors }) {
  const lines = ["problems (first few):"];
  for (const sample of load.samples) {
    lines.push(`  ${sample.kind}, ${sample.problem}: ${sample.detail}`);
  }
  for (const line of serviceErrors) {
    lines.push(`  service error: ${line}`);
  }
  if (lines.length === 1) {
    lines.push("  none");
  }
  return lines;
}

function formatTargets({ targets }) {
  const lines = ["targets:"];
  for (const { name, value, expected, isMet } of targets) {
    lines.push(`  ${isMet ? "met   " : "MISSED"} ${name}: ${value} (target ${expected})`);
  }
  return lines;
}

function pad(value, width = 6) {
  return String(value ?? "n/a").padStart(width);
}
