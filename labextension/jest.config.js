// The logic of the lab extension that runs without a browser: spec parsing, the handshake, the
// status text. (The panel, fork and the status item are tested in Chromium: tests/lab/.)
// tsconfig.test.json's isolatedModules: ts-jest transpiles each file (1.5 s, not 4.5 s); the
// sources are type-checked by the build (tsc), which every install runs.
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/src'],
  testMatch: ['**/__tests__/**/*.spec.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.test.json' }] }
};
