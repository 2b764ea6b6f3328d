/**
 * Validates the decoded `payload` field against the reference service's schema and reports the
 * problem it would report. codejail-service validates with python-jsonschema (4.25.0 pinned)
 * under Draft 2020-12 and returns the error that `jsonschema.exceptions.best_match` picks:
 * `Payload JSON did not match schema at path <json_path>: <message>`.
 *
 * The schema requires an object with the string `code` and the object `globals_dict`. Optional
 * properties are `python_path` (anyOf array of strings, null), `limit_overrides_context` and
 * `slug` (anyOf string, null) and `unsafely` (boolean). Other properties are allowed.
 */
import { z } from "zod";
import { RequestRejectedError } from "../errors.js";
import { toPythonRepr, toStrRepr } from "../json/repr.js";
import type { JsonObject, JsonValue } from "../json/value.js";

export type Payload = {
  code: string;
  globalsDict: JsonObject;
  pythonPath: string[];
  limitOverridesContext: string | null;
  slug: string | null;
  unsafely: boolean;
};

// JSON Schema type names, in the reference schema's property order: one name for `type`, a list
// for `anyOf` over single-type subschemas (the `array` one has string items).
const PROPERTY_TYPES: ReadonlyArray<readonly [string, string | readonly string[]]> = [
  ["code", "string"],
  ["globals_dict", "object"],
  ["python_path", ["array", "null"]],
  ["limit_overrides_context", ["string", "null"]],
  ["slug", ["string", "null"]],
  ["unsafely", "boolean"],
];

const isJsonObject = (value: unknown): value is JsonObject => value instanceof Map;

const PROPERTIES_SCHEMA = z.object({
  code: z.string(),
  globals_dict: z.custom<JsonObject>(isJsonObject),
  python_path: z.union([z.array(z.string()), z.null()]).optional(),
  limit_overrides_context: z.union([z.string(), z.null()]).optional(),
  slug: z.union([z.string(), z.null()]).optional(),
  unsafely: z.boolean().optional(),
});

// The decoded document is a Map, so its schema properties are copied into the plain object that
// z.object reads. Other properties are allowed and never looked at.
const PAYLOAD_SCHEMA = z
  .custom<JsonObject>(isJsonObject)
  .transform((map) => Object.fromEntries(PROPERTY_TYPES.map(([name]) => [name, map.get(name)])))
  .pipe(PROPERTIES_SCHEMA);

/** A python-jsonschema ValidationError, reduced to what `best_match` and the message use. */
type SchemaError = {
  /** Instance path relative to the parent error (jsonschema's `error.path`). */
  path: ReadonlyArray<string | number>;
  absolutePath: ReadonlyArray<string | number>;
  keyword: "type" | "required" | "anyOf";
  message: string;
  /** jsonschema's `_matches_type()`: the instance has the `type` of the failing schema. */
  matchesType: boolean;
  context: SchemaError[];
};

/** Returns the payload's fields, or throws RequestRejectedError with the reference's message. */
export function validatePayload(value: JsonValue): Payload {
  const result = PAYLOAD_SCHEMA.safeParse(value);
  if (!result.success) {
    const error = bestMatch(toSchemaErrors(value, result.error.issues));
    throw new RequestRejectedError(
      "rejected.payload.schema",
      `Payload JSON did not match schema at path ${toJsonPath(error.absolutePath)}: ` +
        error.message,
    );
  }

  const data = result.data;
  return {
    code: data.code,
    globalsDict: data.globals_dict,
    pythonPath: data.python_path ?? [],
    limitOverridesContext: data.limit_overrides_context ?? null,
    slug: data.slug ?? null,
    unsafely: data.unsafely ?? false,
  };
}

/**
 * Rebuilds the errors jsonschema's `iter_errors` yields, in its order: `type` for a non-object,
 * else `properties` errors in schema order, then `required` errors in the list's order.
 */
function toSchemaErrors(payload: JsonValue, issues: z.core.$ZodIssue[]): SchemaError[] {
  if (!(payload instanceof Map)) {
    return [typeError([], [], payload, "object")];
  }

  const propertyErrors: SchemaError[] = [];
  const requiredErrors: SchemaError[] = [];
  for (const [name, types] of PROPERTY_TYPES) {
    const issue = issues.find((candidate) => candidate.path[0] === name);
    if (issue === undefined) {
      continue;
    }

    const instance = payload.get(name);
    if (instance === undefined) {
      const message = `${toStrRepr(name)} is a required property`;
      requiredErrors.push({ ...leafError([], [], "required", message), matchesType: true });
    } else if (typeof types === "string") {
      propertyErrors.push(typeError([name], [name], instance, types));
    } else {
      const branchIssues = issue.code === "invalid_union" ? issue.errors : [];
      propertyErrors.push(anyOfError(name, instance, types, branchIssues));
    }
  }
  return [...propertyErrors, ...requiredErrors];
}

/** Builds an anyOf error whose context contains every branch's errors, as jsonschema does. */
function anyOfError(
  name: string,
  instance: JsonValue,
  types: readonly string[],
  branchIssues: z.core.$ZodIssue[][],
): SchemaError {
  const context = branchIssues.flatMap((issuesOfBranch, branch) =>
    issuesOfBranch.map((issue) => {
      // A path below the property can only be an index into the array of strings.
      const index = issue.path[0];
      return typeof index === "number" && Array.isArray(instance)
        ? typeError([index], [name, index], instance[index], "string")
        : typeError([], [name], instance, types[branch]);
    }),
  );
  const message = `${toPythonRepr(instance)} is not valid under any of the given schemas`;
  return { ...leafError([name], [name], "anyOf", message), context };
}

function typeError(
  path: SchemaError["path"],
  absolutePath: SchemaError["absolutePath"],
  instance: JsonValue,
  type: string,
): SchemaError {
  const message = `${toPythonRepr(instance)} is not of type ${toStrRepr(type)}`;
  return leafError(path, absolutePath, "type", message);
}

function leafError(
  path: SchemaError["path"],
  absolutePath: SchemaError["absolutePath"],
  keyword: SchemaError["keyword"],
  message: string,
): SchemaError {
  return { path, absolutePath, keyword, message, matchesType: false, context: [] };
}

/**
 * python-jsonschema 4.25's `best_match`: the most relevant error by `relevance` (the first one
 * among equals), then, while it has a context, the least relevant context error, stopping
 * where the two least relevant ones are equally relevant.
 * NOTE: best_match is a heuristic that python-jsonschema changes between releases. This follows
 * the 4.22-4.25 code, whose `relevance` includes the path and so picks the alphabetically last
 * of sibling property errors. Earlier releases prefer a non-anyOf error, then schema order.
 */
function bestMatch(errors: readonly SchemaError[]): SchemaError {
  let best = errors.at(0);
  if (best === undefined) {
    throw new Error("zod rejected the payload but no schema error was derived from its issues");
  }
  for (const error of errors) {
    if (compareRelevance(error, best) > 0) {
      best = error;
    }
  }

  while (best.context.length > 0) {
    const [least, second] = [...best.context].sort(compareRelevance);
    if (second !== undefined && compareRelevance(least, second) === 0) {
      return best;
    }
    best = least;
  }
  return best;
}

/**
 * Orders errors as Python orders their `relevance` tuples `(-len(path), path, keyword not weak,
 * keyword strong, not matches_type)`, where anyOf is weak and no keyword is strong.
 */
function compareRelevance(left: SchemaError, right: SchemaError): number {
  return (
    right.path.length - left.path.length ||
    comparePaths(left.path, right.path) ||
    Number(left.keyword !== "anyOf") - Number(right.keyword !== "anyOf") ||
    Number(!left.matchesType) - Number(!right.matchesType)
  );
}

/**
 * Compares paths as Python compares sequences. Paths compared here contain property names (ASCII,
 * so UTF-16 order is code point order) or array indices, never both at one position.
 */
function comparePaths(left: SchemaError["path"], right: SchemaError["path"]): number {
  for (let i = 0; i < Math.min(left.length, right.length); i++) {
    const [a, b] = [left[i], right[i]];
    if (typeof a === "number" && typeof b === "number") {
      if (a !== b) {
        return a - b;
      }
    } else if (a !== b) {
      return String(a) < String(b) ? -1 : 1;
    }
  }
  return left.length - right.length;
}

function toJsonPath(path: SchemaError["absolutePath"]): string {
  return "$" + path.map((part) => (typeof part === "number" ? `[${part}]` : `.${part}`)).join("");
}
