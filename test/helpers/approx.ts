// Float comparison for tests. Not chai's `closeTo`: Hardhat's chai-matchers plugin (loaded by any
// test file that imports it, so by the whole `npm test` run) overrides `closeTo`/`approximately`
// for bigints only and rejects non-integer numbers.
import { expect } from "chai";

export function expectClose(actual: number, expected: number, tolerance: number, what = ""): void {
  const label = what ? `${what}: ` : "";
  expect(Number.isFinite(actual), `${label}${actual} is not finite`).to.equal(true);
  expect(
    Math.abs(actual - expected) <= tolerance,
    `${label}expected ${actual} to be within ${tolerance} of ${expected}`,
  ).to.equal(true);
}
