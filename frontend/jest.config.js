// jest.config.js — component and unit tests in jsdom, TS/TSX via @swc/jest.

module.exports = {
  testEnvironment: 'jsdom',
  roots: ['<rootDir>/tests'],
  testMatch: ['**/*.test.ts', '**/*.test.tsx'],
  setupFilesAfterEnv: ['<rootDir>/tests/jest-setup.js'],
  transform: {
    '^.+\\.(t|j)sx?$': ['@swc/jest', { jsc: { parser: { syntax: 'typescript', tsx: true }, transform: { react: { runtime: 'classic' } } } }],
    '^.+\\.mjs$': ['@swc/jest'],
  },
  // Many of @grafana/ui's dependencies ship ES modules only (react-calendar,
  // d3-*, ...); swc is fast and jest caches, so transform all of node_modules
  // except packages known to be large CommonJS.
  transformIgnorePatterns: ['node_modules/(monaco-editor|react-dom|@swc|lodash|moment)/'],
  moduleNameMapper: {
    '\\.(css|scss)$': '<rootDir>/tests/mocks/style.js',
    '^react-inlinesvg$': '<rootDir>/tests/mocks/react-inlinesvg.js',
  },
  // The query editor renders seven multi-selects and fourteen kinds; react-select in
  // jsdom is slow, more so on a loaded build machine (20 s was seen to run out).
  testTimeout: 60000,
};
