/**
 * validatePolicy: the checks a schema cannot express, in the reference service's order and with
 * its exact messages.
 */
import { RequestRejectedError } from "../../function/errors.js";
import { LIBRARY_NAME, validatePolicy, type PolicyInput } from "../../function/payload/policy.js";

const ALLOWED: PolicyInput = { pythonPath: [], fileNames: [], unsafely: false };
const PYTHON_PATH = "Only allowed entry in 'python_path' is 'python_lib.zip'";
const FILE_NAME = "Only allowed name for uploaded file is 'python_lib.zip'";
const UNSAFELY = "Refusing codejail execution with unsafely=true";

function rejection(input: PolicyInput): RequestRejectedError {
  try {
    validatePolicy(input);
  } catch (error) {
    if (error instanceof RequestRejectedError) {
      return error;
    }
    throw error;
  }
  throw new Error("the policy accepted the input");
}

describe("validatePolicy", () => {
  it("names the library python_lib.zip", () => {
    expect(LIBRARY_NAME).toBe("python_lib.zip");
  });

  it.each<[string, Partial<PolicyInput>]>([
    ["nothing", {}],
    ["the library on the path", { pythonPath: ["python_lib.zip"] }],
    ["the library twice on the path", { pythonPath: ["python_lib.zip", "python_lib.zip"] }],
    ["the library file", { fileNames: ["python_lib.zip"] }],
    ["both", { pythonPath: ["python_lib.zip"], fileNames: new Set(["python_lib.zip"]) }],
  ])("accepts %s", (_name, input) => {
    expect(() => validatePolicy({ ...ALLOWED, ...input })).not.toThrow();
  });

  it.each<[string, Partial<PolicyInput>, string, string]>([
    ["an absolute path entry", { pythonPath: ["/etc"] }, "rejected.python_path", PYTHON_PATH],
    [
      "a parent path entry",
      { pythonPath: ["../python_lib.zip"] },
      "rejected.python_path",
      PYTHON_PATH,
    ],
    ["an empty path entry", { pythonPath: [""] }, "rejected.python_path", PYTHON_PATH],
    [
      "a second path entry",
      { pythonPath: ["python_lib.zip", "x"] },
      "rejected.python_path",
      PYTHON_PATH,
    ],
    ["another file name", { fileNames: ["evil.zip"] }, "rejected.files", FILE_NAME],
    ["a traversing file name", { fileNames: ["../python_lib.zip"] }, "rejected.files", FILE_NAME],
    ["a second file", { fileNames: ["python_lib.zip", "x"] }, "rejected.files", FILE_NAME],
    ["a differently cased name", { fileNames: ["PYTHON_LIB.ZIP"] }, "rejected.files", FILE_NAME],
    ["unsafely", { unsafely: true }, "rejected.unsafely", UNSAFELY],
  ])("rejects %s", (_name, input, code, message) => {
    const error = rejection({ ...ALLOWED, ...input });

    expect(error.status).toBe(400);
    expect(error.code).toBe(code);
    expect(error.message).toBe(message);
  });

  it("checks python_path before file names", () => {
    const error = rejection({ pythonPath: ["x"], fileNames: ["y"], unsafely: true });

    expect(error.message).toBe(PYTHON_PATH);
  });

  it("checks file names before unsafely", () => {
    const error = rejection({ pythonPath: [], fileNames: ["y"], unsafely: true });

    expect(error.message).toBe(FILE_NAME);
  });
});
