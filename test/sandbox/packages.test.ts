/**
 * The sandbox's Python packages work under confinement, as course code uses them.
 */
import { exec, type TestServer } from "../helpers/server.js";
import { startSandboxServer } from "../helpers/sandbox.js";

let server: TestServer;

beforeAll(async () => {
  server = await startSandboxServer({
    CODEJAIL_LIMITS: JSON.stringify({ REALTIME: 20, CPU: 15 }),
  });
});

afterAll(async () => {
  await server.stop();
});

describe("packages", () => {
  it("support numpy with OPENBLAS_NUM_THREADS=1", async () => {
    const code =
      "import numpy as np\nvalue = float(np.linalg.det(np.array([[1.0, 2.0], [3.0, 4.0]])))";
    const result = await exec(server.url, code);

    expect(result.emsg).toBeUndefined();
    expect(result.globals.value).toBeCloseTo(-2);
  });

  it("support matplotlib writing a PNG into tmp", async () => {
    const code = [
      "import os",
      "os.environ['MPLCONFIGDIR'] = os.path.join(os.getcwd(), 'tmp')",
      "import matplotlib",
      "matplotlib.use('Agg')",
      "import matplotlib.pyplot as plt",
      "plt.plot([1, 2, 3], [1, 4, 9])",
      "plt.savefig('tmp/plot.png')",
      "is_png = open('tmp/plot.png', 'rb').read(8) == b'\\x89PNG\\r\\n\\x1a\\n'",
    ].join("\n");
    const result = await exec(server.url, code);

    expect(result.emsg).toBeUndefined();
    expect(result.globals.is_png).toBe(true);
  });

  it.each([
    [
      "networkx",
      "import networkx as nx\nvalue = nx.shortest_path_length(nx.path_graph(4), 0, 3)",
      3,
    ],
    [
      "scipy",
      "from scipy import optimize\nvalue = round(float(optimize.brentq(lambda x: x - 2, 0, 5)))",
      2,
    ],
    [
      "sympy",
      "import sympy\nvalue = str(sympy.expand((sympy.Symbol('x') + 1) ** 2))",
      "x**2 + 2*x + 1",
    ],
    ["lxml", "from lxml import etree\nvalue = etree.fromstring('<a><b/></a>')[0].tag", "b"],
    ["six", "import six\nvalue = six.PY3", true],
  ])("support %s", async (_name, code, expected) => {
    const result = await exec(server.url, code);

    expect(result.emsg).toBeUndefined();
    expect(result.globals.value).toEqual(expected);
  });
});
