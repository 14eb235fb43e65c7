import type { Config } from 'jest';

// Type-checking is `pnpm typecheck`'s job; ts-jest only transpiles here, which
// keeps the suite fast.
const transform: Config['transform'] = {
  '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.jest.json' }],
};
const moduleNameMapper = {
  // Prisma's generated client imports its own files with `.js` suffixes.
  '^(\\.{1,2}/.*)\\.js$': '$1',
  '^@mosaic/orchestrator-contract$': '<rootDir>/packages/orchestrator-contract/src/index.ts',
  '^@mosaic/observability$': '<rootDir>/packages/observability/src/index.ts',
  '^@mosaic/http-kit$': '<rootDir>/packages/http-kit/src/index.ts',
  '^@mosaic/embedded-postgres$': '<rootDir>/packages/embedded-postgres/src/index.ts',
  '^@mosaic/fake-model$': '<rootDir>/packages/fake-model/src/index.ts',
};
const common = { transform, moduleNameMapper, testEnvironment: 'node' };

const config: Config = {
  // One file at a time: the system and e2e files bound times and watch process tables on a machine
  // they have to themselves (docs/testing.md: side by side they were 30 % faster and flaky).
  maxWorkers: 1,
  // Each file's module registry (Nest apps, Prisma clients, fast-check) is not all freed after it: one long-lived
  // process grew ~35 MB a file and died of a 4 GB heap in CI. A worker past this after a file is replaced.
  workerIdleMemoryLimit: '1GB',
  // A cap, not a bound: hooks start services, and a busy machine may take seconds. Jest reads it for the whole run only.
  testTimeout: 30_000,
  // Starts (or creates) the PostgreSQL database the integration and end-to-end
  // tiers use; see test/support/global-setup.ts.
  globalSetup: '<rootDir>/test/support/global-setup.ts',
  globalTeardown: '<rootDir>/test/support/global-teardown.ts',
  projects: [
    {
      ...common,
      displayName: 'unit',
      testMatch: ['<rootDir>/{apps,packages}/*/src/**/*.spec.ts', '<rootDir>/test/docs/**/*.spec.ts'],
    },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/{apps,packages}/*/src/**/*.int-spec.ts'],
    },
    {
      ...common,
      displayName: 'e2e',
      testMatch: ['<rootDir>/test/e2e/**/*.e2e-spec.ts'],
      slowTestThreshold: 30,
    },
    {
      ...common,
      // Real processes with injected faults; one file, its scenarios one after another (see test/system/).
      displayName: 'system',
      testMatch: ['<rootDir>/test/system/**/*.system-spec.ts'],
      slowTestThreshold: 300,
    },
    {
      ...common,
      // The operators' page in a real chromium (test/support/browser.ts) against the built services.
      displayName: 'browser',
      testMatch: ['<rootDir>/test/browser/**/*.browser-spec.ts'],
      slowTestThreshold: 30,
    },
  ],
};

export default config;
