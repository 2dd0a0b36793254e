package store

import (
	"crypto/cipher"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/minio/highwayhash"

	"github.com/porttracker/porttracker/store/vfs"
)

// Consumer directory (format fact, nats-server v2.14.5):
//
//	obs/<name>/meta.inf  FileConsumerInfo as JSON; nonce || sealed JSON when encrypted
//	obs/<name>/meta.sum  hex highwayhash-64 of meta.inf's bytes as stored,
//	                     keyed sha256("<stream>/<name>")
//	obs/<name>/meta.key  the consumer's key file, when encrypted
//	obs/<name>/o.dat     encodeConsumerState's bytes; nonce || sealed when encrypted
//
// Every file is replaced whole through a synced temporary file and a rename
// (writeFileWithSync), so a crash leaves either the old or the new contents.

// consumerState names the file holding a consumer's encoded state.
const consumerState = "o.dat"

// FileConsumerInfo is what a consumer's meta.inf holds.
type FileConsumerInfo struct {
	Created time.Time
	Name    string
	ConsumerConfig
}

// consumerFileStore is the ConsumerStore of a file store: one consumer's
// delivery and ack state, kept in memory and written to o.dat by a
// background flusher (at most about ten times a second) and on Stop.
//
// Lock order: writeMu, then mu, then the stream's consumersMu. Neither
// consumer lock is held while calling into the stream store except
// writeConsumerMeta's file writes.
type consumerFileStore struct {
	// writeMu serializes writes of o.dat, so writers never share its
	// temporary file and a state encoded earlier never replaces one encoded
	// later: whoever encodes under writeMu also writes before letting go.
	writeMu sync.Mutex

	// mu guards every field below. The channels and flusherDone are set
	// before the flusher starts and only read afterwards.
	mu        sync.Mutex
	fs        *fileStore
	cfg       *FileConsumerInfo
	prf       keyGen
	aek       cipher.AEAD // seals meta.inf and o.dat; nil when not encrypted
	cipher    StoreCipher // the stream's configured cipher
	stream    string      // the stream's name, part of the key contexts
	name      string
	dir       string // obs/<name>; emptied by Stop and Delete (upstream odir)
	stateFile string // obs/<name>/o.dat (upstream ifn)
	hasher    *highwayhash.Digest64
	state     ConsumerState

	flushCh     chan struct{} // kicks the flusher; one pending kick is enough
	quitCh      chan struct{} // closed to stop the flusher
	flusherDone chan struct{} // closed once the flusher has exited
	flusher     bool          // the flusher goroutine is running
	dirty       bool          // the state changed since it was last encoded for writing
	closed      bool
}

var (
	errConsumerNoStream  = errors.New("store: filestore is nil")
	errBadConsumerConfig = errors.New("store: bad consumer config")
	errMemoryConsumer    = errors.New("store: memory storage consumers need a memory store, which this port does not have")
)

// newConsumerFileStore opens (or creates) the store of consumer name under
// obs/ and registers it with the stream. It is upstream's
// (*fileStore).ConsumerStore; the key generator is a parameter because the
// stream store does not keep one yet (nil: not encrypted).
func (fs *fileStore) newConsumerFileStore(name string, created time.Time, cfg *ConsumerConfig, prf keyGen) (ConsumerStore, error) {
	if fs == nil {
		return nil, errConsumerNoStream
	}
	if fs.isClosed() {
		return nil, ErrStoreClosed
	}
	// The name becomes a directory; it must not reach outside obs/.
	if cfg == nil || name == _EMPTY_ || name == "." || name == ".." || strings.ContainsAny(name, `/\`) {
		return nil, errBadConsumerConfig
	}
	if cfg.MemoryStorage {
		return nil, errMemoryConsumer
	}

	odir := filepath.Join(fs.fcfg.StoreDir, consumerDir, name)
	dirExisted := vfs.Exists(fs.fsys, odir)
	if err := fs.mkdirDurable(odir); err != nil {
		return nil, fmt.Errorf("store: could not create consumer directory: %w", err)
	}
	// On failure, a directory made here is removed again; an existing one
	// may hold state and is left alone.
	cleanup := func() {
		if !dirExisted {
			_ = fs.fsys.RemoveAll(odir)
		}
	}

	// The stream's name and cipher are copied so that later use does not
	// race with the stream's UpdateConfig replacing its config.
	fs.mu.RLock()
	stream, sc := fs.cfg.Name, fs.fcfg.Cipher
	fs.mu.RUnlock()
	o := &consumerFileStore{
		fs:        fs,
		cfg:       &FileConsumerInfo{Name: name, Created: created, ConsumerConfig: *cfg},
		prf:       prf,
		cipher:    sc,
		stream:    stream,
		name:      name,
		dir:       odir,
		stateFile: filepath.Join(odir, consumerState),
	}
	key := sha256.Sum256([]byte(stream + "/" + name))
	hh, err := highwayhash.NewDigest64(key[:])
	if err != nil {
		cleanup()
		return nil, fmt.Errorf("store: could not create hash: %w", err)
	}
	o.hasher = hh

	if o.prf != nil {
		if err := o.recoverKey(); err != nil {
			cleanup()
			return nil, err
		}
	}

	meta := filepath.Join(odir, JetStreamMetaFile)
	if _, err := fs.fsys.Stat(meta); errors.Is(err, os.ErrNotExist) {
		if err := o.writeConsumerMeta(); err != nil {
			cleanup()
			return nil, err
		}
	} else if err != nil {
		cleanup()
		return nil, err
	}

	// A consumer that should be encrypted but has no key file was written
	// in the clear (a restored snapshot, or encryption just turned on):
	// encrypt its meta and state now.
	if o.prf != nil {
		if err := o.encryptPlaintext(); err != nil {
			cleanup()
			return nil, err
		}
	}

	if err := o.loadState(); err != nil {
		return nil, err
	}

	// The flusher runs before the consumer is shared, so a Stop right
	// after registration finds it to stop.
	o.flushCh = make(chan struct{}, 1)
	o.quitCh = make(chan struct{})
	o.flusherDone = make(chan struct{})
	go func(fch, qch, done chan struct{}) {
		// Closed here rather than in flushLoop so that waiters are always
		// released, whatever flushLoop does.
		defer close(done)
		o.flushLoop(fch, qch)
	}(o.flushCh, o.quitCh, o.flusherDone)

	if err := fs.AddConsumer(o); err != nil {
		_ = o.Stop()
		return nil, err
	}
	return o, nil
}

// recoverKey loads the consumer's key from meta.key, converting it (and the
// state) when it was sealed with the other cipher. No key file is fine: the
// consumer is new or was written in the clear.
func (o *consumerFileStore) recoverKey() error {
	ekey, err := vfs.ReadFile(o.fs.fsys, filepath.Join(o.dir, JetStreamMetaFileKey))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	seed, _, err := openKeyFile(o.prf, o.cipher, consumerKeyContext(o.stream, o.name), ekey)
	if errors.Is(err, errKeyInvalid) {
		return o.convertCipher()
	}
	if err != nil {
		return err
	}
	o.aek, err = genEncryptionKey(o.cipher, seed)
	return err
}

// encryptPlaintext writes a key and re-writes meta.inf and o.dat encrypted
// when an encrypted consumer has no meta.key yet.
func (o *consumerFileStore) encryptPlaintext() error {
	keyFile := filepath.Join(o.dir, JetStreamMetaFileKey)
	if _, err := o.fs.fsys.Stat(keyFile); err == nil {
		return nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := o.writeConsumerMeta(); err != nil {
		return err
	}
	buf, err := vfs.ReadFile(o.fs.fsys, o.stateFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	// Only a state that parses in the clear is plain text.
	if _, err := decodeConsumerState(buf); err != nil {
		return nil
	}
	return o.writeState(buf)
}

// convertCipher re-keys a consumer whose meta.key was sealed with the other
// cipher: it opens the key and the state with that cipher, then writes the
// meta with a new key in the configured cipher and the state under it.
func (o *consumerFileStore) convertCipher() error {
	fs := o.fs
	ekey, err := vfs.ReadFile(fs.fsys, filepath.Join(o.dir, JetStreamMetaFileKey))
	if err != nil {
		return err
	}
	osc := otherCipher(o.cipher)
	seed, _, err := openKeyFile(o.prf, osc, consumerKeyContext(o.stream, o.name), ekey)
	if err != nil {
		return err
	}
	aek, err := genEncryptionKey(osc, seed)
	if err != nil {
		return err
	}
	// A consumer that never wrote its state has only its meta to convert.
	var buf []byte
	if sealed, err := vfs.ReadFile(fs.fsys, o.stateFile); err == nil {
		if buf, err = openSealed(aek, sealed); err != nil {
			return err
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	// With no aek, writeConsumerMeta makes a new key in the configured cipher.
	o.aek = nil
	if err := o.writeConsumerMeta(); err != nil {
		return err
	}
	return o.writeState(buf)
}

// writeConsumerMeta writes meta.inf and meta.sum, and first meta.key when the
// consumer is encrypted but has no key yet. mu held (or the store not yet
// shared).
func (o *consumerFileStore) writeConsumerMeta() error {
	fsys := o.fs.fsys
	meta := filepath.Join(o.dir, JetStreamMetaFile)
	if _, err := fsys.Stat(meta); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if o.prf != nil && o.aek == nil {
		key, _, _, encrypted, err := genEncryptionKeysWithPRF(o.prf, o.cipher, consumerKeyContext(o.stream, o.name))
		if err != nil {
			return err
		}
		keyFile := filepath.Join(o.dir, JetStreamMetaFileKey)
		if _, err := fsys.Stat(keyFile); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		if err := writeFileWithSync(fsys, keyFile, encrypted, defaultFilePerms); err != nil {
			return err
		}
		// Only once the key is durable may anything be sealed with it.
		o.aek = key
	}

	b, err := json.Marshal(o.cfg)
	if err != nil {
		return err
	}
	if o.aek != nil {
		if b, err = sealWithRandomNonce(o.aek, b); err != nil {
			return err
		}
	}
	if err := writeFileWithSync(fsys, meta, b, defaultFilePerms); err != nil {
		return err
	}
	o.hasher.Reset()
	o.hasher.Write(b)
	var hb [highwayhash.Size64]byte
	checksum := hex.EncodeToString(o.hasher.Sum(hb[:0]))
	return writeFileWithSync(fsys, filepath.Join(o.dir, JetStreamMetaFileSum), []byte(checksum), defaultFilePerms)
}

// UpdateConfig stores a new config in meta.inf. The upper layers have
// checked it.
func (o *consumerFileStore) UpdateConfig(cfg *ConsumerConfig) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.cfg.ConsumerConfig = *cfg
	return o.writeConsumerMeta()
}

// updateConfig replaces the config when an ephemeral consumer is recovered.
// Upstream also dropped the name and creation time from meta.inf here; they
// are kept.
func (o *consumerFileStore) updateConfig(cfg ConsumerConfig) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.cfg = &FileConsumerInfo{Created: o.cfg.Created, Name: o.cfg.Name, ConsumerConfig: cfg}
	return o.writeConsumerMeta()
}

// SetStarting sets the starting stream sequence and writes the state at once.
func (o *consumerFileStore) SetStarting(sseq uint64) error {
	o.writeMu.Lock()
	defer o.writeMu.Unlock()
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return ErrStoreClosed
	}
	o.state.Delivered.Stream = sseq
	o.state.AckFloor.Stream = sseq
	buf := encodeConsumerState(&o.state)
	o.dirty = false
	o.mu.Unlock()
	return o.writeEncodedState(buf)
}

// UpdateStarting moves the starting stream sequence forward; the flusher
// writes it.
func (o *consumerFileStore) UpdateStarting(sseq uint64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if sseq > o.state.Delivered.Stream {
		o.state.Delivered.Stream = sseq
		// Without acks the floor follows delivered.
		if o.cfg.AckPolicy == AckNone {
			o.state.AckFloor.Stream = sseq
		}
	}
	o.kickFlusher()
}

// Reset clears the state and starts again at sseq.
func (o *consumerFileStore) Reset(sseq uint64) error {
	o.mu.Lock()
	o.state = ConsumerState{}
	o.mu.Unlock()
	return o.SetStarting(sseq)
}

// HasState reports whether the consumer has a state, in memory or on disk.
func (o *consumerFileStore) HasState() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.state.Delivered.Consumer != 0 || o.state.Delivered.Stream != 0 {
		return true
	}
	_, err := o.fs.fsys.Stat(o.stateFile)
	return err == nil
}

// UpdateDelivered records a delivery: consumer sequence dseq of stream
// sequence sseq, delivery count dc, at ts.
func (o *consumerFileStore) UpdateDelivered(dseq, sseq, dc uint64, ts int64) error {
	o.mu.Lock()
	defer o.mu.Unlock()

	if dc != 1 && o.cfg.AckPolicy == AckNone {
		return ErrNoAckPolicy
	}
	// A replay of an old delivery (a new leader replaying its log).
	if dseq <= o.state.AckFloor.Consumer {
		return nil
	}

	if o.cfg.AckPolicy != AckNone {
		if o.state.Pending == nil {
			o.state.Pending = make(map[uint64]*Pending)
		}
		if sseq <= o.state.Delivered.Stream {
			// A redelivery: only the time changes, the pending entry keeps
			// its first delivery sequence.
			if p := o.state.Pending[sseq]; p != nil {
				p.Timestamp = ts
			}
		} else {
			o.state.Pending[sseq] = &Pending{dseq, ts}
		}
		if dseq > o.state.Delivered.Consumer {
			o.state.Delivered.Consumer = dseq
		}
		if sseq > o.state.Delivered.Stream {
			o.state.Delivered.Stream = sseq
		}
		if dc > 1 {
			if maxdc := uint64(o.cfg.MaxDeliver); maxdc > 0 && dc > maxdc {
				delete(o.state.Pending, sseq)
			}
			if o.state.Redelivered == nil {
				o.state.Redelivered = make(map[uint64]uint64)
			}
			if o.state.Redelivered[sseq] < dc-1 {
				o.state.Redelivered[sseq] = dc - 1
			}
		}
	} else {
		// Without acks delivered and the floor move together.
		if dseq > o.state.Delivered.Consumer {
			o.state.Delivered.Consumer = dseq
			o.state.AckFloor.Consumer = dseq
		}
		if sseq > o.state.Delivered.Stream {
			o.state.Delivered.Stream = sseq
			o.state.AckFloor.Stream = sseq
		}
	}
	o.kickFlusher()
	return nil
}

// UpdateAcks records the ack of consumer sequence dseq, stream sequence sseq.
func (o *consumerFileStore) UpdateAcks(dseq, sseq uint64) error {
	o.mu.Lock()
	defer o.mu.Unlock()

	if o.cfg.AckPolicy == AckNone {
		return ErrNoAckPolicy
	}

	var kick bool
	defer func() {
		if kick {
			o.kickFlusher()
		}
	}()

	// An ack always ends the redelivery count, even when it is stale below.
	if _, ok := o.state.Redelivered[sseq]; ok {
		delete(o.state.Redelivered, sseq)
		kick = true
	}
	if dseq <= o.state.AckFloor.Consumer {
		return nil
	}
	if len(o.state.Pending) == 0 || o.state.Pending[sseq] == nil {
		return ErrStoreMsgNotFound
	}
	kick = true

	if o.cfg.AckPolicy == AckAll || o.cfg.AckPolicy == AckFlowControl {
		sgap := sseq - o.state.AckFloor.Stream
		o.state.AckFloor.Consumer = dseq
		o.state.AckFloor.Stream = sseq
		if sgap > uint64(len(o.state.Pending)) {
			// Fewer pending than sequences acked: walk the map.
			for seq := range o.state.Pending {
				if seq <= sseq {
					delete(o.state.Pending, seq)
					delete(o.state.Redelivered, seq)
				}
			}
		} else {
			for seq := sseq; seq > sseq-sgap && len(o.state.Pending) > 0; seq-- {
				delete(o.state.Pending, seq)
				delete(o.state.Redelivered, seq)
			}
		}
		return nil
	}

	// AckExplicit.
	if p, ok := o.state.Pending[sseq]; ok {
		delete(o.state.Pending, sseq)
		// The floor moves by first delivery sequences.
		if dseq > p.Sequence && p.Sequence > 0 {
			dseq = p.Sequence
		}
	}
	if len(o.state.Pending) == 0 {
		o.state.AckFloor.Consumer = o.state.Delivered.Consumer
		o.state.AckFloor.Stream = o.state.Delivered.Stream
	} else if dseq == o.state.AckFloor.Consumer+1 {
		o.state.AckFloor.Consumer = dseq
		o.state.AckFloor.Stream = sseq
		if o.state.Delivered.Consumer > dseq {
			// The floor moves up to just below the next pending message.
			for ss := sseq + 1; ss <= o.state.Delivered.Stream; ss++ {
				if p, ok := o.state.Pending[ss]; ok {
					if p.Sequence > 0 {
						o.state.AckFloor.Consumer = p.Sequence - 1
						o.state.AckFloor.Stream = ss - 1
					}
					break
				}
			}
		}
	}
	return nil
}

// RemoveRedeliveredBelow drops the redelivery counts of stream sequences
// below seq.
func (o *consumerFileStore) RemoveRedeliveredBelow(seq uint64) {
	if seq == 0 {
		return
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	var removed bool
	for s := range o.state.Redelivered {
		if s < seq {
			delete(o.state.Redelivered, s)
			removed = true
		}
	}
	if removed {
		o.kickFlusher()
	}
}

// checkConsumerStateUpdate validates a state handed to Update or
// ForceUpdate and returns a copy of its maps.
func checkConsumerStateUpdate(state *ConsumerState) (map[uint64]*Pending, map[uint64]uint64, error) {
	if state.AckFloor.Consumer > state.Delivered.Consumer {
		return nil, nil, errors.New("store: bad ack floor for consumer")
	}
	if state.AckFloor.Stream > state.Delivered.Stream {
		return nil, nil, errors.New("store: bad ack floor for stream")
	}
	var pending map[uint64]*Pending
	if len(state.Pending) > 0 {
		pending = make(map[uint64]*Pending, len(state.Pending))
		for seq, p := range state.Pending {
			if seq <= state.AckFloor.Stream || seq > state.Delivered.Stream {
				return nil, nil, fmt.Errorf("store: bad pending entry, sequence [%d] out of range", seq)
			}
			pending[seq] = &Pending{p.Sequence, p.Timestamp}
		}
	}
	var redelivered map[uint64]uint64
	if len(state.Redelivered) > 0 {
		redelivered = make(map[uint64]uint64, len(state.Redelivered))
		for seq, dc := range state.Redelivered {
			redelivered[seq] = dc
		}
	}
	return pending, redelivered, nil
}

// Update replaces the state with a newer one (as replicated from a leader);
// an older one is refused with ErrStoreOldUpdate. The flusher writes it.
func (o *consumerFileStore) Update(state *ConsumerState) error {
	pending, redelivered, err := checkConsumerStateUpdate(state)
	if err != nil {
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if state.Delivered.Consumer < o.state.Delivered.Consumer || state.AckFloor.Stream < o.state.AckFloor.Stream {
		return ErrStoreOldUpdate
	}
	o.state.Delivered = state.Delivered
	o.state.AckFloor = state.AckFloor
	o.state.Pending = pending
	o.state.Redelivered = redelivered
	o.kickFlusher()
	return nil
}

// ForceUpdate replaces the state even with an older one, as recovery does
// when it resets a consumer to the stream, and writes it at once. Unlike
// upstream, an all-zero state is written as such rather than replaced by
// what o.dat held.
func (o *consumerFileStore) ForceUpdate(state *ConsumerState) error {
	pending, redelivered, err := checkConsumerStateUpdate(state)
	if err != nil {
		return err
	}
	o.writeMu.Lock()
	defer o.writeMu.Unlock()
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return ErrStoreClosed
	}
	o.state.Delivered = state.Delivered
	o.state.AckFloor = state.AckFloor
	o.state.Pending = pending
	o.state.Redelivered = redelivered
	buf := encodeConsumerState(&o.state)
	o.dirty = false
	o.mu.Unlock()
	return o.writeEncodedState(buf)
}

// EncodedState returns the state in o.dat's (unencrypted) encoding.
func (o *consumerFileStore) EncodedState() ([]byte, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.encodeState()
}

// encodeState encodes the state, loading it from disk first if it is not in
// memory. mu held.
func (o *consumerFileStore) encodeState() ([]byte, error) {
	state, err := o.stateWithCopyLocked(false)
	if err != nil {
		return nil, err
	}
	return encodeConsumerState(state), nil
}

// copyPending returns a deep copy of the pending map. mu held.
func (o *consumerFileStore) copyPending() map[uint64]*Pending {
	pending := make(map[uint64]*Pending, len(o.state.Pending))
	for seq, p := range o.state.Pending {
		pending[seq] = &Pending{p.Sequence, p.Timestamp}
	}
	return pending
}

// copyRedelivered returns a copy of the redelivered map. mu held.
func (o *consumerFileStore) copyRedelivered() map[uint64]uint64 {
	redelivered := make(map[uint64]uint64, len(o.state.Redelivered))
	for seq, dc := range o.state.Redelivered {
		redelivered[seq] = dc
	}
	return redelivered
}

// Type returns FileStorage.
func (o *consumerFileStore) Type() StorageType { return FileStorage }

// State returns a copy of the state, read from disk if not yet in memory.
func (o *consumerFileStore) State() (*ConsumerState, error) {
	return o.stateWithCopy(true)
}

// BorrowState is State without copying the pending and redelivered maps;
// the caller must hold its own consumer lock while using them.
func (o *consumerFileStore) BorrowState() (*ConsumerState, error) {
	return o.stateWithCopy(false)
}

func (o *consumerFileStore) stateWithCopy(doCopy bool) (*ConsumerState, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.stateWithCopyLocked(doCopy)
}

// stateWithCopyLocked returns the state in memory or, when there is none,
// reads o.dat and keeps what it holds. mu held.
func (o *consumerFileStore) stateWithCopyLocked(doCopy bool) (*ConsumerState, error) {
	if o.closed {
		return nil, ErrStoreClosed
	}
	state := &ConsumerState{}
	if o.state.Delivered.Consumer != 0 || o.state.Delivered.Stream != 0 {
		state.Delivered = o.state.Delivered
		state.AckFloor = o.state.AckFloor
		if len(o.state.Pending) > 0 {
			if doCopy {
				state.Pending = o.copyPending()
			} else {
				state.Pending = o.state.Pending
			}
		}
		if len(o.state.Redelivered) > 0 {
			if doCopy {
				state.Redelivered = o.copyRedelivered()
			} else {
				state.Redelivered = o.state.Redelivered
			}
		}
		return state, nil
	}

	buf, err := vfs.ReadFile(o.fs.fsys, o.stateFile)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	if len(buf) == 0 {
		return state, nil
	}
	if o.aek != nil {
		if buf, err = openSealed(o.aek, buf); err != nil {
			return nil, err
		}
	}
	if state, err = decodeConsumerState(buf); err != nil {
		return nil, err
	}

	o.state.Delivered = state.Delivered
	o.state.AckFloor = state.AckFloor
	o.state.Pending, o.state.Redelivered = nil, nil
	if len(state.Pending) > 0 {
		o.state.Pending = state.Pending
		if doCopy {
			o.state.Pending = o.copyPending()
		}
	}
	if len(state.Redelivered) > 0 {
		o.state.Redelivered = state.Redelivered
		if doCopy {
			o.state.Redelivered = o.copyRedelivered()
		}
	}
	return state, nil
}

// loadState reads o.dat at startup, so a damaged state file fails the open.
// mu held (or the store not yet shared).
func (o *consumerFileStore) loadState() error {
	_, err := o.fs.fsys.Stat(o.stateFile)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	_, err = o.stateWithCopyLocked(false)
	return err
}
