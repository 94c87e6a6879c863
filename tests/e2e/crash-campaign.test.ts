import { describe, expect, it } from 'vitest';
import { planBin } from '../support/cli.js';
import { runCrashCampaign } from '../support/crash-campaign.js';

// The short crash campaign of `npm test`: ≥ 10 SIGKILLs at seeded random moments of the full plan pipeline
// (--speed fast) against the fake model server, each round resumed to completion and checked against an
// uninterrupted build, a person's edits made between kills kept (see tests/support/crash-campaign.ts for the invariants). The long one:
// `node bench/crash-campaign.js --kills 100`. CRASH_CAMPAIGN_SEED replays another seed.

const seed = Number(process.env.CRASH_CAMPAIGN_SEED ?? 20260301);

describe('crash campaign (short)', () => {
  it(`kill -9 at ≥ 10 random moments (seed ${seed}): every resume ends equal to an uninterrupted build, nothing paid twice`, async () => {
    const result = await runCrashCampaign({ kills: 10, seed, speed: 'fast', planBin });
    console.log(result.summary);
    expect(result.violations).toEqual([]);
    expect(result.kills).toBeGreaterThanOrEqual(10);
    expect(result.resumes).toBeGreaterThanOrEqual(result.kills);
    // The kills did land inside builds with work in flight: attempts were abandoned and their tasks run again.
    expect(result.abandoned).toBeGreaterThan(0);
    // A person edited end products between kills, and every edit was kept (checked in the invariants).
    expect(result.edits).toBeGreaterThan(0);
  }, 150_000);
});
