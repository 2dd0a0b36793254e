package store

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// StorageType says where a stream or consumer keeps its data. The values
// are upstream's and appear in stored configs.
type StorageType int

const (
	// FileStorage keeps data on disk under the configured store directory.
	FileStorage = StorageType(22)
	// MemoryStorage keeps data in memory only.
	MemoryStorage = StorageType(33)
)

// RetentionPolicy says when a stream may drop messages.
type RetentionPolicy int

const (
	// LimitsPolicy (the default) keeps messages until a limit (MaxMsgs,
	// MaxBytes, MaxAge, ...) removes them.
	LimitsPolicy RetentionPolicy = iota
	// InterestPolicy removes a message once every known consumer acked it.
	InterestPolicy
	// WorkQueuePolicy removes a message once any consumer acked it.
	WorkQueuePolicy
)

// DiscardPolicy says what happens when a stream limit is hit: DiscardOld
// removes the oldest messages, DiscardNew refuses the new one.
type DiscardPolicy int

const (
	// DiscardOld removes older messages to get back within the limits.
	DiscardOld = iota
	// DiscardNew makes StoreMsg fail instead.
	DiscardNew
)

// AckPolicy says how a consumer's deliveries are acknowledged.
type AckPolicy int

const (
	// AckNone needs no acks.
	AckNone AckPolicy = iota
	// AckAll acks every sequence up to the acked one.
	AckAll
	// AckExplicit needs an ack or nak for every message.
	AckExplicit
	// AckFlowControl acts like AckAll, driven by flow control responses.
	AckFlowControl
)

// ReplayPolicy says how fast a consumer replays stored messages.
type ReplayPolicy int

const (
	// ReplayInstant replays as fast as possible.
	ReplayInstant ReplayPolicy = iota
	// ReplayOriginal keeps the original spacing between messages.
	ReplayOriginal
)

// DeliverPolicy says where a consumer starts.
type DeliverPolicy int

const (
	// DeliverAll starts at the first message; it is the default.
	DeliverAll DeliverPolicy = iota
	// DeliverLast starts at the last message.
	DeliverLast
	// DeliverNew delivers only messages stored after the consumer was created.
	DeliverNew
	// DeliverByStartSequence starts at OptStartSeq.
	DeliverByStartSequence
	// DeliverByStartTime starts at the first message at or after OptStartTime.
	DeliverByStartTime
	// DeliverLastPerSubject starts with the last message of every subject.
	DeliverLastPerSubject
)

// PriorityPolicy says how messages are handed to a consumer's priority groups.
type PriorityPolicy int

const (
	// PriorityNone applies no priority rule.
	PriorityNone PriorityPolicy = iota
	// PriorityOverflow serves clients only when their criteria are met.
	PriorityOverflow
	// PriorityPinnedClient serves one client while the others stand by.
	PriorityPinnedClient
	// PriorityPrioritized serves the lowest priority value first.
	PriorityPrioritized
)

// PersistModeType says when stream writes are flushed.
type PersistModeType int

const (
	// DefaultPersistMode flushes before the publish is acknowledged.
	DefaultPersistMode = PersistModeType(iota)
	// AsyncPersistMode flushes in the background; a hard kill may lose
	// acknowledged writes.
	AsyncPersistMode
)

// StoreCipher is the AEAD used to encrypt a file store.
type StoreCipher int

const (
	// ChaCha is ChaCha20-Poly1305.
	ChaCha StoreCipher = iota
	// AES is AES-GCM.
	AES
	// NoCipher leaves data in the clear.
	NoCipher
)

// StoreCompression is the algorithm used to compress message blocks.
type StoreCompression uint8

const (
	// NoCompression stores blocks as written.
	NoCompression StoreCompression = iota
	// S2Compression compresses full blocks with S2.
	S2Compression
)

// The JSON forms below are part of the stored stream and consumer configs
// (meta.inf), so they must stay exactly as upstream writes them.
const (
	limitsPolicyJSONString    = `"limits"`
	interestPolicyJSONString  = `"interest"`
	workQueuePolicyJSONString = `"workqueue"`

	memoryStorageJSONString = `"memory"`
	fileStorageJSONString   = `"file"`

	ackNonePolicyJSONString        = `"none"`
	ackAllPolicyJSONString         = `"all"`
	ackExplicitPolicyJSONString    = `"explicit"`
	ackFlowControlPolicyJSONString = `"flow_control"`

	replayInstantPolicyJSONString  = `"instant"`
	replayOriginalPolicyJSONString = `"original"`

	deliverAllPolicyJSONString       = `"all"`
	deliverLastPolicyJSONString      = `"last"`
	deliverNewPolicyJSONString       = `"new"`
	deliverByStartSequenceJSONString = `"by_start_sequence"`
	deliverByStartTimeJSONString     = `"by_start_time"`
	deliverLastPerPolicyJSONString   = `"last_per_subject"`
	deliverUndefinedJSONString       = `"undefined"`

	defaultPersistModeJSONString = `"default"`
	asyncPersistModeJSONString   = `"async"`
)

// The JSON strings of PriorityPolicy are exported upstream.
const (
	PriorityNoneJSONString         = `"none"`
	PriorityOverflowJSONString     = `"overflow"`
	PriorityPinnedClientJSONString = `"pinned_client"`
	PriorityPrioritizedJSONString  = `"prioritized"`
)

// String returns the policy's display name.
func (rp RetentionPolicy) String() string {
	switch rp {
	case LimitsPolicy:
		return "Limits"
	case InterestPolicy:
		return "Interest"
	case WorkQueuePolicy:
		return "WorkQueue"
	default:
		return "Unknown Retention Policy"
	}
}

// MarshalJSON writes the policy as "limits", "interest" or "workqueue".
func (rp RetentionPolicy) MarshalJSON() ([]byte, error) {
	switch rp {
	case LimitsPolicy:
		return []byte(limitsPolicyJSONString), nil
	case InterestPolicy:
		return []byte(interestPolicyJSONString), nil
	case WorkQueuePolicy:
		return []byte(workQueuePolicyJSONString), nil
	default:
		return nil, fmt.Errorf("can not marshal %v", rp)
	}
}

// UnmarshalJSON reads the forms MarshalJSON writes.
func (rp *RetentionPolicy) UnmarshalJSON(data []byte) error {
	switch string(data) {
	case limitsPolicyJSONString:
		*rp = LimitsPolicy
	case interestPolicyJSONString:
		*rp = InterestPolicy
	case workQueuePolicyJSONString:
		*rp = WorkQueuePolicy
	default:
		return fmt.Errorf("can not unmarshal %q", data)
	}
	return nil
}

// String returns the policy's display name.
func (dp DiscardPolicy) String() string {
	switch dp {
	case DiscardOld:
		return "DiscardOld"
	case DiscardNew:
		return "DiscardNew"
	default:
		return "Unknown Discard Policy"
	}
}

// MarshalJSON writes the policy as "old" or "new".
func (dp DiscardPolicy) MarshalJSON() ([]byte, error) {
	switch dp {
	case DiscardOld:
		return []byte(`"old"`), nil
	case DiscardNew:
		return []byte(`"new"`), nil
	default:
		return nil, fmt.Errorf("can not marshal %v", dp)
	}
}

// UnmarshalJSON reads "old" or "new" in any letter case, as upstream does.
func (dp *DiscardPolicy) UnmarshalJSON(data []byte) error {
	switch strings.ToLower(string(data)) {
	case `"old"`:
		*dp = DiscardOld
	case `"new"`:
		*dp = DiscardNew
	default:
		return fmt.Errorf("can not unmarshal %q", data)
	}
	return nil
}

// String returns the storage type's display name.
func (st StorageType) String() string {
	switch st {
	case MemoryStorage:
		return "Memory"
	case FileStorage:
		return "File"
	default:
		return "Unknown Storage Type"
	}
}

// MarshalJSON writes the storage type as "memory" or "file".
func (st StorageType) MarshalJSON() ([]byte, error) {
	switch st {
	case MemoryStorage:
		return []byte(memoryStorageJSONString), nil
	case FileStorage:
		return []byte(fileStorageJSONString), nil
	default:
		return nil, fmt.Errorf("can not marshal %v", st)
	}
}

// UnmarshalJSON reads the forms MarshalJSON writes.
func (st *StorageType) UnmarshalJSON(data []byte) error {
	switch string(data) {
	case memoryStorageJSONString:
		*st = MemoryStorage
	case fileStorageJSONString:
		*st = FileStorage
	default:
		return fmt.Errorf("can not unmarshal %q", data)
	}
	return nil
}

// String returns the policy's name; unknown values read as "explicit", as upstream.
func (a AckPolicy) String() string {
	switch a {
	case AckNone:
		return "none"
	case AckAll:
		return "all"
	case AckFlowControl:
		return "flow_control"
	default:
		return "explicit"
	}
}

// MarshalJSON writes the policy as "none", "all", "explicit" or "flow_control".
func (a AckPolicy) MarshalJSON() ([]byte, error) {
	switch a {
	case AckNone:
		return []byte(ackNonePolicyJSONString), nil
	case AckAll:
		return []byte(ackAllPolicyJSONString), nil
	case AckExplicit:
		return []byte(ackExplicitPolicyJSONString), nil
	case AckFlowControl:
		return []byte(ackFlowControlPolicyJSONString), nil
	default:
		return nil, fmt.Errorf("can not marshal %v", a)
	}
}

// UnmarshalJSON reads the forms MarshalJSON writes.
func (a *AckPolicy) UnmarshalJSON(data []byte) error {
	switch string(data) {
	case ackNonePolicyJSONString:
		*a = AckNone
	case ackAllPolicyJSONString:
		*a = AckAll
	case ackExplicitPolicyJSONString:
		*a = AckExplicit
	case ackFlowControlPolicyJSONString:
		*a = AckFlowControl
	default:
		return fmt.Errorf("can not unmarshal %q", data)
	}
	return nil
}

// String returns the quoted JSON form, as upstream does; unknown values read
// as "original".
func (r ReplayPolicy) String() string {
	switch r {
	case ReplayInstant:
		return replayInstantPolicyJSONString
	default:
		return replayOriginalPolicyJSONString
	}
}

// MarshalJSON writes the policy as "instant" or "original".
func (r ReplayPolicy) MarshalJSON() ([]byte, error) {
	switch r {
	case ReplayInstant:
		return []byte(replayInstantPolicyJSONString), nil
	case ReplayOriginal:
		return []byte(replayOriginalPolicyJSONString), nil
	default:
		return nil, fmt.Errorf("can not marshal %v", r)
	}
}

// UnmarshalJSON reads the forms MarshalJSON writes.
func (r *ReplayPolicy) UnmarshalJSON(data []byte) error {
	switch string(data) {
	case replayInstantPolicyJSONString:
		*r = ReplayInstant
	case replayOriginalPolicyJSONString:
		*r = ReplayOriginal
	default:
		return fmt.Errorf("can not unmarshal %q", data)
	}
	return nil
}

// String returns the policy's name, or "undefined".
func (p DeliverPolicy) String() string {
	switch p {
	case DeliverAll:
		return "all"
	case DeliverLast:
		return "last"
	case DeliverNew:
		return "new"
	case DeliverByStartSequence:
		return "by_start_sequence"
	case DeliverByStartTime:
		return "by_start_time"
	case DeliverLastPerSubject:
		return "last_per_subject"
	default:
		return "undefined"
	}
}

// MarshalJSON writes the policy's name; an unknown value is written as
// "undefined" rather than failing, as upstream does.
func (p DeliverPolicy) MarshalJSON() ([]byte, error) {
	switch p {
	case DeliverAll:
		return []byte(deliverAllPolicyJSONString), nil
	case DeliverLast:
		return []byte(deliverLastPolicyJSONString), nil
	case DeliverLastPerSubject:
		return []byte(deliverLastPerPolicyJSONString), nil
	case DeliverNew:
		return []byte(deliverNewPolicyJSONString), nil
	case DeliverByStartSequence:
		return []byte(deliverByStartSequenceJSONString), nil
	case DeliverByStartTime:
		return []byte(deliverByStartTimeJSONString), nil
	default:
		return []byte(deliverUndefinedJSONString), nil
	}
}

// UnmarshalJSON reads the forms MarshalJSON writes; "undefined" reads as DeliverAll.
func (p *DeliverPolicy) UnmarshalJSON(data []byte) error {
	switch string(data) {
	case deliverAllPolicyJSONString, deliverUndefinedJSONString:
		*p = DeliverAll
	case deliverLastPolicyJSONString:
		*p = DeliverLast
	case deliverLastPerPolicyJSONString:
		*p = DeliverLastPerSubject
	case deliverNewPolicyJSONString:
		*p = DeliverNew
	case deliverByStartSequenceJSONString:
		*p = DeliverByStartSequence
	case deliverByStartTimeJSONString:
		*p = DeliverByStartTime
	default:
		return fmt.Errorf("can not unmarshal %q", data)
	}
	return nil
}

// String returns the quoted JSON form, as upstream does; unknown values read
// as "none".
func (pp PriorityPolicy) String() string {
	switch pp {
	case PriorityOverflow:
		return PriorityOverflowJSONString
	case PriorityPinnedClient:
		return PriorityPinnedClientJSONString
	case PriorityPrioritized:
		return PriorityPrioritizedJSONString
	default:
		return PriorityNoneJSONString
	}
}

// MarshalJSON writes the policy as "none", "overflow", "pinned_client" or "prioritized".
func (pp PriorityPolicy) MarshalJSON() ([]byte, error) {
	switch pp {
	case PriorityNone:
		return []byte(PriorityNoneJSONString), nil
	case PriorityOverflow:
		return []byte(PriorityOverflowJSONString), nil
	case PriorityPinnedClient:
		return []byte(PriorityPinnedClientJSONString), nil
	case PriorityPrioritized:
		return []byte(PriorityPrioritizedJSONString), nil
	default:
		return nil, fmt.Errorf("unknown priority policy: %v", pp)
	}
}

// UnmarshalJSON reads the forms MarshalJSON writes.
func (pp *PriorityPolicy) UnmarshalJSON(data []byte) error {
	switch string(data) {
	case PriorityNoneJSONString:
		*pp = PriorityNone
	case PriorityOverflowJSONString:
		*pp = PriorityOverflow
	case PriorityPinnedClientJSONString:
		*pp = PriorityPinnedClient
	case PriorityPrioritizedJSONString:
		*pp = PriorityPrioritized
	default:
		return fmt.Errorf("unknown priority policy: %v", string(data))
	}
	return nil
}

// String returns the mode's display name.
func (wc PersistModeType) String() string {
	switch wc {
	case DefaultPersistMode:
		return "Default"
	case AsyncPersistMode:
		return "Async"
	default:
		return "Unknown Persist Mode Type"
	}
}

// MarshalJSON writes the mode as "default" or "async".
func (wc PersistModeType) MarshalJSON() ([]byte, error) {
	switch wc {
	case DefaultPersistMode:
		return []byte(defaultPersistModeJSONString), nil
	case AsyncPersistMode:
		return []byte(asyncPersistModeJSONString), nil
	default:
		return nil, fmt.Errorf("can not marshal %v", wc)
	}
}

// UnmarshalJSON reads the forms MarshalJSON writes; "" reads as the default.
func (wc *PersistModeType) UnmarshalJSON(data []byte) error {
	switch string(data) {
	case defaultPersistModeJSONString, `""`:
		*wc = DefaultPersistMode
	case asyncPersistModeJSONString:
		*wc = AsyncPersistMode
	default:
		return fmt.Errorf("can not unmarshal %q", data)
	}
	return nil
}

// String returns the cipher's name.
func (cipher StoreCipher) String() string {
	switch cipher {
	case ChaCha:
		return "ChaCha20-Poly1305"
	case AES:
		return "AES-GCM"
	case NoCipher:
		return "None"
	default:
		return "Unknown StoreCipher"
	}
}

// String returns the algorithm's display name.
func (alg StoreCompression) String() string {
	switch alg {
	case NoCompression:
		return "None"
	case S2Compression:
		return "S2"
	default:
		return "Unknown StoreCompression"
	}
}

// MarshalJSON writes the algorithm as "none" or "s2".
func (alg StoreCompression) MarshalJSON() ([]byte, error) {
	var name string
	switch alg {
	case S2Compression:
		name = "s2"
	case NoCompression:
		name = "none"
	default:
		return nil, fmt.Errorf("unknown compression algorithm")
	}
	return json.Marshal(name)
}

// UnmarshalJSON reads any JSON string spelling of "none" or "s2".
func (alg *StoreCompression) UnmarshalJSON(b []byte) error {
	var name string
	if err := json.Unmarshal(b, &name); err != nil {
		return err
	}
	switch name {
	case "s2":
		*alg = S2Compression
	case "none":
		*alg = NoCompression
	default:
		return fmt.Errorf("unknown compression algorithm")
	}
	return nil
}

// StreamConfig is a stream's configuration as upstream stores it (meta.inf).
// The store reads the limits and the flags; the server-only parts (placement,
// sources, republish, ...) are carried along so that the JSON round trips.
type StreamConfig struct {
	Name         string           `json:"name"`
	Description  string           `json:"description,omitempty"`
	Subjects     []string         `json:"subjects,omitempty"`
	Retention    RetentionPolicy  `json:"retention"`
	MaxConsumers int              `json:"max_consumers"`
	MaxMsgs      int64            `json:"max_msgs"`
	MaxBytes     int64            `json:"max_bytes"`
	MaxAge       time.Duration    `json:"max_age"`
	MaxMsgsPer   int64            `json:"max_msgs_per_subject"`
	MaxMsgSize   int32            `json:"max_msg_size,omitempty"`
	Discard      DiscardPolicy    `json:"discard"`
	Storage      StorageType      `json:"storage"`
	Replicas     int              `json:"num_replicas"`
	NoAck        bool             `json:"no_ack,omitempty"`
	Duplicates   time.Duration    `json:"duplicate_window,omitempty"`
	Placement    *Placement       `json:"placement,omitempty"`
	Mirror       *StreamSource    `json:"mirror,omitempty"`
	Sources      []*StreamSource  `json:"sources,omitempty"`
	Compression  StoreCompression `json:"compression"`
	FirstSeq     uint64           `json:"first_seq,omitempty"`

	// SubjectTransform rewrites incoming subjects before storing.
	SubjectTransform *SubjectTransformConfig `json:"subject_transform,omitempty"`
	// RePublish republishes messages once stored.
	RePublish *RePublish `json:"republish,omitempty"`

	AllowDirect  bool `json:"allow_direct"`
	MirrorDirect bool `json:"mirror_direct"`

	// DiscardNewPer applies DiscardNew per subject (KV semantics).
	DiscardNewPer bool `json:"discard_new_per_subject,omitempty"`

	// These can not be unset once set.
	Sealed      bool `json:"sealed"`
	DenyDelete  bool `json:"deny_delete"`
	DenyPurge   bool `json:"deny_purge"`
	AllowRollup bool `json:"allow_rollup_hdrs"`

	// ConsumerLimits are defaults for the stream's consumers.
	ConsumerLimits StreamConsumerLimits `json:"consumer_limits"`

	// AllowMsgTTL honours the per-message TTL header.
	AllowMsgTTL bool `json:"allow_msg_ttl"`
	// SubjectDeleteMarkerTTL is the TTL of the marker left when MaxAge
	// removes a subject's last message; zero means no markers.
	SubjectDeleteMarkerTTL time.Duration `json:"subject_delete_marker_ttl,omitempty"`

	AllowMsgCounter    bool            `json:"allow_msg_counter,omitempty"`
	AllowAtomicPublish bool            `json:"allow_atomic,omitempty"`
	AllowMsgSchedules  bool            `json:"allow_msg_schedules,omitempty"`
	PersistMode        PersistModeType `json:"persist_mode,omitempty"`
	AllowBatchPublish  bool            `json:"allow_batched,omitempty"`

	Metadata map[string]string `json:"metadata,omitempty"`
}

// StreamConsumerLimits are the defaults a stream gives its consumers.
type StreamConsumerLimits struct {
	InactiveThreshold time.Duration `json:"inactive_threshold,omitempty"`
	MaxAckPending     int           `json:"max_ack_pending,omitempty"`
}

// Placement asks for a cluster and tags; server-only, kept for the JSON.
type Placement struct {
	Cluster   string   `json:"cluster,omitempty"`
	Tags      []string `json:"tags,omitempty"`
	Preferred string   `json:"preferred,omitempty"`
}

// StreamSource names a stream to mirror or source from; server-only, kept for the JSON.
type StreamSource struct {
	Name              string                   `json:"name"`
	OptStartSeq       uint64                   `json:"opt_start_seq,omitempty"`
	OptStartTime      *time.Time               `json:"opt_start_time,omitempty"`
	FilterSubject     string                   `json:"filter_subject,omitempty"`
	SubjectTransforms []SubjectTransformConfig `json:"subject_transforms,omitempty"`
	External          *ExternalStream          `json:"external,omitempty"`
	Consumer          *StreamConsumerSource    `json:"consumer,omitempty"`
}

// StreamConsumerSource names a durable consumer used for sourcing.
type StreamConsumerSource struct {
	Name           string `json:"name,omitempty"`
	DeliverSubject string `json:"deliver_subject,omitempty"`
}

// ExternalStream qualifies a source in another account or domain.
type ExternalStream struct {
	ApiPrefix     string `json:"api"`
	DeliverPrefix string `json:"deliver"`
}

// SubjectTransformConfig maps a source subject pattern to a destination.
type SubjectTransformConfig struct {
	Source      string `json:"src"`
	Destination string `json:"dest"`
}

// RePublish republishes stored messages to another subject.
type RePublish struct {
	Source      string `json:"src,omitempty"`
	Destination string `json:"dest"`
	HeadersOnly bool   `json:"headers_only,omitempty"`
}

// ConsumerConfig is a consumer's configuration as upstream stores it. The
// consumer store reads the ack and delivery settings; the rest is carried
// so that the JSON round trips.
type ConsumerConfig struct {
	Durable         string          `json:"durable_name,omitempty"`
	Name            string          `json:"name,omitempty"`
	Description     string          `json:"description,omitempty"`
	DeliverPolicy   DeliverPolicy   `json:"deliver_policy"`
	OptStartSeq     uint64          `json:"opt_start_seq,omitempty"`
	OptStartTime    *time.Time      `json:"opt_start_time,omitempty"`
	AckPolicy       AckPolicy       `json:"ack_policy"`
	AckWait         time.Duration   `json:"ack_wait,omitempty"`
	MaxDeliver      int             `json:"max_deliver,omitempty"`
	BackOff         []time.Duration `json:"backoff,omitempty"`
	FilterSubject   string          `json:"filter_subject,omitempty"`
	FilterSubjects  []string        `json:"filter_subjects,omitempty"`
	ReplayPolicy    ReplayPolicy    `json:"replay_policy"`
	RateLimit       uint64          `json:"rate_limit_bps,omitempty"` // bits per second
	SampleFrequency string          `json:"sample_freq,omitempty"`
	MaxWaiting      int             `json:"max_waiting,omitempty"`
	MaxAckPending   int             `json:"max_ack_pending,omitempty"`
	FlowControl     bool            `json:"flow_control,omitempty"`
	HeadersOnly     bool            `json:"headers_only,omitempty"`

	// Pull consumers.
	MaxRequestBatch    int           `json:"max_batch,omitempty"`
	MaxRequestExpires  time.Duration `json:"max_expires,omitempty"`
	MaxRequestMaxBytes int           `json:"max_bytes,omitempty"`

	// Push consumers.
	DeliverSubject string        `json:"deliver_subject,omitempty"`
	DeliverGroup   string        `json:"deliver_group,omitempty"`
	Heartbeat      time.Duration `json:"idle_heartbeat,omitempty"`

	// InactiveThreshold removes an idle ephemeral consumer.
	InactiveThreshold time.Duration `json:"inactive_threshold,omitempty"`

	Replicas int `json:"num_replicas"`
	// MemoryStorage forces memory storage for the consumer state.
	MemoryStorage bool `json:"mem_storage,omitempty"`

	Direct   bool `json:"direct,omitempty"`
	Sourcing bool `json:"sourcing,omitempty"`

	Metadata map[string]string `json:"metadata,omitempty"`

	// PauseUntil suspends deliveries until the deadline.
	PauseUntil *time.Time `json:"pause_until,omitempty"`

	PriorityGroups []string       `json:"priority_groups,omitempty"`
	PriorityPolicy PriorityPolicy `json:"priority_policy,omitempty"`
	PinnedTTL      time.Duration  `json:"priority_timeout,omitempty"`
}

// FileStoreConfig configures a file store.
type FileStoreConfig struct {
	// StoreDir is the stream's directory; everything the store writes is under it.
	StoreDir string
	// BlockSize is the size at which a message block is closed and a new one
	// started. It is also the most a single block may take beyond the limits.
	BlockSize uint64
	// CacheExpire is how long a block's read cache lives without activity.
	CacheExpire time.Duration
	// SubjectStateExpire is how long a block's per-subject state lives without activity.
	SubjectStateExpire time.Duration
	// SyncInterval is how often data is synced to disk in the background.
	SyncInterval time.Duration
	// SyncAlways syncs every write before it returns.
	SyncAlways bool
	// AsyncFlush lets writes be batched and flushed in the background.
	AsyncFlush bool
	// Cipher is the AEAD used when the store is encrypted.
	Cipher StoreCipher
	// Compression is the algorithm used for full blocks.
	Compression StoreCompression
}
