-- Peer regions' unconditional resources (全域通办): what each peer hub last
-- served of its catalogue, with the schema each resource's payloads follow,
-- so that departments here can find them and request them through the two
-- hubs. Replaced as a whole at every successful refresh.
CREATE TABLE peer_resources (
    region_code     TEXT NOT NULL,
    id              TEXT NOT NULL,
    resource        TEXT NOT NULL,                 -- JSON: the entry and its schema document
    fetched_at      BIGINT NOT NULL,
    PRIMARY KEY (region_code, id)
);
