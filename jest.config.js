// Jest runs in native ESM mode (node --experimental-vm-modules) because
// @kubernetes/client-node 2.x ships ESM only. @swc/jest only transpiles;
// `tsc --noEmit` type-checks separately (TypeScript 7 has no JS API for ts-jest).
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': [
      '@swc/jest',
      {
        jsc: { parser: { syntax: 'typescript' }, target: 'es2023' },
        module: { type: 'es6' },
      },
    ],
  },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  // Every summary a test notes is checked against the shipped JSON Schema (test/support/summary-check.ts).
  setupFilesAfterEnv: ['<rootDir>/test/support/summary-check-setup.ts'],
  testTimeout: 30000,
};
