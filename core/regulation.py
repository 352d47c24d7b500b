"""Regulatory minimums that are part of the code, not of any deployment's configuration."""

from __future__ import annotations

# SEC 17a-4(b)(4) and FINRA 4511: business communications are kept at least three years. No setting, policy
# row or environment variable can lower this; a deployment may only keep longer.
RETENTION_FLOOR_DAYS = 3 * 365

# FINRA 4511(b): records for which no other period is specified are kept six years. The default retention (what
# applies to an entry no room or group policy covers) may therefore never be shorter than this.
DEFAULT_RETENTION_FLOOR_DAYS = 6 * 365
