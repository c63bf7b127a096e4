"""Forum moderation: the flag queue, hide/restore/lock/pin/move, and the public moderation log."""
