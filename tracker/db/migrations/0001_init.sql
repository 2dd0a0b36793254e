-- porting.db schema version 1. Applied by tracker/db inside BEGIN IMMEDIATE;
-- the runner sets PRAGMA user_version = 1 in the same transaction.
-- Never edit a migration that has shipped: add 0002_*.sql instead.

PRAGMA application_id = 1347703380; -- 0x50545254, 'PTRT'

CREATE TABLE meta (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
);

CREATE TABLE policy (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
);

CREATE TABLE config (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
);

CREATE TABLE batches (
	id           INTEGER PRIMARY KEY,
	name         TEXT NOT NULL UNIQUE,
	description  TEXT NOT NULL DEFAULT '',
	state        TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'started', 'complete')),
	started_at   TEXT,
	completed_at TEXT
);

CREATE TABLE batch_deps (
	batch_id   INTEGER NOT NULL REFERENCES batches (id),
	depends_on INTEGER NOT NULL REFERENCES batches (id),
	PRIMARY KEY (batch_id, depends_on)
);

CREATE TABLE items (
	kind          TEXT NOT NULL CHECK (kind IN ('feature', 'test')),
	id            INTEGER NOT NULL,
	package       TEXT NOT NULL,
	file          TEXT NOT NULL,
	start_line    INTEGER NOT NULL,
	end_line      INTEGER NOT NULL,
	receiver      TEXT NOT NULL DEFAULT '',
	name          TEXT NOT NULL,
	symkey        TEXT NOT NULL DEFAULT '',
	signature     TEXT NOT NULL DEFAULT '',
	body_hash     TEXT NOT NULL DEFAULT '',
	ported_hash   TEXT NOT NULL DEFAULT '',
	removed       INTEGER NOT NULL DEFAULT 0,
	drifted       INTEGER NOT NULL DEFAULT 0,
	target_pkg    TEXT NOT NULL DEFAULT '',
	target        TEXT NOT NULL DEFAULT '',
	target_file   TEXT NOT NULL DEFAULT '',
	target_line   INTEGER NOT NULL DEFAULT 0,
	target_manual INTEGER NOT NULL DEFAULT 0,
	status        TEXT NOT NULL DEFAULT 'deferred' CHECK (status IN ('deferred', 'stub', 'complete', 'verified', 'n_a')),
	reason        TEXT NOT NULL DEFAULT '',
	override      INTEGER NOT NULL DEFAULT 0,
	batch_id      INTEGER REFERENCES batches (id),
	PRIMARY KEY (kind, id),
	UNIQUE (kind, package, receiver, name, symkey)
) WITHOUT ROWID;

CREATE INDEX items_kind_batch ON items (kind, batch_id);
CREATE INDEX items_kind_status ON items (kind, status);
CREATE INDEX items_kind_file ON items (kind, file);

CREATE TABLE links (
	feature_id INTEGER NOT NULL,
	test_id    INTEGER NOT NULL,
	source     TEXT NOT NULL CHECK (source IN ('coverage', 'static', 'manual')),
	PRIMARY KEY (feature_id, test_id, source)
) WITHOUT ROWID;

CREATE INDEX links_test ON links (test_id);

CREATE TABLE evidence_logs (
	id   INTEGER PRIMARY KEY,
	data BLOB NOT NULL
);

CREATE TABLE evidence (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	gate        TEXT NOT NULL CHECK (gate IN ('build', 'stub', 'test', 'gut', 'links')),
	kind        TEXT NOT NULL,
	item_id     INTEGER NOT NULL,
	verdict     TEXT NOT NULL CHECK (verdict IN ('pass', 'fail', 'skip', 'missing', 'error')),
	detail      TEXT NOT NULL DEFAULT '',
	argv        TEXT NOT NULL DEFAULT '[]',
	started_at  TEXT NOT NULL,
	duration_ms INTEGER NOT NULL DEFAULT 0,
	git_commit  TEXT NOT NULL DEFAULT '',
	git_dirty   INTEGER NOT NULL DEFAULT 0,
	fingerprint TEXT NOT NULL DEFAULT '',
	log_id      INTEGER REFERENCES evidence_logs (id)
);

CREATE INDEX evidence_subject ON evidence (kind, item_id, gate, id);

CREATE TABLE audit (
	id           INTEGER PRIMARY KEY AUTOINCREMENT,
	at           TEXT NOT NULL,
	actor        TEXT NOT NULL,
	argv         TEXT NOT NULL,
	kind         TEXT NOT NULL,
	item_id      INTEGER NOT NULL DEFAULT 0,
	action       TEXT NOT NULL,
	from_value   TEXT NOT NULL DEFAULT '',
	to_value     TEXT NOT NULL DEFAULT '',
	reason       TEXT NOT NULL DEFAULT '',
	override     INTEGER NOT NULL DEFAULT 0,
	evidence_ids TEXT NOT NULL DEFAULT '[]',
	prev_hash    TEXT NOT NULL,
	hash         TEXT NOT NULL
);

-- Serves an item's history (feature show) and db check's status replay.
CREATE INDEX audit_subject ON audit (kind, item_id, action, id);

INSERT INTO policy (key, value) VALUES ('max_batch_ids', '15'), ('evidence_keep', '3');
INSERT INTO config (key, value) VALUES ('target_packages', './store/...');
