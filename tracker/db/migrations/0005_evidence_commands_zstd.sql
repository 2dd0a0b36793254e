-- porting.db schema version 5: evidence argvs are stored zstd-compressed.
--
-- Schema 4 stored each distinct argv once, yet the long go test -run
-- '^(TestA|TestB|...)$' lists still made up most of the file; they compress
-- several times over. argv_z holds the zstd frame of the same JSON text that
-- argv held, and sha stays the hex SHA-256 of that uncompressed text, so the
-- gates' dedup key and db check are unchanged.
--
-- SQL cannot compress, so this script only adds the column. The Go step that
-- migrate.go runs after it, in the same transaction, fills argv_z from argv
-- and then drops argv. The empty default only exists because SQLite requires
-- a default to add a NOT NULL column; db check reports any argv_z that does
-- not decompress to a JSON array, so a row left empty cannot go unnoticed.

ALTER TABLE evidence_commands ADD COLUMN argv_z BLOB NOT NULL DEFAULT x'';
