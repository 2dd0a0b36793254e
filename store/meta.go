package store

import (
	"encoding/hex"
	"encoding/json"
	"path/filepath"

	"github.com/minio/highwayhash"
)

// writeStreamMeta writes meta.inf (the config and creation time as JSON,
// sealed with the stream key when encrypted) and meta.sum (the hex
// highwayhash of meta.inf's bytes, keyed sha256(stream name)). fs.mu held.
func (fs *fileStore) writeStreamMeta() error {
	if err := fs.setupAEK(); err != nil {
		return err
	}
	b, err := json.Marshal(fs.cfg)
	if err != nil {
		return err
	}
	// Encrypted stores seal meta.inf; meta.sum is then over the sealed bytes.
	if fs.aek != nil {
		if b, err = sealWithRandomNonce(fs.aek, b); err != nil {
			return err
		}
	}
	// Both files are always synced (upstream syncs only with SyncAlways):
	// they are rewritten rarely, and an empty meta.inf made durable by a
	// later directory sync would leave a store that cannot be opened.
	meta := filepath.Join(fs.fcfg.StoreDir, JetStreamMetaFile)
	if err = writeFileWithSync(fs.fsys, meta, b, defaultFilePerms); err != nil {
		return err
	}
	fs.hasher.Reset()
	fs.hasher.Write(b)
	var hb [highwayhash.Size64]byte
	checksum := hex.EncodeToString(fs.hasher.Sum(hb[:0]))
	sum := filepath.Join(fs.fcfg.StoreDir, JetStreamMetaFileSum)
	return writeFileWithSync(fs.fsys, sum, []byte(checksum), defaultFilePerms)
}
