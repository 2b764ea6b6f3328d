/**
 * Policy checks that the schema cannot express, in the reference service's order and with its
 * exact messages. They keep the sandbox's inputs to what edxapp really sends: an arbitrary
 * `python_path` entry would let the code read outside its directory, and an arbitrary file name
 * would write outside it.
 */
import { RequestRejectedError } from "../errors.js";

export const LIBRARY_NAME = "python_lib.zip";

export type PolicyInput = Readonly<{
  pythonPath: readonly string[];
  fileNames: Iterable<string>;
  unsafely: boolean;
}>;

/** Throws RequestRejectedError for the first policy the request breaks. */
export function validatePolicy(input: PolicyInput): void {
  if (input.pythonPath.some((entry) => entry !== LIBRARY_NAME)) {
    throw new RequestRejectedError(
      "rejected.python_path",
      "Only allowed entry in 'python_path' is 'python_lib.zip'",
    );
  }

  for (const name of input.fileNames) {
    if (name !== LIBRARY_NAME) {
      throw new RequestRejectedError(
        "rejected.files",
        "Only allowed name for uploaded file is 'python_lib.zip'",
      );
    }
  }

  if (input.unsafely) {
    throw new RequestRejectedError(
      "rejected.unsafely",
      "Refusing codejail execution with unsafely=true",
    );
  }
}
