// Jest runs the TypeScript sources as ES modules, because execa is ESM-only. The npm test script
// sets NODE_OPTIONS=--experimental-vm-modules, which Jest 29 needs for ES modules.
export default {
  testEnvironment: "node",
  extensionsToTreatAsEsm: [".ts"],
  moduleNameMapper: { "^(\\.{1,2}/.*)\\.js$": "$1" },
  transform: {
    "^.+\\.ts$": ["ts-jest", { useESM: true, tsconfig: "tsconfig.test.json" }],
  },
  testMatch: ["<rootDir>/test/**/*.test.ts"],
  testTimeout: 30000,
};
