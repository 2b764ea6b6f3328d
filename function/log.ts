/**
 * Structured logging: one JSON object per line on stdout, in the shape Cloud Logging reads
 * (`severity`, `message`, and the trace field when the request carries a trace id). Submitted
 * code, globals and program output are never passed here.
 */
type Severity = "DEBUG" | "INFO" | "WARNING" | "ERROR";
export type LogFields = Record<string, string | number | boolean | null | undefined | object>;

const TRACE_FIELD = "logging.googleapis.com/trace";

function write(severity: Severity, message: string, fields: LogFields): void {
  const entry = { severity, message, time: new Date().toISOString(), ...fields };
  process.stdout.write(`${JSON.stringify(entry)}\n`);
}

export const log = {
  debug: (message: string, fields: LogFields = {}) => write("DEBUG", message, fields),
  info: (message: string, fields: LogFields = {}) => write("INFO", message, fields),
  warning: (message: string, fields: LogFields = {}) => write("WARNING", message, fields),
  error: (message: string, fields: LogFields = {}) => write("ERROR", message, fields),
};

/**
 * Returns the Cloud Logging trace field for a request's `X-Cloud-Trace-Context` header
 * (`TRACE_ID/SPAN_ID;o=1`), or nothing when the header or the project id is absent.
 */
export function toTraceFields(header: string | undefined): LogFields {
  const project = process.env.GOOGLE_CLOUD_PROJECT;
  const traceId = header?.split("/")[0];
  if (project === undefined || traceId === undefined || !/^[0-9a-f]{32}$/i.test(traceId)) {
    return {};
  }

  return { [TRACE_FIELD]: `projects/${project}/traces/${traceId}` };
}

/** Describes an error for a log line: name, message and the chain of causes, no stack. */
export function describeError(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; current !== undefined && depth < 5; depth += 1) {
    const reason =
      current instanceof Error && "reason" in current ? ` (${String(current.reason)})` : "";
    parts.push(
      current instanceof Error ? `${current.name}: ${current.message}${reason}` : String(current),
    );
    current = current instanceof Error ? current.cause : undefined;
  }
  return parts.join(" <- ");
}
