// The logic of the lab extension that runs without a browser: spec parsing, the handshake, the
// status text. (The panel, fork and the status item are tested in Chromium: tests/lab/.)
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/src'],
  testMatch: ['**/__tests__/**/*.spec.ts'],
  transform: { '^.+\\.ts$': ['ts-jest', { tsconfig: 'tsconfig.test.json' }] }
};
