-- The status list positions of an issuer's revoked or suspended licences,
-- read whenever a trust or a status list is built: from the index alone,
-- touching only those licences, not every licence of the issuer.
CREATE INDEX licences_status ON licences(issuer_code, list_sequence, status, status_index);
