"""The append-only, hash-chained audit log. It sits below every feature and imports none."""
