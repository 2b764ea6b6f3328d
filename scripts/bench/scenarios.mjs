// The benchmark's requests: each scenario builds one request body and checks its response, so a
// run that measures errors instead of executions is noticed. The edxapp scenario sends the
// fixture that test/http/contract.test.ts checks, with its course library, as multipart.
import { readFile } from "node:fs/promises";
import path from "node:path";

/** The limit override set that the benchmark's own services get, for a short timeout. */
export const TIMEOUT_CONTEXT = "bench-timeout";
export const TIMEOUT_LIMITS = { [TIMEOUT_CONTEXT]: { REALTIME: 1 } };

const PNG_CODE = [
  "import os",
  "os.environ['MPLCONFIGDIR'] = os.path.join(os.getcwd(), 'tmp')",
  "import matplotlib",
  "matplotlib.use('Agg')",
  "import matplotlib.pyplot as plt",
  "plt.plot([1, 2, 3], [1, 4, 9])",
  "plt.savefig('tmp/plot.png')",
  "is_png = open('tmp/plot.png', 'rb').read(8) == b'\\x89PNG\\r\\n\\x1a\\n'",
].join("\n");

/** Builds the scenarios; `root` is the repository, for the edxapp fixture. */
export async function buildScenarios(root) {
  const fixtures = path.join(root, "test", "fixtures");
  const edxappPayload = await readFile(path.join(fixtures, "answer-with-library.payload.json"));
  const library = await readFile(path.join(fixtures, "python_lib.zip"));
  return [
    codeScenario("trivial", "x = x + 1", { x: 16 }, (body) => body.globals_dict?.x === 17),
    {
      name: "edxapp",
      toRequest: () => {
        const form = new FormData();
        form.append("payload", edxappPayload.toString("utf8"));
        form.append("python_lib.zip", new Blob([library]), "python_lib.zip");
        return { body: form };
      },
      isExpected: (body) => body.globals_dict?.correct?.[0] === "correct",
    },
    codeScenario(
      "numpy",
      "import numpy as np\nvalue = float(np.linalg.det(np.array([[1.0, 2.0], [3.0, 4.0]])))",
      {},
      (body) => Math.abs(body.globals_dict?.value + 2) < 1e-9,
    ),
    codeScenario(
      "sympy",
      "import sympy\nx = sympy.Symbol('x')\nvalue = str(sympy.expand((x + 1) ** 2))",
      {},
      (body) => body.globals_dict?.value === "x**2 + 2*x + 1",
    ),
    codeScenario("matplotlib", PNG_CODE, {}, (body) => body.globals_dict?.is_png === true),
    codeScenario(
      "timeout",
      "import time\ntime.sleep(30)",
      {},
      (body) => /status code: -9$/.test(body.emsg ?? ""),
      TIMEOUT_CONTEXT,
    ),
  ];
}

function codeScenario(name, code, globals, isExpected, context = null) {
  const payload = JSON.stringify({
    code,
    globals_dict: globals,
    limit_overrides_context: context,
  });
  return {
    name,
    toRequest: () => ({ body: new URLSearchParams({ payload }) }),
    isExpected,
  };
}
