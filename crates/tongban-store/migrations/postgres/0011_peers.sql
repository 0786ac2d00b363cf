-- Hubs of other regions this hub trusts (全域通办): what their
-- administrators handed over once — region, name, address, the hub's
-- anchor key (it signs the region's trust list) and its CA certificate
-- (for mutual TLS between the hubs). A removed peer keeps its row.
CREATE TABLE peers (
    region_code     TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    address         TEXT NOT NULL,                 -- host:port of its QUIC endpoint
    anchor          TEXT NOT NULL,                 -- Multikey of its hub key
    ca_pem          TEXT NOT NULL,
    status          TEXT NOT NULL,                 -- active | removed
    added_at        BIGINT NOT NULL,
    removed_at      BIGINT
);
