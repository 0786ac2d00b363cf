-- The audit log is verified against an anchor kept outside the database
-- (see tongban_seal::chain): checkpoints state the interval they were
-- signed under (0 for those signed before it was part of the message), and
-- each hub key after the first carries the endorsement of an earlier one.
ALTER TABLE audit_checkpoints ADD COLUMN interval_entries INTEGER NOT NULL DEFAULT 0;

CREATE TABLE audit_key_endorsements (
    key_id          TEXT PRIMARY KEY,              -- the endorsed hub key
    endorsed_by     TEXT NOT NULL,                 -- the hub key that signed
    at_ms           INTEGER NOT NULL,
    signature       BLOB NOT NULL
);
