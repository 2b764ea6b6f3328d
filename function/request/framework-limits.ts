/**
 * Bounds what the Functions Framework buffers before the handler runs. The framework (version 5)
 * reads every body with body-parser, up to 1 GiB, and decompresses gzip, deflate and br bodies on
 * the way, so a small compressed request could fill the instance's memory before any limit of
 * ours applied. Its parsers are created when the server starts, after this module loaded, so
 * wrapping body-parser's factories here makes them refuse compressed bodies (415) and bodies over
 * twice CODEJAIL_MAX_BODY_BYTES (413). Bodies between the two limits reach parseForm, which
 * rejects them with the usual JSON 413.
 *
 * NOTE: those refusals come from Express's default error handler, as HTML, not as our JSON.
 */
import { createRequire } from "node:module";

type ParserFactory = (options?: Record<string, unknown>) => unknown;
type BodyParser = Record<"json" | "text" | "urlencoded" | "raw", ParserFactory>;

const PARSER_NAMES = ["json", "text", "urlencoded", "raw"] as const;

/** Makes every body parser the framework creates from now on refuse compressed or large bodies. */
export function limitFrameworkBodyParsers(maxBodyBytes: number): void {
  const require = createRequire(import.meta.url);
  const bodyParser = require("body-parser") as BodyParser;
  for (const name of PARSER_NAMES) {
    const create = bodyParser[name];
    bodyParser[name] = (options = {}) =>
      create({ ...options, inflate: false, limit: maxBodyBytes });
  }
}
