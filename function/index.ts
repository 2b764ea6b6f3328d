/**
 * Entry point for the Functions Framework: parses the configuration once at cold start (a bad
 * value stops the process with a message naming the variable) and registers the HTTP function
 * `codejail`, which serves POST /api/v0/code-exec and GET /health/.
 */
import * as functions from "@google-cloud/functions-framework";
import { parseConfig } from "./config.js";
import { log } from "./log.js";
import { CodejailService } from "./service/app.js";

const config = parseConfig();
log.info("Starting codejail service", {
  enabled: config.enabled,
  python: config.pythonPath,
  execRoot: config.execRoot,
  sandboxUids: `${config.sandboxUidBase}+${config.sandboxUidCount}`,
  limits: config.defaultLimits,
  limitOverrideContexts: Object.keys(config.limitOverrides).length,
});
const service = new CodejailService(config);

functions.http("codejail", (req, res) => service.handle(req, res));
