import { PyFloat, PyInt } from "../../function/json/value.js";

describe("PyInt", () => {
  it.each([
    ["0", "0"],
    ["-0", "0"],
    ["007", "7"],
    ["-007", "-7"],
    ["-000", "0"],
    ["12345678901234567890123456789", "12345678901234567890123456789"],
  ])("canonicalizes %j", (text, digits) => {
    expect(new PyInt(text).digits).toBe(digits);
  });

  it.each(["", "-", "+1", "1.0", "1e3", " 1", "0x10", "١"])("rejects %j", (text) => {
    expect(() => new PyInt(text)).toThrow(TypeError);
  });

  it("converts to and from bigint", () => {
    const big = -(10n ** 40n) - 1n;

    expect(PyInt.fromBigInt(big).digits).toBe("-10000000000000000000000000000000000000001");
    expect(new PyInt("-10000000000000000000000000000000000000001").toBigInt()).toBe(big);
  });
});

describe("PyFloat", () => {
  it("keeps the double, negative zero included", () => {
    expect(Object.is(new PyFloat(-0).value, -0)).toBe(true);
    expect(new PyFloat(NaN).value).toBeNaN();
  });
});
