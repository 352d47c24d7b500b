"""The games Parley knows. A new game is one module here with a KIND object, added to KINDS."""

from __future__ import annotations

from games.kinds import chess, connect_four, tictactoe
from games.kinds.base import GameKind

KINDS: dict[str, GameKind] = {module.KIND.name: module.KIND for module in (tictactoe, connect_four, chess)}
