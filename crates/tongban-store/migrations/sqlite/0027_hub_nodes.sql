-- Several `tongban serve` nodes on one database: which nodes are up
-- (a heartbeat in the database's own clock), which of them have listeners
-- of which provider, and requests relayed from the node a requester is
-- connected to to the node its provider listens on. Only PostgreSQL hubs
-- use them (a SQLite hub is one node); the migration list is shared.
CREATE TABLE hub_nodes (
    node_id         TEXT PRIMARY KEY,              -- random, chosen at start
    started_at      BIGINT NOT NULL,               -- unix ms, database clock
    seen_at         BIGINT NOT NULL                -- unix ms, last heartbeat
);
CREATE TABLE node_listeners (
    department      TEXT NOT NULL,                 -- the provider listening
    node_id         TEXT NOT NULL,
    listeners       BIGINT NOT NULL,               -- its listen streams there
    PRIMARY KEY (department, node_id)
);
CREATE INDEX node_listeners_node ON node_listeners (node_id);
CREATE TABLE node_relays (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    from_node       TEXT NOT NULL,                 -- the requester's node
    to_node         TEXT NOT NULL,                 -- the provider's node
    requester       TEXT NOT NULL,
    request_id      TEXT NOT NULL,
    provider        TEXT NOT NULL,
    resource        TEXT NOT NULL,
    delivery        BIGINT NOT NULL,               -- the request's delivery number
    envelope        TEXT NOT NULL,                 -- the stored request
    timeout_ms      BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,               -- unix ms, database clock
    claimed         BIGINT NOT NULL DEFAULT 0,     -- 1 once the provider's node took it
    answered        BIGINT NOT NULL DEFAULT 0,     -- 1 once answered
    response        TEXT,                          -- the provider's response, or
    error_code      TEXT,                          -- the refusal's code
    error_message   TEXT                           -- and sentence
);
CREATE INDEX node_relays_to ON node_relays (to_node, claimed);
