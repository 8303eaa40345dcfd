import { defineConfig } from "@playwright/test";

// End-to-end tests drive Debian's Chromium (browser downloads are not part
// of this project's setup) against a freshly built service on port 8089 (or LATCH_E2E_PORT).
// Set LATCH_E2E_NO_SERVER=1 to run only the specs that need no service
// (the client library against a mocked service, the TOTP helper).
const startServer = !process.env.LATCH_E2E_NO_SERVER;
// LATCH_E2E_PORT moves the service off 8089, so two runs can share a machine.
const port = process.env.LATCH_E2E_PORT || "8089";

export default defineConfig({
  testDir: "e2e",
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: "list",
  timeout: 60_000,
  expect: { timeout: 10_000 },
  use: {
    baseURL: `http://localhost:${port}`,
    headless: true,
    trace: "retain-on-failure",
  },
  projects: [
    {
      name: "chromium",
      use: {
        browserName: "chromium",
        launchOptions: {
          executablePath: "/usr/bin/chromium",
          args: [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
          ],
        },
      },
    },
  ],
  webServer: startServer
    ? {
        command: "bash e2e/serve.sh",
        url: `http://localhost:${port}/healthz`,
        reuseExistingServer: false,
        timeout: 180_000,
        // SIGTERM (not the default SIGKILL) lets serve.sh stop the service
        // cleanly and delete its temporary data directory.
        gracefulShutdown: { signal: "SIGTERM", timeout: 10_000 },
        stdout: "pipe",
        stderr: "pipe",
      }
    : undefined,
});
