"""The truth of what was published: one row per (day, event, account, part), its state,
idempotency key and remote ids; the journal; append-only schema migrations."""
