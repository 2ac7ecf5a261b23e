import { defineConfig } from "vitest/config"

/** Suites that also run against the embedded default (TEST_DATABASE=embedded, see test/support/TestDatabase.ts). */
const onEmbeddedToo = [
  "test/integration/TokenVault.test.ts",
  "test/integration/WebhookFaults.test.ts",
  "test/e2e/Webhooks.test.ts",
  "test/e2e/OAuth.test.ts",
  "test/e2e/WebhookBadInput.test.ts",
  "test/e2e/TokensAndRequests.test.ts",
  "test/e2e/SyncInbound.test.ts",
  "test/e2e/Mappings.test.ts"
]

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
    fileParallelism: true,
    maxWorkers: 2,
    projects: [
      { extends: true, test: { name: "postgres", include: ["test/**/*.test.ts"] } },
      { extends: true, test: { name: "embedded", include: onEmbeddedToo, env: { TEST_DATABASE: "embedded" } } }
    ]
  }
})
