-- The exchange follows the catalogue's access rules: a resource's provider,
-- schema and sharing type come from `catalogue`, grants from approved
-- `access_applications`. The allow-list table they replace goes.
-- `access_generation` counts changes to either table, so that hub nodes
-- reload the rules only when they changed.
DROP TABLE resources;

CREATE TABLE access_generation (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    value           BIGINT NOT NULL
);
INSERT INTO access_generation (id, value) VALUES (1, 0);

CREATE FUNCTION bump_access_generation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE access_generation SET value = value + 1 WHERE id = 1;
    RETURN NULL;
END;
$$;
CREATE TRIGGER catalogue_generation AFTER INSERT OR UPDATE OR DELETE ON catalogue
    FOR EACH STATEMENT EXECUTE FUNCTION bump_access_generation();
CREATE TRIGGER access_generation AFTER INSERT OR UPDATE OR DELETE ON access_applications
    FOR EACH STATEMENT EXECUTE FUNCTION bump_access_generation();

-- Records of a resource (messages published on its topic), by arrival.
CREATE INDEX messages_topic ON messages(topic, seq) WHERE topic IS NOT NULL;
