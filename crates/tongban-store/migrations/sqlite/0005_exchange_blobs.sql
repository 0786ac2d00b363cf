-- Large payloads: envelopes may reference a blob by digest instead of
-- carrying the payload. A department may reference a blob only after it
-- has uploaded the bytes itself (proof of possession); it may download a
-- blob it holds or one that a message it sent or received references.

CREATE TABLE blob_holders (
    sha256          TEXT NOT NULL REFERENCES blobs(sha256),
    department      TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (sha256, department)
);

ALTER TABLE messages ADD COLUMN payload_sha256 TEXT;
CREATE INDEX messages_payload ON messages(payload_sha256) WHERE payload_sha256 IS NOT NULL;
