/**
 * Runs the clients: each sends one request at a time, picked from the workload, until the time
 * or the request budget is spent, and every response is sorted into ok, wrong response, overload,
 * other 5xx or connection failure. Connections are not kept alive, so open descriptors on the
 * service return to their baseline once the clients stop.
 */
import http from "node:http";
import { buildWorkload, createPicker } from "./workload.mjs";

const REQUEST_TIMEOUT_MS = 30_000;
const KEPT_SAMPLES = 5;
const OVERLOAD = /^\{"error":"Service is at capacity/;

/** Drives the service and returns counts per kind, problems with samples, and latencies. */
export async function runLoad(url, { durationMs, clients, maxRequests }) {
  const pickKind = createPicker(buildWorkload());
  const deadline = Date.now() + durationMs;
  const stats = {
    requests: 0,
    byKind: {},
    overloaded: 0,
    wrongResponses: 0,
    serverErrors: 0,
    connectionErrors: 0,
    samples: [],
    latenciesMs: [],
  };
  const startedMs = Date.now();

  const client = async () => {
    while (Date.now() < deadline && stats.requests < maxRequests) {
      stats.requests += 1;
      const kind = pickKind();
      const request = kind.request();
      const sentMs = performance.now();
      const reply = await post(url, request).catch((error) => ({ error }));
      const latencyMs = performance.now() - sentMs;
      record(stats, kind, request, reply, latencyMs);
    }
  };
  await Promise.all(Array.from({ length: clients }, client));

  const latencies = stats.latenciesMs.sort((a, b) => a - b);
  delete stats.latenciesMs;
  return {
    ...stats,
    elapsedMs: Date.now() - startedMs,
    latencyMs: {
      p50: percentile(latencies, 0.5),
      p90: percentile(latencies, 0.9),
      p99: percentile(latencies, 0.99),
      max: latencies.length === 0 ? null : Math.round(latencies.at(-1)),
    },
  };
}

function record(stats, kind, request, reply, latencyMs) {
  const counts = (stats.byKind[kind.name] ??= { sent: 0, ok: 0, overloaded: 0, problems: 0 });
  counts.sent += 1;
  if (reply.error !== undefined) {
    stats.connectionErrors += 1;
    counts.problems += 1;
    keepSample(stats, kind.name, "connection", String(reply.error));
    return;
  }

  const { status, text } = reply;
  if (status === 503 && OVERLOAD.test(text)) {
    stats.overloaded += 1;
    counts.overloaded += 1;
    return;
  }

  stats.latenciesMs.push(latencyMs);
  if (status >= 500) {
    stats.serverErrors += 1;
    counts.problems += 1;
    keepSample(stats, kind.name, `status ${status}`, text);
  } else if (!kind.check(status, text, request)) {
    stats.wrongResponses += 1;
    counts.problems += 1;
    keepSample(stats, kind.name, `wrong response, status ${status}`, text);
  } else {
    counts.ok += 1;
  }
}

function keepSample(stats, kind, problem, detail) {
  if (stats.samples.length < KEPT_SAMPLES) {
    stats.samples.push({ kind, problem, detail: detail.slice(0, 300) });
  }
}

function percentile(sorted, fraction) {
  if (sorted.length === 0) {
    return null;
  }
  const index = Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1);
  return Math.round(sorted[Math.max(0, index)]);
}

/** Posts one body on a fresh connection; resolves with the status and the body text. */
function post(url, { contentType, body }) {
  return new Promise((resolve, reject) => {
    const request = http.request(
      `${url}/api/v0/code-exec`,
      {
        method: "POST",
        agent: false,
        headers: { "content-type": contentType, "content-length": body.length },
        timeout: REQUEST_TIMEOUT_MS,
      },
      (response) => {
        const chunks = [];
        response.on("data", (chunk) => chunks.push(chunk));
        response.on("end", () =>
          resolve({ status: response.statusCode, text: Buffer.concat(chunks).toString("utf8") }),
        );
        response.on("error", reject);
      },
    );
    request.on("timeout", () => request.destroy(new Error("no response within 30 s")));
    request.on("error", reject);
    request.end(body);
  });
}
