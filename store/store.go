package store

import (
	"io"
	"time"
	"unsafe"

	"github.com/porttracker/porttracker/store/gsl"
)

// _EMPTY_ is the empty string, named so that "no subject" reads as intent.
const _EMPTY_ = ""

// StoreMsg is a message as the store layer keeps it. Loads fill a caller's
// StoreMsg so that its buffer can be reused across calls.
type StoreMsg struct {
	subj string
	hdr  []byte // headers; a view into buf
	msg  []byte // payload; a view into buf
	buf  []byte // backing storage for hdr and msg
	seq  uint64
	ts   int64 // nanoseconds since the Unix epoch
}

// Subject returns the subject the message was stored under.
func (sm *StoreMsg) Subject() string { return sm.subj }

// Header returns the message headers. The slice aliases the StoreMsg buffer.
func (sm *StoreMsg) Header() []byte { return sm.hdr }

// Data returns the message payload. The slice aliases the StoreMsg buffer.
func (sm *StoreMsg) Data() []byte { return sm.msg }

// Sequence returns the stream sequence of the message.
func (sm *StoreMsg) Sequence() uint64 { return sm.seq }

// Timestamp returns the store time in nanoseconds since the Unix epoch.
func (sm *StoreMsg) Timestamp() int64 { return sm.ts }

// copy makes sm a deep copy of smo, reusing sm's buffer when it has one.
func (smo *StoreMsg) copy(sm *StoreMsg) {
	sm.buf = append(sm.buf[:0], smo.buf...)
	hlen := len(smo.hdr)
	// The header is capped so that appending to it cannot overwrite the payload.
	sm.hdr = sm.buf[:hlen:hlen]
	sm.msg = sm.buf[hlen:]
	sm.subj, sm.seq, sm.ts = smo.subj, smo.seq, smo.ts
}

// clear resets every field but keeps the buffer (emptied) for reuse.
func (sm *StoreMsg) clear() {
	if sm == nil {
		return
	}
	buf := sm.buf
	if len(buf) > 0 {
		buf = buf[:0]
	}
	*sm = StoreMsg{buf: buf}
}

// StorageUpdateHandler is called when stored messages and bytes change. For a
// single message the sequence and subject are supplied as well.
type StorageUpdateHandler func(msgs, bytes int64, seq uint64, subj string)

// StorageRemoveMsgHandler asks the upper layer to remove a message.
type StorageRemoveMsgHandler func(seq uint64)

// ProcessJetStreamMsgHandler hands a message (a subject delete marker or a
// scheduled message) to the upper layer, which proposes it when replicated.
type ProcessJetStreamMsgHandler func(*inMsg)

// inMsg is a message the store asks the upper layer to publish into the
// stream. The server's routing fields (source info, tracing) are left out.
type inMsg struct {
	subj string
	rply string
	hdr  []byte
	msg  []byte
	seq  uint64 // optional, for ordering out of band
}

// Subject returns the subject to publish on.
func (im *inMsg) Subject() string { return im.subj }

// Reply returns the reply subject, if any.
func (im *inMsg) Reply() string { return im.rply }

// Header returns the message headers.
func (im *inMsg) Header() []byte { return im.hdr }

// Data returns the message payload.
func (im *inMsg) Data() []byte { return im.msg }

// StreamStore is the storage of one stream. The method set is upstream's
// (nats-server v2.14.5), so code written against it compiles against this.
type StreamStore interface {
	StoreMsg(subject string, hdr, msg []byte, ttl int64) (uint64, int64, error)
	StoreRawMsg(subject string, hdr, msg []byte, seq uint64, ts int64, ttl int64, discardNewCheck bool) error
	SkipMsg(seq uint64) (uint64, error)
	SkipMsgNoInterest(seq uint64) (uint64, error)
	SkipMsgs(seq uint64, num uint64) error
	FlushAllPending() error
	LoadMsg(seq uint64, sm *StoreMsg) (*StoreMsg, error)
	LoadNextMsg(filter string, wc bool, start uint64, smp *StoreMsg) (sm *StoreMsg, skip uint64, err error)
	LoadNextMsgMulti(sl *gsl.SimpleSublist, start uint64, smp *StoreMsg) (sm *StoreMsg, skip uint64, err error)
	LoadLastMsg(subject string, sm *StoreMsg) (*StoreMsg, error)
	LoadPrevMsg(filter string, wc bool, start uint64, smp *StoreMsg) (sm *StoreMsg, skip uint64, err error)
	LoadPrevMsgMulti(sl *gsl.SimpleSublist, start uint64, smp *StoreMsg) (sm *StoreMsg, skip uint64, err error)
	RemoveMsg(seq uint64) (bool, error)
	EraseMsg(seq uint64) (bool, error)
	Purge() (uint64, error)
	PurgeEx(subject string, seq, keep uint64) (uint64, error)
	Compact(seq uint64) (uint64, error)
	Truncate(seq uint64) error
	GetSeqFromTime(t time.Time) uint64
	FilteredState(seq uint64, subject string) (SimpleState, error)
	SubjectsState(filterSubject string) map[string]SimpleState
	SubjectsTotals(filterSubject string) map[string]uint64
	AllLastSeqs() ([]uint64, error)
	MultiLastSeqs(filters []string, maxSeq uint64, maxAllowed int) ([]uint64, error)
	SubjectForSeq(seq uint64) (string, error)
	NumPending(sseq uint64, filter string, lastPerSubject bool) (total, validThrough uint64, err error)
	NumPendingMulti(sseq uint64, sl *gsl.SimpleSublist, lastPerSubject bool) (total, validThrough uint64, err error)
	State() StreamState
	FastState(*StreamState)
	EncodedStreamState(failed uint64) (enc []byte, err error)
	SyncDeleted(dbs DeleteBlocks) error
	Type() StorageType
	RegisterStorageUpdates(StorageUpdateHandler)
	RegisterStorageRemoveMsg(StorageRemoveMsgHandler)
	RegisterProcessJetStreamMsg(ProcessJetStreamMsgHandler)
	UpdateConfig(cfg *StreamConfig) error
	Delete(inline bool) error
	Stop() error
	ConsumerStore(name string, created time.Time, cfg *ConsumerConfig) (ConsumerStore, error)
	AddConsumer(o ConsumerStore) error
	RemoveConsumer(o ConsumerStore) error
	Snapshot(deadline time.Duration, includeConsumers, checkMsgs bool) (*SnapshotResult, error)
	Utilization() (total, reported uint64, err error)
	ResetState()
}

// ConsumerStore is the storage of one consumer's delivery and ack state.
type ConsumerStore interface {
	SetStarting(sseq uint64) error
	UpdateStarting(sseq uint64)
	Reset(sseq uint64) error
	HasState() bool
	UpdateDelivered(dseq, sseq, dc uint64, ts int64) error
	UpdateAcks(dseq, sseq uint64) error
	RemoveRedeliveredBelow(seq uint64)
	UpdateConfig(cfg *ConsumerConfig) error
	Update(*ConsumerState) error
	ForceUpdate(*ConsumerState) error
	State() (*ConsumerState, error)
	BorrowState() (*ConsumerState, error)
	EncodedState() ([]byte, error)
	Type() StorageType
	Stop() error
	Delete() error
	StreamDelete() error
}

// StreamState describes the messages a stream holds.
type StreamState struct {
	Msgs        uint64            `json:"messages"`
	Bytes       uint64            `json:"bytes"`
	FirstSeq    uint64            `json:"first_seq"`
	FirstTime   time.Time         `json:"first_ts"`
	LastSeq     uint64            `json:"last_seq"`
	LastTime    time.Time         `json:"last_ts"`
	NumSubjects int               `json:"num_subjects,omitempty"`
	Subjects    map[string]uint64 `json:"subjects,omitempty"`
	NumDeleted  int               `json:"num_deleted,omitempty"`
	Deleted     []uint64          `json:"deleted,omitempty"`
	Lost        *LostStreamData   `json:"lost,omitempty"`
	Consumers   int               `json:"consumer_count"`
}

// SimpleState is the state of the messages matching one subject or filter.
type SimpleState struct {
	Msgs  uint64 `json:"messages"`
	First uint64 `json:"first_seq"`
	Last  uint64 `json:"last_seq"`

	// firstNeedsUpdate marks First as stale (a removal moved it) so it is
	// recomputed lazily before use.
	firstNeedsUpdate bool
	// lastNeedsUpdate is the same for Last.
	lastNeedsUpdate bool
}

// LostStreamData lists messages found corrupt or missing during recovery.
type LostStreamData struct {
	Msgs  []uint64 `json:"msgs"`
	Bytes uint64   `json:"bytes"`
}

// SnapshotResult is a stream snapshot being streamed to Reader.
type SnapshotResult struct {
	Reader io.ReadCloser
	State  StreamState
	errCh  chan string // carries the snapshot writer's failure, if any
}

// SequencePair is a consumer sequence and the stream sequence of the same message.
type SequencePair struct {
	Consumer uint64 `json:"consumer_seq"`
	Stream   uint64 `json:"stream_seq"`
}

// ConsumerState is the stored state of a consumer.
type ConsumerState struct {
	// Delivered is the last delivered message, in consumer and stream terms.
	Delivered SequencePair `json:"delivered"`
	// AckFloor is the highest message below which everything is acknowledged.
	AckFloor SequencePair `json:"ack_floor"`
	// Pending maps stream sequences delivered but not yet acknowledged to
	// their delivery; only kept for explicit (or all) acks.
	Pending map[uint64]*Pending `json:"pending,omitempty"`
	// Redelivered maps stream sequences delivered more than once to their
	// delivery count.
	Redelivered map[uint64]uint64 `json:"redelivered,omitempty"`
}

// Pending is one unacknowledged delivery: its consumer sequence and when it
// was delivered (nanoseconds since the Unix epoch).
type Pending struct {
	Sequence  uint64
	Timestamp int64
}

// bytesToString returns a string sharing b's memory, without a copy. Only use
// it when b outlives the string and is not modified while the string is used.
func bytesToString(b []byte) string {
	if len(b) == 0 {
		return _EMPTY_
	}
	return unsafe.String(unsafe.SliceData(b), len(b))
}

// stringToBytes returns the bytes of s without a copy. They must not be written.
func stringToBytes(s string) []byte {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

// copyString returns a copy of s that shares no memory with it, for keeping a
// string that may have come from bytesToString.
func copyString(s string) string {
	b := make([]byte, len(s))
	copy(b, s)
	return bytesToString(b)
}
