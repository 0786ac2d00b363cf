-- The exchange: resources (who may exchange what), messages, deliveries
-- (store and forward), durable topic subscriptions.

CREATE TABLE resources (
    id              TEXT PRIMARY KEY,
    provider        TEXT NOT NULL REFERENCES departments(code),
    schema          TEXT NOT NULL,                 -- id@version of the payload
    allowed         TEXT NOT NULL,                 -- JSON array of department codes, or ["*"]
    description     TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);

-- The hub-wide arrival counter, one row; writers lock it by updating it.
CREATE TABLE message_head (
    id              BIGINT PRIMARY KEY CHECK (id = 1),
    seq             BIGINT NOT NULL
);
INSERT INTO message_head (id, seq) VALUES (1, 0);

CREATE TABLE messages (
    seq             BIGINT NOT NULL UNIQUE,       -- arrival order
    sender          TEXT NOT NULL,
    id              TEXT NOT NULL,                 -- envelope id, unique per sender
    kind            TEXT NOT NULL,                 -- message | request | response
    recipient       TEXT,
    topic           TEXT,
    resource        TEXT NOT NULL,
    schema          TEXT NOT NULL,
    envelope        TEXT NOT NULL,                 -- as signed
    digest          TEXT NOT NULL,                 -- hex SHA-256 of the signed bytes
    sent_at_ms      BIGINT NOT NULL,
    received_at_ms  BIGINT NOT NULL,
    PRIMARY KEY (sender, id)
);

CREATE TABLE deliveries (
    recipient       TEXT NOT NULL,
    seq             BIGINT NOT NULL,              -- the message's seq
    state           TEXT NOT NULL,                 -- pending | delivered
    acked_at_ms     BIGINT,
    PRIMARY KEY (recipient, seq)
);
CREATE INDEX deliveries_pending ON deliveries(recipient, state, seq);

CREATE TABLE subscriptions (
    department      TEXT NOT NULL,
    topic           TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (department, topic)
);
CREATE INDEX subscriptions_topic ON subscriptions(topic);
