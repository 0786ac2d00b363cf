-- The tamper-evident audit log: a hash chain (see tongban_seal::chain) with
-- checkpoints signed by the hub's key.

-- The chain's head, one row; appenders lock it by updating it first.
CREATE TABLE audit_head (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    seq             INTEGER NOT NULL,
    hash            BLOB NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, zeroblob(32));

CREATE TABLE audit_log (
    seq             INTEGER PRIMARY KEY,
    at_ms           INTEGER NOT NULL,
    actor           TEXT NOT NULL,
    action          TEXT NOT NULL,
    subject         TEXT NOT NULL,
    detail          TEXT NOT NULL,                 -- canonical JSON, hashed as stored
    prev_hash       BLOB NOT NULL,
    hash            BLOB NOT NULL
);
CREATE INDEX audit_log_subject ON audit_log(subject, seq);

CREATE TABLE audit_checkpoints (
    seq             INTEGER PRIMARY KEY,           -- the entry it covers
    hash            BLOB NOT NULL,                 -- that entry's hash
    at_ms           INTEGER NOT NULL,
    key_id          TEXT NOT NULL,                 -- the hub key that signed it
    signature       BLOB NOT NULL
);
