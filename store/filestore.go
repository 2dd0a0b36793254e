package store

import (
	"crypto/cipher"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/minio/highwayhash"

	"github.com/porttracker/porttracker/store/ats"
	"github.com/porttracker/porttracker/store/stree"
	"github.com/porttracker/porttracker/store/thw"
	"github.com/porttracker/porttracker/store/vfs"
)

// Directory layout and sizes. The names and the block-size rules are format
// facts of nats-server v2.14.5.
const (
	// msgDir holds the message blocks and the stream state files.
	msgDir = "msgs"
	// purgeDir is where Purge moves the old msgs directory before removing it.
	purgeDir = "__msgs__"
	// newMsgDir holds the block with Purge's tombstone while msgs is swapped.
	newMsgDir = "__new_msgs__"
	// blkScan names a block file.
	blkScan = "%d.blk"
	// blkSuffix ends every block file name.
	blkSuffix = ".blk"
	// newScan names a compacted block before it replaces the original.
	newScan = "%d.new"
	// indexScan names a pre-2.10 per-block index file (legacy.go).
	indexScan = "%d.idx"
	// keyScan names a block's encryption key file.
	keyScan = "%d.key"
	// keyScanAll globs every block key file.
	keyScanAll = "*.key"
	// consumerDir holds one directory per consumer.
	consumerDir = "obs"
	// blkTmpSuffix is given to a block being rewritten in full.
	blkTmpSuffix = ".tmp"

	// JetStreamMetaFile is the stream (or consumer) config as JSON.
	JetStreamMetaFile = "meta.inf"
	// JetStreamMetaFileSum holds the hex highwayhash of meta.inf.
	JetStreamMetaFileSum = "meta.sum"
	// JetStreamMetaFileKey holds the wrapped stream key of an encrypted store.
	JetStreamMetaFileKey = "meta.key"

	// streamStreamStateFile is the full stream state snapshot.
	streamStreamStateFile = "index.db"
	// ttlStreamStateFile is the encoded TTL hash wheel.
	ttlStreamStateFile = "thw.db"
	// msgSchedulingStreamStateFile is the encoded message schedules.
	msgSchedulingStreamStateFile = "sched.db"

	defaultDirPerms  = os.FileMode(0o700)
	defaultFilePerms = os.FileMode(0o600)

	// defaultCacheBufferExpiration is how long an idle block keeps its cache.
	defaultCacheBufferExpiration = 10 * time.Second
	// defaultSyncInterval is how often blocks are fsynced in the background.
	defaultSyncInterval = 2 * time.Minute
	// closeFDsIdle is how long a block keeps its file open with no writes.
	closeFDsIdle = 30 * time.Second
	// defaultFssExpiration is how long an idle block keeps its subject state.
	defaultFssExpiration = 2 * time.Minute

	// defaultLargeBlockSize is the block size of limits-based streams.
	defaultLargeBlockSize = 8 * 1024 * 1024
	// defaultMediumBlockSize is the block size of work-queue and interest streams.
	defaultMediumBlockSize = 4 * 1024 * 1024
	// maximumEncryptedBlockSize caps blocks of encrypted stores.
	maximumEncryptedBlockSize = 2 * 1024 * 1024
	// maxBlockSize is the largest block size accepted.
	maxBlockSize = defaultLargeBlockSize
	// compactMinimum is the raw size from which removals compact a block inline.
	compactMinimum = 2 * 1024 * 1024
	// FileStoreMinBlkSize is the smallest block size dynBlkSize picks.
	FileStoreMinBlkSize = 32 * 1000
	// FileStoreMaxBlkSize is the largest block size dynBlkSize picks.
	FileStoreMaxBlkSize = maxBlockSize

	// highCardinalityThreshold: above this many subjects or interior deletes
	// index.db is only written when forced.
	highCardinalityThreshold = 1_000_000
)

// Errors of the file store. The texts follow upstream's where upstream has
// one, with the package prefix.
var (
	errNoCache       = errors.New("store: no message cache")
	errDeletedMsg    = errors.New("store: deleted message")
	errPartialCache  = errors.New("store: partial cache")
	errNoPending     = errors.New("store: message block does not have pending data")
	errNotReadable   = errors.New("store: storage directory not readable")
	errPriorState    = errors.New("store: prior state file")
	errPendingData   = errors.New("store: pending data still present")
	errNoMsgBlk      = errors.New("store: no message block")
	errMsgBlkTooBig  = errors.New("store: message block size exceeded int capacity")
	errNoMainKey     = errors.New("store: encrypted store encountered with no main key")
	errNoBlkData     = errors.New("store: message block data missing")
	errStateTooBig   = errors.New("store: store state too big for optional write")
	errNameRequired  = errors.New("store: name required")
	errNotFileStore  = errors.New("store: fileStore requires file storage type in config")
	errBlockTooLarge = fmt.Errorf("store: filestore max block size is %d bytes", maxBlockSize)
)

// FileStreamInfo is what meta.inf holds: the stream config and when the
// stream was created.
type FileStreamInfo struct {
	Created time.Time
	StreamConfig
}

// psi is the store-wide per-subject index entry: how many messages a subject
// has and the first and last block index that may hold one. fblk is only a
// lower bound; lookups move it forward lazily.
type psi struct {
	total uint64
	fblk  uint32
	lblk  uint32
}

// fileStore is a StreamStore keeping its messages in block files.
//
// Lock order: fileStore.mu before any msgBlock.mu, never the reverse. A
// method that needs fs.mu held says so or ends in Locked.
type fileStore struct {
	// mu guards every field below that is not atomic or documented
	// otherwise.
	mu sync.RWMutex

	fsys         vfs.FS
	state        StreamState
	tombs        []uint64        // tombstones found while rebuilding, applied after recovery
	lost         *LostStreamData // data recovery had to drop
	storageCB    StorageUpdateHandler
	removeCB     StorageRemoveMsgHandler
	processMsgCB ProcessJetStreamMsgHandler

	ageChk     *time.Timer // fires expireMsgs
	ageChkRun  bool        // expireMsgs is running
	ageChkTime int64       // when ageChk is due (unix nanos)
	syncTmr    *time.Timer // fires syncBlocks

	cfg  FileStreamInfo
	fcfg FileStoreConfig
	// syncAlways mirrors fcfg.SyncAlways for readers that do not hold mu.
	syncAlways atomic.Bool

	lastBlock    *msgBlock            // the block being appended to
	blocks       []*msgBlock          // every block, in index (and sequence) order
	blockByIndex map[uint32]*msgBlock // blocks by their file index
	perSubject   *stree.SubjectTree[psi]
	subjectBytes int // total length of the subjects in perSubject

	// writeStateMu allows one index.db writer at a time.
	writeStateMu sync.Mutex
	// writeStateRunning counts index.db writers running or waiting.
	writeStateRunning atomic.Int64
	// avgDmapLen is the average encoded delete map length per block,
	// guarded by writeStateMu.
	avgDmapLen int

	hasher    *highwayhash.Digest64 // keyed with sha256(stream name); meta.sum and index.db
	quit      chan struct{}         // closed on stop
	stateDone chan struct{}         // closed when the index.db loop exits

	// consumersMu guards consumers.
	consumersMu sync.RWMutex
	consumers   []ConsumerStore

	writeErr    error // first write error; every later write returns it
	dirty       int   // changes since index.db was last written
	closing     bool
	closed      atomic.Bool
	inPlace     atomic.Bool // flush writes as they happen (no AsyncFlush); read without fs.mu by blocks
	receivedAny bool
	firstMoved  bool // the first sequence moved; syncBlocks may drop tombstones
	ttls        *thw.HashWheel
	scheduling  *MsgScheduling // message schedules, when allowed
	sdm         *SDMMeta       // subject delete markers and removals asked for, not done yet

	snapshotsInProgress int // 0 or 1: Snapshot allows one at a time

	logger      Logger               // nil: log nothing; set at open, never changed
	logName     string               // the stream's name for log lines; set at open, never changed
	logMu       sync.Mutex           // guards rateLimited
	rateLimited map[string]time.Time // lines rateLimitWarn logged, and when
	lastPurgeEx time.Time

	// Encryption: prf and oldprf derive key-encryption keys (nil: the store
	// is plain); aek is the stream's asset key, sealing meta.inf and
	// index.db. rotateMetaKey says meta.key only opened with the old key or
	// cipher and is replaced once recovery is done.
	prf           keyGen
	oldprf        keyGen
	aek           cipher.AEAD
	rotateMetaKey bool

	// compressWG counts blocks being compressed in the background.
	compressWG sync.WaitGroup
}

// msgId is a sequence and its timestamp.
type msgId struct {
	seq uint64
	ts  int64
}

// FileStoreOptions are the inputs of a file store besides the two configs.
type FileStoreOptions struct {
	// FS is the file system to use; nil means the operating system's.
	FS vfs.FS
	// Created is the stream's creation time recorded in meta.inf; zero
	// means now.
	Created time.Time
	// PRF, when set, encrypts the store with FileStoreConfig.Cipher: it
	// derives the key-encryption key of each key file from a context
	// (upstream's prf; a server hashes its account name first).
	PRF func(context []byte) ([]byte, error)
	// OldPRF is a previous PRF: keys it sealed are re-keyed with PRF.
	OldPRF func(context []byte) ([]byte, error)
	// Logger receives the store's log lines; nil discards them.
	Logger Logger
}

// Logger receives the store's log lines, each prefixed with
// "Filestore [<stream>] " (upstream logs through its server).
type Logger interface {
	Warnf(format string, args ...any)
	Errorf(format string, args ...any)
	Debugf(format string, args ...any)
}

// NewFileStore opens (recovering it if it exists) or creates the file store
// of a stream in fcfg.StoreDir.
func NewFileStore(fcfg FileStoreConfig, cfg StreamConfig) (StreamStore, error) {
	return NewFileStoreWithOptions(fcfg, cfg, FileStoreOptions{})
}

// NewFileStoreWithOptions is NewFileStore with a chosen file system and
// creation time.
func NewFileStoreWithOptions(fcfg FileStoreConfig, cfg StreamConfig, opts FileStoreOptions) (StreamStore, error) {
	created := opts.Created
	if created.IsZero() {
		created = time.Now().UTC()
	}
	fs, err := openFileStoreLogged(opts.FS, fcfg, cfg, created, opts.PRF, opts.OldPRF, opts.Logger)
	if err != nil {
		return nil, err
	}
	return fs, nil
}

// newFileStore opens a plain store on the OS file system, created now.
func newFileStore(fcfg FileStoreConfig, cfg StreamConfig) (*fileStore, error) {
	return newFileStoreWithCreated(fcfg, cfg, time.Now().UTC(), nil)
}

// newFileStoreWithCreated opens or creates a store on the OS file system
// (upstream's signature, with oldprf optional).
func newFileStoreWithCreated(fcfg FileStoreConfig, cfg StreamConfig, created time.Time, prf keyGen, oldprf ...keyGen) (*fileStore, error) {
	var old keyGen
	if len(oldprf) > 0 {
		old = oldprf[0]
	}
	return openFileStore(nil, fcfg, cfg, created, prf, old)
}

// openFileStore opens or creates a store. fsys nil means the OS; prf nil
// means no encryption.
func openFileStore(fsys vfs.FS, fcfg FileStoreConfig, cfg StreamConfig, created time.Time, prf, oldprf keyGen) (*fileStore, error) {
	return openFileStoreLogged(fsys, fcfg, cfg, created, prf, oldprf, nil)
}

// openFileStoreLogged is openFileStore with a logger (nil: none).
func openFileStoreLogged(fsys vfs.FS, fcfg FileStoreConfig, cfg StreamConfig, created time.Time, prf, oldprf keyGen, logger Logger) (fs *fileStore, err error) {
	if cfg.Name == _EMPTY_ {
		return nil, errNameRequired
	}
	if cfg.Storage != FileStorage {
		return nil, errNotFileStore
	}
	if fsys == nil {
		fsys = vfs.Default
	}
	if fcfg.BlockSize == 0 {
		fcfg.BlockSize = dynBlkSize(cfg.Retention, cfg.MaxBytes, prf != nil)
	}
	if fcfg.BlockSize > maxBlockSize {
		return nil, errBlockTooLarge
	}
	if fcfg.CacheExpire == 0 {
		fcfg.CacheExpire = defaultCacheBufferExpiration
	}
	if fcfg.SubjectStateExpire == 0 {
		fcfg.SubjectStateExpire = defaultFssExpiration
	}
	if fcfg.SyncInterval == 0 {
		fcfg.SyncInterval = defaultSyncInterval
	}
	if fcfg.Compression != NoCompression && fcfg.Compression != S2Compression {
		return nil, fmt.Errorf("store: unknown compression %v", fcfg.Compression)
	}

	if err := ensureStoreDir(fsys, fcfg.StoreDir); err != nil {
		return nil, err
	}

	// The access-time ticker runs while any store is open.
	ats.Register()
	defer func() {
		if err != nil {
			ats.Unregister()
		}
	}()

	fs = &fileStore{
		fsys:         fsys,
		fcfg:         fcfg,
		perSubject:   stree.NewSubjectTree[psi](),
		blockByIndex: make(map[uint32]*msgBlock),
		cfg:          FileStreamInfo{Created: created, StreamConfig: cfg},
		quit:         make(chan struct{}),
		stateDone:    make(chan struct{}),
		prf:          prf,
		oldprf:       oldprf,
		logger:       logger,
		logName:      cfg.Name,
	}
	fs.syncAlways.Store(fcfg.SyncAlways)
	if cfg.AllowMsgTTL {
		fs.ttls = thw.NewHashWheel()
	}
	if cfg.AllowMsgSchedules {
		fs.scheduling = newMsgScheduling(fs.runMsgScheduling)
	}
	fs.inPlace.Store(!fcfg.AsyncFlush)

	mdir := filepath.Join(fcfg.StoreDir, msgDir)
	odir := filepath.Join(fcfg.StoreDir, consumerDir)
	for _, dir := range []string{mdir, odir} {
		if err := fs.mkdirDurable(dir); err != nil {
			return nil, fmt.Errorf("store: could not create storage directory: %w", err)
		}
	}

	key := sha256.Sum256([]byte(cfg.Name))
	if fs.hasher, err = highwayhash.NewDigest64(key[:]); err != nil {
		return nil, fmt.Errorf("store: could not create hash: %w", err)
	}

	// An encrypted store cannot be opened without its key generator.
	keyFile := filepath.Join(fcfg.StoreDir, JetStreamMetaFileKey)
	if _, err := fsys.Stat(keyFile); err == nil {
		if fs.prf == nil {
			return nil, errNoMainKey
		}
		if err := fs.recoverAEK(); err != nil {
			return nil, err
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}

	if err = fs.recoverFullState(); err != nil {
		prior := fs.state
		fs.state = StreamState{}
		fs.perSubject, fs.subjectBytes = fs.perSubject.Empty(), 0
		fs.blockByIndex = make(map[uint32]*msgBlock)
		fs.blocks = nil
		fs.lastBlock = nil
		fs.tombs = nil

		if err := fs.recoverMsgs(); err != nil {
			return nil, err
		}

		fs.mu.Lock()
		// index.db remembered a later last sequence than the blocks hold
		// (the tail was lost): keep the sequence from going backwards.
		if prior.LastSeq > fs.state.LastSeq && !fs.fcfg.AsyncFlush {
			mb, err := fs.newMsgBlockForWrite()
			if err == nil {
				err = mb.writeTombstone(prior.LastSeq, prior.LastTime.UnixNano())
			}
			if err != nil {
				fs.mu.Unlock()
				return nil, err
			}
			fs.state.LastSeq, fs.state.LastTime = prior.LastSeq, prior.LastTime
			if fs.state.Msgs == 0 {
				fs.state.FirstSeq = fs.state.LastSeq + 1
				fs.state.FirstTime = time.Time{}
			}
		}
		fs.dirty++
		fs.mu.Unlock()
	}

	// Whether the last block's data reached the disk before the restart is
	// unknown: sync it before a later block can exist.
	fs.mu.Lock()
	if lmb := fs.lastBlock; lmb != nil {
		lmb.mu.Lock()
		lmb.needSync = lmb.rawBytes > 0 && !fcfg.SyncAlways
		lmb.mu.Unlock()
	}
	fs.mu.Unlock()

	if err := fs.finishRecovery(); err != nil {
		fs.closeAllMsgBlocks(false)
		return nil, err
	}

	// The configured first sequence wins over a lower recovered one.
	fs.mu.RLock()
	firstSeq := fs.state.FirstSeq
	fs.mu.RUnlock()
	if cfg.FirstSeq > 0 && firstSeq < cfg.FirstSeq {
		if _, err := fs.purge(cfg.FirstSeq); err != nil {
			fs.closeAllMsgBlocks(false)
			return nil, err
		}
	}

	// meta.inf is only written when missing or empty, so a recovered store
	// keeps the config it was created with until UpdateConfig. An encrypted
	// store without meta.key (restored from a plain snapshot) or whose key
	// is being rotated writes it again, with a new key.
	meta := filepath.Join(fcfg.StoreDir, JetStreamMetaFile)
	_, kerr := fsys.Stat(keyFile)
	needKey := fs.prf != nil && (errors.Is(kerr, os.ErrNotExist) || fs.rotateMetaKey)
	if needKey {
		fs.mu.Lock()
		fs.aek, fs.rotateMetaKey = nil, false
		fs.dirty++
		fs.mu.Unlock()
	}
	if fi, err := fsys.Stat(meta); err != nil && errors.Is(err, os.ErrNotExist) || fi != nil && fi.Size() == 0 || needKey {
		fs.mu.Lock()
		err := fs.writeStreamMeta()
		fs.mu.Unlock()
		if err != nil {
			fs.closeAllMsgBlocks(false)
			return nil, err
		}
	}

	fs.mu.Lock()
	fs.setSyncTimer()
	fs.mu.Unlock()
	go fs.flushStreamStateLoop(fs.quit, fs.stateDone)

	return fs, nil
}

// finishRecovery applies what recovery collected: TTL state, tombstones and
// the limits.
func (fs *fileStore) finishRecovery() error {
	fs.mu.Lock()
	defer fs.mu.Unlock()

	// Pre-2.10 per-block files are never read again. Upstream removes them
	// in a goroutine; inline keeps the store's file set settled on return.
	fs.cleanupOldMeta()

	if fs.cfg.AllowMsgTTL {
		// A damaged thw.db only costs a scan; recoverTTLState falls back.
		_ = fs.recoverTTLState()
	}
	if fs.cfg.AllowMsgSchedules {
		// Likewise for sched.db.
		if err := fs.recoverMsgSchedulingState(); err != nil {
			fs.warn("Recovering message scheduling state from index errored: %v", err)
		}
	}

	for _, seq := range fs.tombs {
		if _, err := fs.removeMsg(seq, false, true, false); err != nil && err != ErrStoreEOF && err != ErrStoreMsgNotFound {
			return err
		}
		fs.removeFromLostData(seq)
	}
	fs.tombs = nil

	if err := fs.enforceMsgLimit(); err != nil {
		return err
	}
	if err := fs.enforceBytesLimit(); err != nil {
		return err
	}
	if fs.cfg.MaxAge != 0 {
		if err := fs.expireMsgsOnRecover(); err != nil {
			return err
		}
		fs.startAgeChk()
	}
	if fs.cfg.MaxMsgsPer > 0 {
		if err := fs.enforceMsgPerSubjectLimit(false); err != nil {
			return err
		}
	}
	return nil
}

// ensureStoreDir creates the store directory or checks it is a writable
// directory.
func ensureStoreDir(fsys vfs.FS, dir string) error {
	fi, err := fsys.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := fsys.MkdirAll(dir, defaultDirPerms); err != nil {
			return fmt.Errorf("store: could not create storage directory: %w", err)
		}
		// Make the new directory's entry durable in its parent.
		_ = syncDir(fsys, filepath.Dir(dir))
	case err != nil:
		return err
	case !fi.IsDir():
		return errors.New("store: storage directory is not a directory")
	}
	probe := filepath.Join(dir, "_test_")
	f, err := fsys.Create(probe, defaultFilePerms)
	if err != nil {
		return errors.New("store: storage directory is not writable")
	}
	_ = f.Close()
	return fsys.Remove(probe)
}

// mkdirDurable creates dir if needed and syncs its parent so the new entry
// survives a crash.
func (fs *fileStore) mkdirDurable(dir string) error {
	if _, err := fs.fsys.Stat(dir); err == nil {
		return nil
	}
	if err := fs.fsys.MkdirAll(dir, defaultDirPerms); err != nil {
		return err
	}
	return syncDir(fs.fsys, filepath.Dir(dir))
}

// dynBlkSize picks a block size from the retention and byte limit.
func dynBlkSize(retention RetentionPolicy, maxBytes int64, encrypted bool) uint64 {
	if maxBytes > 0 {
		// A quarter of the limit (25% overhead), rounded up to 100 bytes.
		blkSize := (maxBytes / 4) + 1
		if m := blkSize % 100; m != 0 {
			blkSize += 100 - m
		}
		if blkSize <= FileStoreMinBlkSize {
			blkSize = FileStoreMinBlkSize
		} else if blkSize >= FileStoreMaxBlkSize {
			blkSize = FileStoreMaxBlkSize
		} else {
			blkSize = defaultMediumBlockSize
		}
		if encrypted && blkSize > maximumEncryptedBlockSize {
			blkSize = maximumEncryptedBlockSize
		}
		return uint64(blkSize)
	}
	switch {
	case encrypted:
		// Encrypted blocks are rewritten whole on many updates; keep them small.
		return maximumEncryptedBlockSize
	case retention == LimitsPolicy:
		return defaultLargeBlockSize
	default:
		return defaultMediumBlockSize
	}
}

// lockAllMsgBlocks write-locks every block. fs.mu held.
func (fs *fileStore) lockAllMsgBlocks() {
	for _, mb := range fs.blocks {
		mb.mu.Lock()
	}
}

// unlockAllMsgBlocks undoes lockAllMsgBlocks. fs.mu held.
func (fs *fileStore) unlockAllMsgBlocks() {
	for _, mb := range fs.blocks {
		mb.mu.Unlock()
	}
}

// readLockAllMsgBlocks read-locks every block. fs.mu held.
func (fs *fileStore) readLockAllMsgBlocks() {
	for _, mb := range fs.blocks {
		mb.mu.RLock()
	}
}

// readUnlockAllMsgBlocks undoes readLockAllMsgBlocks. fs.mu held.
func (fs *fileStore) readUnlockAllMsgBlocks() {
	for _, mb := range fs.blocks {
		mb.mu.RUnlock()
	}
}

// UpdateConfig applies a new stream config: it rewrites meta.inf and
// enforces the new limits at once.
func (fs *fileStore) UpdateConfig(cfg *StreamConfig) error {
	if fs.isClosed() {
		return ErrStoreClosed
	}
	if cfg.Name == _EMPTY_ {
		return errNameRequired
	}
	if cfg.Storage != FileStorage {
		return errNotFileStore
	}
	if cfg.MaxMsgsPer < -1 {
		cfg.MaxMsgsPer = -1
	}

	fs.mu.Lock()
	newCfg := FileStreamInfo{Created: fs.cfg.Created, StreamConfig: *cfg}
	oldCfg := fs.cfg
	fs.lockAllMsgBlocks()
	fs.cfg = newCfg
	fs.unlockAllMsgBlocks()
	if err := fs.writeStreamMeta(); err != nil {
		fs.lockAllMsgBlocks()
		fs.cfg = oldCfg
		fs.unlockAllMsgBlocks()
		fs.mu.Unlock()
		return err
	}

	if cfg.AllowMsgTTL && fs.ttls == nil {
		if err := fs.recoverTTLState(); err != nil {
			fs.mu.Unlock()
			return err
		}
	} else if !cfg.AllowMsgTTL && fs.ttls != nil {
		fs.ttls = nil
	}
	if cfg.AllowMsgSchedules && fs.scheduling == nil {
		if err := fs.recoverMsgSchedulingState(); err != nil {
			fs.mu.Unlock()
			return err
		}
	} else if !cfg.AllowMsgSchedules && fs.scheduling != nil {
		clearTimer(&fs.scheduling.timer)
		fs.scheduling = nil
	}

	if err := fs.enforceMsgLimit(); err != nil {
		fs.mu.Unlock()
		return err
	}
	if err := fs.enforceBytesLimit(); err != nil {
		fs.mu.Unlock()
		return err
	}

	if fs.ageChk == nil && fs.cfg.MaxAge != 0 {
		fs.startAgeChk()
	}
	if fs.ageChk != nil && fs.cfg.MaxAge == 0 && fs.ttls == nil {
		fs.cancelAgeChk()
	}

	if fs.cfg.MaxMsgsPer > 0 && (oldCfg.MaxMsgsPer <= 0 || fs.cfg.MaxMsgsPer < oldCfg.MaxMsgsPer) {
		if err := fs.enforceMsgPerSubjectLimit(true); err != nil {
			fs.mu.Unlock()
			return err
		}
	}

	if lmb := fs.lastBlock; lmb != nil {
		// As upstream: replicated streams (the replicas have the data)
		// flush asynchronously unless syncing always, and async
		// persistence opts in, turning sync-always off.
		async := !fs.fcfg.SyncAlways && cfg.Replicas > 1
		if cfg.PersistMode == AsyncPersistMode {
			async = true
			fs.fcfg.SyncAlways = false
			fs.syncAlways.Store(false)
			for _, mb := range fs.blocks {
				mb.mu.Lock()
				mb.syncAlways = false
				mb.mu.Unlock()
			}
		}
		switch {
		case async && !fs.fcfg.AsyncFlush:
			fs.fcfg.AsyncFlush = true
			fs.inPlace.Store(false)
			lmb.spinUpFlushLoop()
		case !async && fs.fcfg.AsyncFlush:
			fs.fcfg.AsyncFlush = false
			fs.inPlace.Store(true)
			lmb.mu.Lock()
			lmb.stopFlusherLocked()
			_, err := lmb.flushPendingMsgsLocked()
			lmb.mu.Unlock()
			if err != nil {
				fs.mu.Unlock()
				return err
			}
		}
	}
	fs.mu.Unlock()

	if cfg.MaxAge != 0 || cfg.AllowMsgTTL {
		fs.expireMsgs()
	}
	if cfg.AllowMsgSchedules {
		fs.runMsgScheduling()
	}
	return nil
}

// isClosed reports whether Stop or Delete ran.
func (fs *fileStore) isClosed() bool {
	return fs.closed.Load()
}

// RegisterStorageUpdates registers the callback told of every change in
// stored messages and bytes. It is called at once with the current bytes.
func (fs *fileStore) RegisterStorageUpdates(cb StorageUpdateHandler) {
	fs.mu.Lock()
	fs.storageCB = cb
	bsz := fs.state.Bytes
	fs.mu.Unlock()
	if cb != nil && bsz > 0 {
		cb(0, int64(bsz), 0, _EMPTY_)
	}
}

// RegisterStorageRemoveMsg registers the callback asked to remove expired
// messages when subject delete markers are on.
func (fs *fileStore) RegisterStorageRemoveMsg(cb StorageRemoveMsgHandler) {
	fs.mu.Lock()
	fs.removeCB = cb
	fs.mu.Unlock()
}

// RegisterProcessJetStreamMsg registers the callback handed subject delete
// markers to publish.
func (fs *fileStore) RegisterProcessJetStreamMsg(cb ProcessJetStreamMsgHandler) {
	fs.mu.Lock()
	fs.processMsgCB = cb
	fs.mu.Unlock()
}

// Type returns FileStorage.
func (fs *fileStore) Type() StorageType {
	return FileStorage
}

// fileStoreConfig returns the effective store config (defaults filled in).
func (fs *fileStore) fileStoreConfig() FileStoreConfig {
	fs.mu.RLock()
	defer fs.mu.RUnlock()
	return fs.fcfg
}

// hashKeyForBlock is the string whose sha256 keys a block's record hashes.
func (fs *fileStore) hashKeyForBlock(index uint32) []byte {
	return []byte(fmt.Sprintf("%s-%d", fs.cfg.Name, index))
}

// noTrackSubjects reports whether per-subject state is pointless: no
// subjects known or configured. fs.mu held.
func (fs *fileStore) noTrackSubjects() bool {
	return !(fs.perSubject.Size() > 0 || len(fs.cfg.Subjects) > 0 || fs.cfg.Mirror != nil || len(fs.cfg.Sources) > 0)
}

// numSubjects is the number of distinct subjects stored. fs.mu held.
func (fs *fileStore) numSubjects() int {
	return fs.perSubject.Size()
}

// numConsumers counts registered consumer stores.
func (fs *fileStore) numConsumers() int {
	fs.consumersMu.RLock()
	defer fs.consumersMu.RUnlock()
	return len(fs.consumers)
}

// lastSeq returns the last sequence.
func (fs *fileStore) lastSeq() uint64 {
	fs.mu.RLock()
	defer fs.mu.RUnlock()
	return fs.state.LastSeq
}

// numMsgBlocks returns the number of blocks.
func (fs *fileStore) numMsgBlocks() int {
	fs.mu.RLock()
	defer fs.mu.RUnlock()
	return len(fs.blocks)
}

// accessTime is the clock for activity stamps and expiry checks: the shared
// access-time ticker, which is cheaper than time.Now on every write and
// read and at most ats.TickInterval stale.
func accessTime() int64 { return ats.AccessTime() }

// rateLimitWarnInterval is how long rateLimitWarn keeps quiet about a
// line it logged (upstream's server-wide default).
const rateLimitWarnInterval = time.Second

// logPrefix prefixes format with the store's name, as upstream's lines.
func (fs *fileStore) logPrefix(format string) string {
	return fmt.Sprintf("Filestore [%s] %s", fs.logName, format)
}

// warn logs a warning; without a logger it does nothing.
func (fs *fileStore) warn(format string, args ...any) {
	if fs.logger != nil {
		fs.logger.Warnf(fs.logPrefix(format), args...)
	}
}

// rateLimitWarn logs a warning unless the same line was logged within
// rateLimitWarnInterval.
func (fs *fileStore) rateLimitWarn(format string, args ...any) {
	if fs.logger == nil {
		return
	}
	line := fmt.Sprintf(format, args...)
	now := time.Now()
	fs.logMu.Lock()
	if last, ok := fs.rateLimited[line]; ok && now.Sub(last) < rateLimitWarnInterval {
		fs.logMu.Unlock()
		return
	}
	if fs.rateLimited == nil {
		fs.rateLimited = make(map[string]time.Time)
	}
	// Forget lines whose quiet time is over, so the map stays small.
	for k, t := range fs.rateLimited {
		if now.Sub(t) >= rateLimitWarnInterval {
			delete(fs.rateLimited, k)
		}
	}
	fs.rateLimited[line] = now
	fs.logMu.Unlock()
	fs.logger.Warnf(fs.logPrefix("%s"), line)
}

// error logs an error; without a logger it does nothing.
func (fs *fileStore) error(format string, args ...any) {
	if fs.logger != nil {
		fs.logger.Errorf(fs.logPrefix(format), args...)
	}
}

// debug logs a debug line; without a logger it does nothing.
func (fs *fileStore) debug(format string, args ...any) {
	if fs.logger != nil {
		fs.logger.Debugf(fs.logPrefix(format), args...)
	}
}
