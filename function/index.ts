/**
 * Entry point for the Functions Framework: parses the configuration once at cold start (a bad
 * value stops the process with a message naming the variable), registers the HTTP function
 * `codejail`, which serves POST /api/v0/code-exec and GET /health/, and drains on SIGTERM.
 */
import * as functions from "@google-cloud/functions-framework";
import { parseConfig } from "./config.js";
import { log } from "./log.js";
import { limitFrameworkBodyParsers } from "./request/framework-limits.js";
import { configurePrivilege } from "./sandbox/privilege.js";
import { CodejailService } from "./service/app.js";
import { installGracefulShutdown } from "./service/shutdown.js";

const config = parseConfig();
configurePrivilege(config);
limitFrameworkBodyParsers(config.maxBodyBytes);
log.info("Starting codejail service", {
  enabled: config.enabled,
  python: config.pythonPath,
  execRoot: config.execRoot,
  sandboxUids: `${config.sandboxUidBase}+${config.sandboxUidCount}`,
  limits: config.defaultLimits,
  limitOverrideContexts: config.limitOverrides.size,
  maxConcurrent: config.maxConcurrent,
  privilege: config.launcherPath === undefined ? "direct (root)" : config.launcherPath,
});
if (config.unconfinedForTests) {
  log.error("CODEJAIL_UNCONFINED_FOR_TESTS is set: code runs WITHOUT confinement (tests only)");
}
const service = new CodejailService(config);
installGracefulShutdown(() => service.drain());

functions.http("codejail", (req, res) => service.handle(req, res));
