-- Envelopes received from peer hubs, and the departments' requests they
-- carry, remembered against replay (全域通办): shared by every node of the
-- hub and kept across restarts. A row may go once `expires_at` is past:
-- by then the envelope's time alone refuses it.
CREATE TABLE peer_envelopes_seen (
    sender          TEXT NOT NULL,
    id              TEXT NOT NULL,
    expires_at      BIGINT NOT NULL,
    PRIMARY KEY (sender, id)
);
CREATE INDEX peer_envelopes_seen_expiry ON peer_envelopes_seen (expires_at);
