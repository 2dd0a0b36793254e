package store

import (
	"archive/tar"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"time"

	"github.com/klauspost/compress/s2"
	"github.com/minio/highwayhash"

	"github.com/porttracker/porttracker/store/vfs"
)

// A stream snapshot is an S2-compressed tar (PAX headers, mode 0600,
// owner nats) holding, in this order:
//
//	meta.inf, meta.sum        the stream's config as JSON and its hex hash
//	msgs/<n>.blk              every block, decrypted and decompressed
//	msgs/index.db             the stream state, unsealed, rehashed over the plain bytes
//	obs/<name>/meta.inf       per consumer (when asked): config, hash
//	obs/<name>/meta.sum
//	obs/<name>/o.dat          and encoded state
//	errors.txt                only if the snapshot failed part way
//
// Everything is plain, so a snapshot restores into a store with any cipher
// and compression (the files are converted when the store opens). Messages
// may be stored while a snapshot streams.

// errFile names the tar entry a failed snapshot ends with.
const errFile = "errors.txt"

// Snapshot streams the store as described above through the returned
// Reader; the reader must be drained or closed. With checkMsgs every
// record is verified first and a snapshot of a damaged store refused.
// deadline bounds each write to the reader: a reader that does not keep up
// ends the snapshot. One snapshot at a time.
func (fs *fileStore) Snapshot(deadline time.Duration, checkMsgs, includeConsumers bool) (*SnapshotResult, error) {
	if fs.isClosed() {
		return nil, ErrStoreClosed
	}
	fs.mu.Lock()
	if fs.snapshotsInProgress > 0 {
		fs.mu.Unlock()
		return nil, ErrStoreSnapshotInProgress
	}
	fs.snapshotsInProgress++
	fs.mu.Unlock()

	if checkMsgs {
		ld, err := fs.checkMsgs()
		if err == nil && ld != nil && len(ld.Msgs) > 0 {
			err = fmt.Errorf("store: snapshot check detected %d bad messages", len(ld.Msgs))
		} else if err != nil {
			err = fmt.Errorf("store: snapshot check failed: %w", err)
		}
		if err != nil {
			fs.mu.Lock()
			fs.snapshotsInProgress--
			fs.mu.Unlock()
			return nil, err
		}
	}

	// A synchronous pipe, as upstream: it has write deadlines.
	pr, pw := net.Pipe()
	if deadline > 0 {
		_ = pw.SetWriteDeadline(time.Now().Add(deadline))
	}
	var state StreamState
	fs.FastState(&state)
	errCh := make(chan string, 1)
	go fs.streamSnapshot(pw, includeConsumers, errCh)
	return &SnapshotResult{Reader: pr, State: state, errCh: errCh}, nil
}

// streamSnapshot writes the snapshot to w, reporting a failure on errCh
// (and in errors.txt) and closing both when done.
func (fs *fileStore) streamSnapshot(w io.WriteCloser, includeConsumers bool, errCh chan string) {
	defer close(errCh)
	defer w.Close()
	enc := s2.NewWriter(w)
	defer enc.Close()
	tw := tar.NewWriter(enc)
	defer tw.Close()
	defer func() {
		fs.mu.Lock()
		fs.snapshotsInProgress--
		fs.mu.Unlock()
	}()

	modTime := time.Now().UTC()
	writeFile := func(name string, buf []byte) error {
		hdr := &tar.Header{
			Name:    name,
			Mode:    0o600,
			ModTime: modTime,
			Uname:   "nats",
			Gname:   "nats",
			Size:    int64(len(buf)),
			Format:  tar.FormatPAX,
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		_, err := tw.Write(buf)
		return err
	}
	fail := func(format string, args ...any) {
		msg := fmt.Sprintf(format, args...)
		_ = writeFile(errFile, []byte(msg))
		errCh <- msg
	}

	// The config is taken from memory: the files may be sealed.
	fs.mu.Lock()
	blocks := fs.blocks
	meta, err := json.Marshal(fs.cfg)
	if err != nil {
		fs.mu.Unlock()
		fail("Could not gather stream meta file: %v", err)
		return
	}
	fs.hasher.Reset()
	fs.hasher.Write(meta)
	var hb [highwayhash.Size64]byte
	sum := []byte(hex.EncodeToString(fs.hasher.Sum(hb[:0])))
	fs.mu.Unlock()

	if writeFile(JetStreamMetaFile, meta) != nil || writeFile(JetStreamMetaFileSum, sum) != nil {
		return
	}

	// Tar names are relative with forward slashes.
	msgPre := msgDir + "/"
	for _, mb := range blocks {
		mb.mu.Lock()
		// Read under the lock, write without it, so writers are held up
		// only for the read.
		buf, err := mb.loadBlockPlain()
		mb.mu.Unlock()
		if err != nil {
			fail("Could not read message block [%d]: %v", mb.index, err)
			return
		}
		if writeFile(msgPre+fmt.Sprintf(blkScan, mb.index), buf) != nil {
			return
		}
	}

	// index.db last, freshly written, so it covers every block sent.
	if buf, err := fs.plainFullState(); err == nil {
		if writeFile(msgPre+streamStreamStateFile, buf) != nil {
			return
		}
	}

	if !includeConsumers {
		return
	}
	fs.consumersMu.Lock()
	consumers := fs.consumers
	fs.consumersMu.Unlock()
	for _, cs := range consumers {
		o, ok := cs.(*consumerFileStore)
		if !ok {
			continue
		}
		o.mu.Lock()
		meta, err := json.Marshal(o.cfg)
		if err != nil {
			o.mu.Unlock()
			fail("Could not gather consumer meta file for %q: %v", o.name, err)
			return
		}
		o.hasher.Reset()
		o.hasher.Write(meta)
		var hb [highwayhash.Size64]byte
		sum := []byte(hex.EncodeToString(o.hasher.Sum(hb[:0])))
		state, err := o.encodeState()
		name := o.name
		o.mu.Unlock()
		if err != nil {
			fail("Could not encode consumer state for %q: %v", name, err)
			return
		}
		odir := consumerDir + "/" + name + "/"
		if writeFile(odir+JetStreamMetaFile, meta) != nil ||
			writeFile(odir+JetStreamMetaFileSum, sum) != nil ||
			writeFile(odir+consumerState, state) != nil {
			return
		}
	}
}

// plainFullState writes index.db and returns it as a plain store would
// have it: unsealed, with the hash over the plain bytes.
func (fs *fileStore) plainFullState() ([]byte, error) {
	if err := fs.forceWriteFullState(); err != nil {
		return nil, err
	}
	buf, err := vfs.ReadFile(fs.fsys, filepath.Join(fs.fcfg.StoreDir, msgDir, streamStreamStateFile))
	if err != nil {
		return nil, err
	}
	if len(buf) < highwayhash.Size64 {
		return nil, errCorruptState
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.aek == nil {
		return buf, nil
	}
	plain, err := openSealed(fs.aek, buf[:len(buf)-highwayhash.Size64])
	if err != nil {
		return nil, err
	}
	fs.hasher.Reset()
	fs.hasher.Write(plain)
	var hb [highwayhash.Size64]byte
	return append(plain, fs.hasher.Sum(hb[:0])...), nil
}
