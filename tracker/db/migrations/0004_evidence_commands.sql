-- porting.db schema version 4: each distinct evidence argv is stored once.
--
-- One go test -run '^(TestA|TestB|...)$' command proves many items, and its
-- argv (often 5-25 KB) used to be repeated on every item's evidence row.
-- evidence_commands holds each distinct argv (the JSON array the gates ran)
-- once, keyed by the hex SHA-256 of that text, and evidence rows reference it
-- by command_id. The gates insert with INSERT OR IGNORE by sha; pruning drops
-- command rows no evidence row references any more, as it does for logs.
--
-- sha256_hex is a function the porttracker binary registers with SQLite (the
-- same Go function the gates use), so this script needs that binary.
--
-- The evidence table is rebuilt without its argv column. Evidence ids stay as
-- they are (audit rows cite them), and so does the AUTOINCREMENT high-water
-- mark, so an id that was pruned is never handed out again. Nothing declares a
-- foreign key to evidence, so the rebuild is safe with foreign keys on.

CREATE TABLE evidence_commands (
	id   INTEGER PRIMARY KEY,
	sha  TEXT NOT NULL UNIQUE, -- hex SHA-256 of argv
	argv TEXT NOT NULL         -- JSON array, never a shell string
);

INSERT INTO evidence_commands (sha, argv)
SELECT sha256_hex(argv), argv FROM (SELECT DISTINCT argv FROM evidence ORDER BY argv);

CREATE TABLE evidence_new (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	gate        TEXT NOT NULL CHECK (gate IN ('build', 'stub', 'test', 'gut', 'links')),
	kind        TEXT NOT NULL,
	item_id     INTEGER NOT NULL,
	verdict     TEXT NOT NULL CHECK (verdict IN ('pass', 'fail', 'skip', 'missing', 'error')),
	detail      TEXT NOT NULL DEFAULT '',
	command_id  INTEGER NOT NULL REFERENCES evidence_commands (id),
	started_at  TEXT NOT NULL,
	duration_ms INTEGER NOT NULL DEFAULT 0,
	git_commit  TEXT NOT NULL DEFAULT '',
	git_dirty   INTEGER NOT NULL DEFAULT 0,
	fingerprint TEXT NOT NULL DEFAULT '',
	log_id      INTEGER REFERENCES evidence_logs (id)
);

INSERT INTO evidence_new (id, gate, kind, item_id, verdict, detail, command_id, started_at, duration_ms,
	git_commit, git_dirty, fingerprint, log_id)
SELECT e.id, e.gate, e.kind, e.item_id, e.verdict, e.detail, c.id, e.started_at, e.duration_ms,
	e.git_commit, e.git_dirty, e.fingerprint, e.log_id
FROM evidence e JOIN evidence_commands c ON c.sha = sha256_hex(e.argv)
ORDER BY e.id;

-- Carry the old high-water mark over; the copy above only set max(id).
INSERT INTO sqlite_sequence (name, seq) SELECT 'evidence_new', 0
WHERE NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'evidence_new');
UPDATE sqlite_sequence SET seq = max(seq, coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'evidence'), 0))
WHERE name = 'evidence_new';

DROP TABLE evidence;
ALTER TABLE evidence_new RENAME TO evidence;

CREATE INDEX evidence_subject ON evidence (kind, item_id, gate, id);
-- Pruning deletes unreferenced commands and logs; with foreign keys on, each
-- such delete looks the parent up in evidence, so index the child keys.
CREATE INDEX evidence_command ON evidence (command_id);
CREATE INDEX evidence_log ON evidence (log_id);
