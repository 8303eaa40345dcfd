// The accessibility scan the page specs share: axe-core with the WCAG 2.1
// A and AA rules, failing on any serious or critical violation, with a
// full-page screenshot of the state attached to the report and, with
// LATCH_SHOTS=DIR, written to DIR to look at.

import { writeFileSync } from "node:fs";
import { join } from "node:path";
import AxeBuilder from "@axe-core/playwright";
import { expect, test, type Page } from "@playwright/test";

/** The widths every page is looked at: a desktop window and a phone. */
export const layouts = [
  { name: "desktop", width: 1280, height: 800 },
  { name: "phone", width: 390, height: 844 },
] as const;

/** The colour schemes every page is looked at. */
export const schemes = ["light", "dark"] as const;

/** scan runs axe on the page as it is and records a screenshot named state. */
export async function scan(page: Page, state: string): Promise<void> {
  const results = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]).analyze();
  const serious = results.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
  const shot = await page.screenshot({ fullPage: true });
  await test.info().attach(`${state}.png`, { body: shot, contentType: "image/png" });
  if (process.env.LATCH_SHOTS) writeFileSync(join(process.env.LATCH_SHOTS, `${state}.png`), shot);
  expect(serious, `${state}: serious or critical accessibility violations`).toEqual([]);
}
