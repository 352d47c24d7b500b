"""Signals the messenger sends for the apps above it, which it may not import (docs/architecture.md, "Layers"):
they connect receivers here instead, as games does to forfeit a leaver's games."""

from __future__ import annotations

from django.dispatch import Signal

# Someone is out of a room (they left, were removed, or IT removed them): sent by do_member_remove inside its
# transaction, after the membership row is gone and before the removal is archived, with `membership` (deleted,
# its conversation_id and user still set) and `actor`. Receivers write in that transaction: both or neither.
member_removed = Signal()
