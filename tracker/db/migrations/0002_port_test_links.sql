-- porting.db schema version 2: coverage links to the port's own tests.
-- Upstream tests are items and link to features through links. Tests the port
-- adds under its own names (to observe what upstream's tests do not) are not
-- items, so their per-test coverage links live here; the evidence gates use
-- them for the features those tests exercise (links, test and gut gates).
-- Written only by the evidence gates, which replace a test's rows after each
-- coverage run of it.

CREATE TABLE port_test_links (
	feature_id INTEGER NOT NULL,
	test_pkg   TEXT NOT NULL,  -- './store/avl'
	test_name  TEXT NOT NULL,  -- 'TestSeqSetState'
	PRIMARY KEY (feature_id, test_pkg, test_name)
) WITHOUT ROWID;

CREATE INDEX port_test_links_test ON port_test_links (test_pkg, test_name);
