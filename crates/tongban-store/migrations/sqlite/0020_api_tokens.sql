-- API tokens of the hub's HTTP side: who may call it and as what role.
-- Only the SHA-256 of a token's secret is kept; the token itself is shown
-- once, when it is made. A revoked or expired token keeps its row (the
-- audit log names it).
CREATE TABLE api_tokens (
    id              TEXT PRIMARY KEY,              -- tok_ and 16 hex digits
    name            TEXT NOT NULL,                 -- what it is for, in words
    role            TEXT NOT NULL
        CHECK (role IN ('region-admin', 'department-operator', 'auditor', 'verifier')),
    department      TEXT,                          -- the operator's department
    secret_sha256   TEXT NOT NULL,                 -- hex
    created_at      BIGINT NOT NULL,
    created_by      TEXT NOT NULL,
    expires_at      BIGINT NOT NULL,
    revoked_at      BIGINT,
    CHECK ((role = 'department-operator') = (department IS NOT NULL))
);
