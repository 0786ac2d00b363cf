-- Secrets every node of a hub can use: signing keys, the CA's private key,
-- the peer-link keys and the audit pin, each sealed (AEAD) under a
-- key-encryption key (KEK) that the nodes read from a file and the
-- database never holds. The associated data binds a ciphertext to its name
-- and KEK id, so a row copied under another name does not open.
CREATE TABLE sealed_secrets (
    name            TEXT PRIMARY KEY,              -- key:<multikey>, named:<name>, audit-pin
    kek_id          TEXT NOT NULL,                 -- the KEK it is sealed under
    nonce           BLOB NOT NULL,                -- 12 random bytes
    ciphertext      BLOB NOT NULL,                -- sealed secret and its tag
    created_at      BIGINT NOT NULL
);
