-- Certificates issued by the hub's certificate authority (X.509, for the
-- QUIC exchange's mutual TLS). Private keys are not stored here.
CREATE TABLE certificates (
    serial          TEXT PRIMARY KEY,              -- hex
    kind            TEXT NOT NULL,                 -- ca | server | client
    subject         TEXT NOT NULL,                 -- department code, server name, or the CA's name
    sans            TEXT NOT NULL,                 -- JSON array of subject alternative names
    not_before      BIGINT NOT NULL,
    not_after       BIGINT NOT NULL,
    pem             TEXT NOT NULL,
    revoked_at      BIGINT,
    revoked_reason  TEXT,
    created_at      BIGINT NOT NULL
);
CREATE INDEX certificates_subject ON certificates(subject, created_at);
