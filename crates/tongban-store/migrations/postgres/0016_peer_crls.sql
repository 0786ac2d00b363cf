-- Each peer hub's certificate revocation list (全域通办), as its hub last
-- served it, for the CA whose certificate (its SHA-256) was on the peer's
-- card then: a peer's certificates its CA revoked are refused.
CREATE TABLE peer_crls (
    region_code     TEXT PRIMARY KEY,
    ca_sha256       TEXT NOT NULL,
    crl_pem         TEXT NOT NULL,
    fetched_at      BIGINT NOT NULL
);
