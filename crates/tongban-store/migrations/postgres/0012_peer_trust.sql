-- The trust list each peer hub last served (全域通办): kept so that every
-- node of this hub verifies the peer's licences offline with the same
-- list, and so that a restart does not lose it. A list is stored only
-- after it verified against the peer's anchor; a failed refresh keeps the
-- previous list and records why it failed.
CREATE TABLE peer_trust (
    region_code     TEXT PRIMARY KEY,
    trust_file      TEXT,                          -- canonical JSON, NULL until one verified
    sha256          TEXT,
    fetched_at      BIGINT,                        -- when the stored list was fetched
    valid_until     BIGINT,                        -- the stored list's validUntil
    attempted_at    BIGINT NOT NULL,               -- the last refresh attempt
    failure         TEXT,                          -- CODE: message of the last failed attempt
    failures        BIGINT NOT NULL DEFAULT 0      -- failed attempts since the last success
);
