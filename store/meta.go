package store

import (
	"encoding/hex"
	"encoding/json"
	"path/filepath"

	"github.com/minio/highwayhash"
)

// writeStreamMeta writes meta.inf (the config and creation time as JSON)
// and meta.sum (the hex highwayhash of meta.inf, keyed sha256(stream name)).
// fs.mu held.
func (fs *fileStore) writeStreamMeta() error {
	b, err := json.Marshal(fs.cfg)
	if err != nil {
		return err
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
