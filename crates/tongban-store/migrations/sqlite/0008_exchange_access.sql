-- The exchange follows the catalogue's access rules: a resource's provider,
-- schema and sharing type come from `catalogue`, grants from approved
-- `access_applications`. The allow-list table they replace goes.
-- `access_generation` counts changes to either table, so that hub nodes
-- reload the rules only when they changed.
DROP TABLE resources;

CREATE TABLE access_generation (
    id              INTEGER PRIMARY KEY CHECK (id = 1),
    value           INTEGER NOT NULL
);
INSERT INTO access_generation (id, value) VALUES (1, 0);

CREATE TRIGGER catalogue_generation_insert AFTER INSERT ON catalogue
BEGIN UPDATE access_generation SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER catalogue_generation_update AFTER UPDATE ON catalogue
BEGIN UPDATE access_generation SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER catalogue_generation_delete AFTER DELETE ON catalogue
BEGIN UPDATE access_generation SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER access_generation_insert AFTER INSERT ON access_applications
BEGIN UPDATE access_generation SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER access_generation_update AFTER UPDATE ON access_applications
BEGIN UPDATE access_generation SET value = value + 1 WHERE id = 1; END;
CREATE TRIGGER access_generation_delete AFTER DELETE ON access_applications
BEGIN UPDATE access_generation SET value = value + 1 WHERE id = 1; END;

-- Records of a resource (messages published on its topic), by arrival.
CREATE INDEX messages_topic ON messages(topic, seq) WHERE topic IS NOT NULL;
