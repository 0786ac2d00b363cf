-- The tamper-evident audit log: a hash chain (see tongban_seal::chain) with
-- checkpoints signed by the hub's key.

-- The chain's head, one row; appenders lock it by updating it first.
CREATE TABLE audit_head (
    id              BIGINT PRIMARY KEY CHECK (id = 1),
    seq             BIGINT NOT NULL,
    hash            BYTEA NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, decode(repeat('00', 32), 'hex'));

CREATE TABLE audit_log (
    seq             BIGINT PRIMARY KEY,
    at_ms           BIGINT NOT NULL,
    actor           TEXT NOT NULL,
    action          TEXT NOT NULL,
    subject         TEXT NOT NULL,
    detail          TEXT NOT NULL,                 -- canonical JSON, hashed as stored
    prev_hash       BYTEA NOT NULL,
    hash            BYTEA NOT NULL
);
CREATE INDEX audit_log_subject ON audit_log(subject, seq);

CREATE TABLE audit_checkpoints (
    seq             BIGINT PRIMARY KEY,           -- the entry it covers
    hash            BYTEA NOT NULL,                 -- that entry's hash
    at_ms           BIGINT NOT NULL,
    key_id          TEXT NOT NULL,                 -- the hub key that signed it
    signature       BYTEA NOT NULL
);
