"""Regulatory minimums that are part of the code, not of any deployment's configuration."""

from __future__ import annotations

# SEC 17a-4(b)(4) and FINRA 4511: business communications are kept at least three years. No setting, policy
# row or environment variable can lower this; a deployment may only keep longer.
RETENTION_FLOOR_DAYS = 3 * 365
