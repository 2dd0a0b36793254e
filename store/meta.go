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
	meta := filepath.Join(fs.fcfg.StoreDir, JetStreamMetaFile)
	if err = fs.writeFileWithOptionalSync(meta, b, defaultFilePerms); err != nil {
		return err
	}
	fs.hasher.Reset()
	fs.hasher.Write(b)
	var hb [highwayhash.Size64]byte
	checksum := hex.EncodeToString(fs.hasher.Sum(hb[:0]))
	sum := filepath.Join(fs.fcfg.StoreDir, JetStreamMetaFileSum)
	return fs.writeFileWithOptionalSync(sum, []byte(checksum), defaultFilePerms)
}
