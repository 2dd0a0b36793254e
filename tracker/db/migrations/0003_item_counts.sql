-- porting.db schema version 3: what makes reports fast on large inventories.
--
-- item_counts holds the number of items per (kind, batch, status, override,
-- drifted, removed), kept exact by triggers on items, so report summary reads
-- a few hundred rows instead of scanning every item. batch_id 0 means "in no
-- batch"; the flags are 0/1. Rows may reach n = 0; readers skip them.
-- db check recounts items and compares.

CREATE TABLE item_counts (
	kind     TEXT NOT NULL,
	batch_id INTEGER NOT NULL,
	status   TEXT NOT NULL,
	override INTEGER NOT NULL,
	drifted  INTEGER NOT NULL,
	removed  INTEGER NOT NULL,
	n        INTEGER NOT NULL,
	PRIMARY KEY (kind, batch_id, status, override, drifted, removed)
) WITHOUT ROWID;

INSERT INTO item_counts (kind, batch_id, status, override, drifted, removed, n)
SELECT kind, coalesce(batch_id, 0), status, override != 0, drifted != 0, removed != 0, count(*)
FROM items GROUP BY 1, 2, 3, 4, 5, 6;

CREATE TRIGGER item_counts_insert AFTER INSERT ON items BEGIN
	INSERT INTO item_counts (kind, batch_id, status, override, drifted, removed, n)
	VALUES (NEW.kind, coalesce(NEW.batch_id, 0), NEW.status, NEW.override != 0, NEW.drifted != 0, NEW.removed != 0, 1)
	ON CONFLICT (kind, batch_id, status, override, drifted, removed) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER item_counts_delete AFTER DELETE ON items BEGIN
	UPDATE item_counts SET n = n - 1
	WHERE kind = OLD.kind AND batch_id = coalesce(OLD.batch_id, 0) AND status = OLD.status
	  AND override = (OLD.override != 0) AND drifted = (OLD.drifted != 0) AND removed = (OLD.removed != 0);
END;

CREATE TRIGGER item_counts_update AFTER UPDATE OF kind, batch_id, status, override, drifted, removed ON items BEGIN
	UPDATE item_counts SET n = n - 1
	WHERE kind = OLD.kind AND batch_id = coalesce(OLD.batch_id, 0) AND status = OLD.status
	  AND override = (OLD.override != 0) AND drifted = (OLD.drifted != 0) AND removed = (OLD.removed != 0);
	INSERT INTO item_counts (kind, batch_id, status, override, drifted, removed, n)
	VALUES (NEW.kind, coalesce(NEW.batch_id, 0), NEW.status, NEW.override != 0, NEW.drifted != 0, NEW.removed != 0, 1)
	ON CONFLICT (kind, batch_id, status, override, drifted, removed) DO UPDATE SET n = n + 1;
END;

-- The report's item lists read through these instead of scanning items.
CREATE INDEX items_override ON items (kind, id) WHERE override != 0;
CREATE INDEX items_drifted ON items (kind, id) WHERE drifted != 0;
CREATE INDEX items_removed ON items (kind, id) WHERE removed != 0;
