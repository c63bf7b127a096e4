"""Live town halls: scheduling, the moderated question queue, and the public transcript."""
