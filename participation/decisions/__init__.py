"""Decision records: an append-only, hash-chained public record of what was decided and why."""
