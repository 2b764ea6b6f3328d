// Expected messages were produced by python-jsonschema's Draft202012Validator on the reference
// schema (Debian's 4.10.3, whose messages and json_path match 4.25), with `best_match` as
// python-jsonschema 4.22-4.25 implements it. The multi-error cases depend on that version.
import { RequestRejectedError } from "../../function/errors.js";
import { parsePythonJson } from "../../function/json/parse.js";
import { PyInt } from "../../function/json/value.js";
import { validatePayload } from "../../function/payload/schema.js";

const PREFIX = "Payload JSON did not match schema at path ";

function rejectionOf(text: string): unknown {
  try {
    validatePayload(parsePythonJson(text));
  } catch (error) {
    return error;
  }
  throw new Error(`payload accepted: ${text}`);
}

const SINGLE_ERRORS: ReadonlyArray<readonly [string, string]> = [
  ["{}", "$: 'code' is a required property"],
  ['{"globals_dict": {}}', "$: 'code' is a required property"],
  ['{"code": ""}', "$: 'globals_dict' is a required property"],
  ["[]", "$: [] is not of type 'object'"],
  ['"x"', "$: 'x' is not of type 'object'"],
  ["null", "$: None is not of type 'object'"],
  ["1.0", "$: 1.0 is not of type 'object'"],
  ["NaN", "$: nan is not of type 'object'"],
  ['{"code": 1, "globals_dict": {}}', "$.code: 1 is not of type 'string'"],
  ['{"code": "", "globals_dict": []}', "$.globals_dict: [] is not of type 'object'"],
  [
    '{"code": "", "globals_dict": {}, "python_path": [1]}',
    "$.python_path[0]: 1 is not of type 'string'",
  ],
  [
    '{"code": "", "globals_dict": {}, "python_path": [[1, "a"], "b"]}',
    "$.python_path[0]: [1, 'a'] is not of type 'string'",
  ],
  [
    '{"code": "", "globals_dict": {}, "python_path": "x"}',
    "$.python_path: 'x' is not valid under any of the given schemas",
  ],
  [
    '{"code": "", "globals_dict": {}, "python_path": {"a": [1, 2.5]}}',
    "$.python_path: {'a': [1, 2.5]} is not valid under any of the given schemas",
  ],
  [
    '{"code": "", "globals_dict": {}, "slug": 5}',
    "$.slug: 5 is not valid under any of the given schemas",
  ],
  [
    '{"code": "", "globals_dict": {}, "slug": {"k": "it\'s \\"q\\""}}',
    "$.slug: {'k': 'it\\'s \"q\"'} is not valid under any of the given schemas",
  ],
  [
    '{"code": "", "globals_dict": {}, "limit_overrides_context": ["it\'s"]}',
    '$.limit_overrides_context: ["it\'s"] is not valid under any of the given schemas',
  ],
  [
    '{"code": "", "globals_dict": {}, "unsafely": "yes"}',
    "$.unsafely: 'yes' is not of type 'boolean'",
  ],
  [
    '{"code": "", "globals_dict": {}, "unsafely": null}',
    "$.unsafely: None is not of type 'boolean'",
  ],
];

// best_match prefers the shallowest error, then (python-jsonschema 4.22-4.25) the greatest path,
// so the alphabetically last property; inside anyOf it descends to the first failing item.
const SEVERAL_ERRORS: ReadonlyArray<readonly [string, string]> = [
  ['{"unsafely": "x"}', "$: 'code' is a required property"],
  ['{"code": 1}', "$: 'globals_dict' is a required property"],
  ['{"code": 1, "globals_dict": []}', "$.globals_dict: [] is not of type 'object'"],
  [
    '{"code": 1, "globals_dict": {}, "slug": 2, "unsafely": 0}',
    "$.unsafely: 0 is not of type 'boolean'",
  ],
  [
    '{"code": "", "globals_dict": {}, "python_path": [1], "slug": 2}',
    "$.slug: 2 is not valid under any of the given schemas",
  ],
  [
    '{"globals_dict": {}, "python_path": [1], "code": 5}',
    "$.python_path[0]: 1 is not of type 'string'",
  ],
  [
    '{"code": "", "globals_dict": {}, "python_path": ["python_lib.zip", 2, 3]}',
    "$.python_path[1]: 2 is not of type 'string'",
  ],
  [
    '{"code": "", "globals_dict": {}, "python_path": [null, [], {}]}',
    "$.python_path[0]: None is not of type 'string'",
  ],
  [
    '{"code": "", "globals_dict": {}, "unsafely": 1e400,' +
      ' "limit_overrides_context": 12345678901234567890}',
    "$.unsafely: inf is not of type 'boolean'",
  ],
];

describe("validatePayload rejections", () => {
  it.each([...SINGLE_ERRORS, ...SEVERAL_ERRORS])("%s", (text, detail) => {
    const error = rejectionOf(text);

    expect(error).toBeInstanceOf(RequestRejectedError);
    expect(error).toMatchObject({ code: "rejected.payload.schema", status: 400 });
    expect((error as RequestRejectedError).message).toBe(PREFIX + detail);
  });
});

describe("validatePayload accepted payloads", () => {
  it("fills defaults for absent optional fields", () => {
    const payload = validatePayload(parsePythonJson('{"code": "x = 1", "globals_dict": {"x": 1}}'));

    expect(payload).toEqual({
      code: "x = 1",
      globalsDict: new Map([["x", new PyInt("1")]]),
      pythonPath: [],
      limitOverridesContext: null,
      slug: null,
      unsafely: false,
    });
  });

  it("reads every field and ignores unknown ones", () => {
    const text =
      '{"code": "", "globals_dict": {}, "python_path": ["python_lib.zip"], "extra": [1],' +
      ' "limit_overrides_context": "course-v1:x", "slug": "problem", "unsafely": true}';

    expect(validatePayload(parsePythonJson(text))).toEqual({
      code: "",
      globalsDict: new Map(),
      pythonPath: ["python_lib.zip"],
      limitOverridesContext: "course-v1:x",
      slug: "problem",
      unsafely: true,
    });
  });

  it("treats null optional fields as absent", () => {
    const text =
      '{"code": "", "globals_dict": {}, "python_path": null,' +
      ' "limit_overrides_context": null, "slug": null}';

    expect(validatePayload(parsePythonJson(text))).toMatchObject({
      pythonPath: [],
      limitOverridesContext: null,
      slug: null,
    });
  });

  it("returns the decoded globals unchanged", () => {
    const document = parsePythonJson('{"code": "", "globals_dict": {"b": 1, "a": [2.0]}}');
    const globals = (document as Map<string, unknown>).get("globals_dict");

    expect(validatePayload(document).globalsDict).toBe(globals);
  });

  it("uses the last of repeated keys as Python does", () => {
    const payload = validatePayload(
      parsePythonJson('{"code": 1, "code": "x", "globals_dict": {}}'),
    );

    expect(payload.code).toBe("x");
  });
});
