-- Departments (部门): one organisation with a USCC, in one region, at one platform level.
CREATE TABLE departments (
    code            TEXT PRIMARY KEY,              -- 统一社会信用代码
    name            TEXT NOT NULL,
    region_code     TEXT NOT NULL,                 -- GB/T 2260
    platform_level  TEXT NOT NULL,                 -- district | town | village
    parent_code     TEXT REFERENCES departments(code),
    contact         TEXT,
    status          TEXT NOT NULL DEFAULT 'active',-- active | suspended | retired
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);

-- Public halves of signing keys; secrets live in the node's key store.
CREATE TABLE signing_keys (
    key_id          TEXT PRIMARY KEY,              -- Multikey of the public key
    owner           TEXT NOT NULL,                 -- department code, or 'hub'
    controller      TEXT NOT NULL,                 -- urn:uscc:… / urn:tongban:hub:…
    not_before      BIGINT NOT NULL,
    not_after       BIGINT,
    revoked_at      BIGINT,
    revoked_reason  TEXT,
    created_at      BIGINT NOT NULL
);
CREATE INDEX signing_keys_owner ON signing_keys(owner, not_before);

-- Registered JSON Schemas (licence types and message payloads), immutable once published.
CREATE TABLE schemas (
    id              TEXT NOT NULL,
    version         TEXT NOT NULL,
    kind            TEXT NOT NULL,                 -- licence-type | message
    title           TEXT NOT NULL,
    content         TEXT NOT NULL,                 -- the schema document (JSON)
    sha256          TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (id, version)
);

-- Per-issuer counter: serials and status-list positions.
CREATE TABLE issuer_counters (
    issuer_code     TEXT PRIMARY KEY,
    next_index      BIGINT NOT NULL
);

-- Status list bitstrings (W3C Bitstring Status List), per issuer, purpose and sequence.
CREATE TABLE status_lists (
    issuer_code     TEXT NOT NULL,
    purpose         TEXT NOT NULL,                 -- revocation | suspension
    sequence        BIGINT NOT NULL,
    bits            BYTEA NOT NULL,
    updated_at      BIGINT NOT NULL,
    PRIMARY KEY (issuer_code, purpose, sequence)
);

-- Issued licences (电子证照).
CREATE TABLE licences (
    identifier      TEXT PRIMARY KEY,              -- 证照标识 (GB/T 36904)
    issuer_code     TEXT NOT NULL,
    type_code       TEXT NOT NULL,
    type_version    TEXT NOT NULL,
    number          TEXT NOT NULL,                 -- 证照编号
    holder_code_type TEXT NOT NULL,
    holder_code     TEXT NOT NULL,
    holder_name     TEXT NOT NULL,
    valid_from      BIGINT NOT NULL,
    valid_until     BIGINT,
    status          TEXT NOT NULL DEFAULT 'valid', -- valid | suspended | revoked
    list_sequence   BIGINT NOT NULL,
    status_index    BIGINT NOT NULL,
    credential      TEXT NOT NULL,                 -- the signed VC (JSON)
    attachment_sha256 TEXT,
    issued_at       BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX licences_holder ON licences(holder_code_type, holder_code, type_code);
CREATE INDEX licences_issuer ON licences(issuer_code, issued_at);
CREATE UNIQUE INDEX licences_status_slot ON licences(issuer_code, list_sequence, status_index);

-- Status changes (注销 / 中止 / 恢复).
CREATE TABLE licence_status_events (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    identifier      TEXT NOT NULL REFERENCES licences(identifier),
    action          TEXT NOT NULL,                 -- revoke | suspend | reinstate
    reason          TEXT NOT NULL,
    actor           TEXT NOT NULL,
    at              BIGINT NOT NULL
);
CREATE INDEX licence_status_events_licence ON licence_status_events(identifier);

-- Licence-use records (用证记录): who asked, for what, when, what came back.
CREATE TABLE licence_uses (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at              BIGINT NOT NULL,
    requester       TEXT NOT NULL,
    use_cause       TEXT NOT NULL,                 -- 申请事由
    query_kind      TEXT NOT NULL,                 -- identifier | holder
    query           TEXT NOT NULL,
    case_ref        TEXT,                          -- 办件 reference, when a case asked
    returned        BIGINT NOT NULL
);
CREATE INDEX licence_uses_requester ON licence_uses(requester, at);
CREATE TABLE licence_use_items (
    use_id          BIGINT NOT NULL REFERENCES licence_uses(id),
    identifier      TEXT NOT NULL,
    PRIMARY KEY (use_id, identifier)
);
CREATE INDEX licence_use_items_licence ON licence_use_items(identifier);

-- Blobs (attachments) known to the store; the bytes live in the object store.
CREATE TABLE blobs (
    sha256          TEXT PRIMARY KEY,
    size            BIGINT NOT NULL,
    media_type      TEXT NOT NULL,
    created_at      BIGINT NOT NULL
);

-- Small key/value settings of this hub (region, hub identity, ...).
CREATE TABLE settings (
    name            TEXT PRIMARY KEY,
    value           TEXT NOT NULL
);
