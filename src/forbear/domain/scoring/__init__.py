"""Risk scoring: scorecards, tiers, reason codes, early warning, propensity, monitoring."""
