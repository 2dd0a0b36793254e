package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"syscall"
	"testing"
	"time"
	"unsafe"
)

// Helpers carry a types prefix so they cannot collide with the file store's
// test helpers in the same package.

func typesEqual[T comparable](t *testing.T, got, want T) {
	t.Helper()
	if got != want {
		t.Fatalf("got %v, want %v", got, want)
	}
}

func typesNoErr(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
}

func typesErrIs(t *testing.T, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("got error %v, want %v", err, want)
	}
}

func TestStoreMsgCopyIsDeepAndCapsHeader(t *testing.T) {
	buf := []byte("HDRpayload")
	src := &StoreMsg{subj: "foo.bar", hdr: buf[:3], msg: buf[3:], buf: buf, seq: 22, ts: 33}

	for _, tc := range []struct {
		name string
		dst  *StoreMsg
	}{
		{"empty destination", &StoreMsg{}},
		{"reused buffer", &StoreMsg{buf: make([]byte, 64), subj: "old", seq: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src.copy(tc.dst)
			typesEqual(t, tc.dst.subj, "foo.bar")
			typesEqual(t, tc.dst.seq, uint64(22))
			typesEqual(t, tc.dst.ts, int64(33))
			typesEqual(t, string(tc.dst.hdr), "HDR")
			typesEqual(t, string(tc.dst.msg), "payload")
			typesEqual(t, string(tc.dst.buf), "HDRpayload")
			typesEqual(t, cap(tc.dst.hdr), 3)
			// The copy must not share memory with the source.
			tc.dst.buf[0] = 'X'
			typesEqual(t, string(src.hdr), "HDR")
			// Appending to the header must not overwrite the payload.
			_ = append(tc.dst.hdr, 'Z')
			typesEqual(t, string(tc.dst.msg), "payload")
		})
	}
}

func TestStoreMsgCopyWithoutHeader(t *testing.T) {
	src := &StoreMsg{subj: "a", msg: []byte("m"), buf: []byte("m"), seq: 5}
	var dst StoreMsg
	src.copy(&dst)
	typesEqual(t, len(dst.hdr), 0)
	typesEqual(t, string(dst.msg), "m")
	typesEqual(t, dst.seq, uint64(5))
}

func TestStoreMsgClearKeepsBuffer(t *testing.T) {
	buf := make([]byte, 8, 32)
	sm := &StoreMsg{subj: "foo", hdr: buf[:2], msg: buf[2:], buf: buf, seq: 9, ts: 10}
	sm.clear()
	typesEqual(t, sm.subj, "")
	typesEqual(t, sm.seq, uint64(0))
	typesEqual(t, sm.ts, int64(0))
	if sm.hdr != nil || sm.msg != nil {
		t.Fatalf("hdr and msg should be nil, got %q %q", sm.hdr, sm.msg)
	}
	typesEqual(t, len(sm.buf), 0)
	typesEqual(t, cap(sm.buf), 32)
	typesEqual(t, unsafe.SliceData(sm.buf), unsafe.SliceData(buf))

	// A nil StoreMsg is a no-op rather than a panic.
	var nilMsg *StoreMsg
	nilMsg.clear()
}

func TestStoreMsgAccessors(t *testing.T) {
	sm := &StoreMsg{subj: "s", hdr: []byte("h"), msg: []byte("m"), seq: 7, ts: 8}
	typesEqual(t, sm.Subject(), "s")
	typesEqual(t, string(sm.Header()), "h")
	typesEqual(t, string(sm.Data()), "m")
	typesEqual(t, sm.Sequence(), uint64(7))
	typesEqual(t, sm.Timestamp(), int64(8))

	im := &inMsg{subj: "x", rply: "r", hdr: []byte("H"), msg: []byte("M")}
	typesEqual(t, im.Subject(), "x")
	typesEqual(t, im.Reply(), "r")
	typesEqual(t, string(im.Header()), "H")
	typesEqual(t, string(im.Data()), "M")
}

func TestStoreErrorMessages(t *testing.T) {
	// The texts are upstream's; peers and clients match some of them.
	for _, tc := range []struct {
		err  error
		want string
	}{
		{ErrStoreClosed, "store is closed"},
		{ErrStoreMsgNotFound, "no message found"},
		{ErrStoreEOF, "stream store EOF"},
		{ErrMaxMsgs, "maximum messages exceeded"},
		{ErrMaxBytes, "maximum bytes exceeded"},
		{ErrMaxMsgsPerSubject, "maximum messages per subject exceeded"},
		{ErrStoreSnapshotInProgress, "snapshot in progress"},
		{ErrMsgTooLarge, "message too large"},
		{ErrStoreWrongType, "wrong storage type"},
		{ErrNoAckPolicy, "ack policy is none"},
		{ErrSequenceMismatch, "expected sequence does not match store"},
		{ErrCorruptStreamState, "stream state snapshot is corrupt"},
		{ErrTooManyResults, "too many matching results for request"},
		{ErrStoreOldUpdate, "old update ignored"},
		{ErrBadStreamStateEncoding, "bad stream state encoding"},
		{errCorruptState, "corrupt state file"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			typesEqual(t, tc.err.Error(), tc.want)
		})
	}
}

func TestIsOutOfSpaceErr(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"errno", &os.PathError{Op: "write", Path: "x", Err: syscall.ENOSPC}, true},
		{"wrapped text", fmt.Errorf("flush: %w", errors.New("write 1.blk: no space left on device")), true},
		{"other", ErrStoreClosed, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			typesEqual(t, isOutOfSpaceErr(tc.err), tc.want)
		})
	}
}

func TestIsPermissionError(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"fs.ErrPermission", fs.ErrPermission, true},
		{"path error", &os.PathError{Op: "open", Path: "x", Err: syscall.EACCES}, true},
		{"other", os.ErrNotExist, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			typesEqual(t, isPermissionError(tc.err), tc.want)
		})
	}
}

func TestIsPermissionErrorFromFilesystem(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Log("running as root: permissions are not enforced, checking the mapping only")
		typesEqual(t, isPermissionError(&os.PathError{Op: "open", Err: syscall.EPERM}), true)
		return
	}
	dir := t.TempDir()
	fn := filepath.Join(dir, "locked")
	typesNoErr(t, os.WriteFile(fn, []byte("x"), 0o000))
	_, err := os.ReadFile(fn)
	typesEqual(t, isPermissionError(err), true)
}

func TestBytesToStringSharesMemory(t *testing.T) {
	typesEqual(t, bytesToString(nil), "")
	typesEqual(t, bytesToString([]byte{}), "")
	b := []byte("hello")
	s := bytesToString(b)
	typesEqual(t, s, "hello")
	typesEqual(t, unsafe.StringData(s), unsafe.SliceData(b))
}

func TestStringToBytesSharesMemory(t *testing.T) {
	if stringToBytes("") != nil {
		t.Fatalf("empty string should give nil")
	}
	s := "hello world"
	b := stringToBytes(s)
	typesEqual(t, string(b), s)
	typesEqual(t, len(b), len(s))
	typesEqual(t, unsafe.SliceData(b), unsafe.StringData(s))
}

func TestCopyStringDoesNotAlias(t *testing.T) {
	b := []byte("subject.one")
	view := bytesToString(b)
	c := copyString(view)
	typesEqual(t, c, "subject.one")
	b[0] = 'X'
	typesEqual(t, view, "Xubject.one")
	typesEqual(t, c, "subject.one")
	typesEqual(t, copyString(""), "")
}

// enumCase describes one value of a JSON-encoded enum.
type enumCase struct {
	value   any    // the enum value (a json.Marshaler)
	str     string // its String()
	json    string // its JSON form; "" when marshalling fails
	decoded any    // what decoding json gives back (nil: same as value)
}

func checkEnumCases(t *testing.T, cases []enumCase, newPtr func() any) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.str, func(t *testing.T) {
			typesEqual(t, fmt.Sprint(tc.value), tc.str)
			got, err := json.Marshal(tc.value)
			if tc.json == "" {
				if err == nil {
					t.Fatalf("marshal of %v should fail, got %s", tc.value, got)
				}
				return
			}
			typesNoErr(t, err)
			typesEqual(t, string(got), tc.json)
			p := newPtr()
			typesNoErr(t, json.Unmarshal(got, p))
			want := tc.decoded
			if want == nil {
				want = tc.value
			}
			typesEqual(t, reflect.ValueOf(p).Elem().Interface(), want)
		})
	}
}

func checkEnumRejects(t *testing.T, newPtr func() any, inputs ...string) {
	t.Helper()
	for _, in := range inputs {
		p := newPtr()
		if err := json.Unmarshal([]byte(in), p); err == nil {
			t.Fatalf("unmarshal of %s into %T should fail, got %v", in, p, reflect.ValueOf(p).Elem())
		}
	}
}

func TestRetentionPolicyStringAndJSON(t *testing.T) {
	newPtr := func() any { return new(RetentionPolicy) }
	checkEnumCases(t, []enumCase{
		{LimitsPolicy, "Limits", `"limits"`, nil},
		{InterestPolicy, "Interest", `"interest"`, nil},
		{WorkQueuePolicy, "WorkQueue", `"workqueue"`, nil},
		{RetentionPolicy(9), "Unknown Retention Policy", "", nil},
	}, newPtr)
	checkEnumRejects(t, newPtr, `"Limits"`, `"work_queue"`, `1`)
}

func TestDiscardPolicyStringAndJSON(t *testing.T) {
	newPtr := func() any { return new(DiscardPolicy) }
	checkEnumCases(t, []enumCase{
		{DiscardPolicy(DiscardOld), "DiscardOld", `"old"`, nil},
		{DiscardPolicy(DiscardNew), "DiscardNew", `"new"`, nil},
		{DiscardPolicy(7), "Unknown Discard Policy", "", nil},
	}, newPtr)
	// Discard is the one policy read case-insensitively.
	var dp DiscardPolicy
	typesNoErr(t, json.Unmarshal([]byte(`"NEW"`), &dp))
	typesEqual(t, dp, DiscardPolicy(DiscardNew))
	typesNoErr(t, json.Unmarshal([]byte(`"Old"`), &dp))
	typesEqual(t, dp, DiscardPolicy(DiscardOld))
	checkEnumRejects(t, newPtr, `"oldest"`, `0`)
}

func TestStorageTypeStringAndJSON(t *testing.T) {
	newPtr := func() any { return new(StorageType) }
	typesEqual(t, int(FileStorage), 22)
	typesEqual(t, int(MemoryStorage), 33)
	checkEnumCases(t, []enumCase{
		{FileStorage, "File", `"file"`, nil},
		{MemoryStorage, "Memory", `"memory"`, nil},
		{StorageType(0), "Unknown Storage Type", "", nil},
	}, newPtr)
	checkEnumRejects(t, newPtr, `"File"`, `22`)
}

func TestAckPolicyStringAndJSON(t *testing.T) {
	newPtr := func() any { return new(AckPolicy) }
	checkEnumCases(t, []enumCase{
		{AckNone, "none", `"none"`, nil},
		{AckAll, "all", `"all"`, nil},
		{AckExplicit, "explicit", `"explicit"`, nil},
		{AckFlowControl, "flow_control", `"flow_control"`, nil},
	}, newPtr)
	// Unknown values print as explicit (upstream's default) but do not marshal.
	typesEqual(t, AckPolicy(42).String(), "explicit")
	if _, err := AckPolicy(42).MarshalJSON(); err == nil {
		t.Fatalf("unknown ack policy should not marshal")
	}
	checkEnumRejects(t, newPtr, `"All"`, `"flowcontrol"`)
}

func TestReplayPolicyStringAndJSON(t *testing.T) {
	newPtr := func() any { return new(ReplayPolicy) }
	// String is the quoted form, as upstream.
	checkEnumCases(t, []enumCase{
		{ReplayInstant, `"instant"`, `"instant"`, nil},
		{ReplayOriginal, `"original"`, `"original"`, nil},
	}, newPtr)
	typesEqual(t, ReplayPolicy(5).String(), `"original"`)
	if _, err := ReplayPolicy(5).MarshalJSON(); err == nil {
		t.Fatalf("unknown replay policy should not marshal")
	}
	checkEnumRejects(t, newPtr, `"fast"`)
}

func TestDeliverPolicyStringAndJSON(t *testing.T) {
	newPtr := func() any { return new(DeliverPolicy) }
	checkEnumCases(t, []enumCase{
		{DeliverAll, "all", `"all"`, nil},
		{DeliverLast, "last", `"last"`, nil},
		{DeliverNew, "new", `"new"`, nil},
		{DeliverByStartSequence, "by_start_sequence", `"by_start_sequence"`, nil},
		{DeliverByStartTime, "by_start_time", `"by_start_time"`, nil},
		{DeliverLastPerSubject, "last_per_subject", `"last_per_subject"`, nil},
		// Unknown values marshal as "undefined", which reads back as DeliverAll.
		{DeliverPolicy(99), "undefined", `"undefined"`, DeliverAll},
	}, newPtr)
	checkEnumRejects(t, newPtr, `"first"`, `"ALL"`)
}

func TestPriorityPolicyStringAndJSON(t *testing.T) {
	newPtr := func() any { return new(PriorityPolicy) }
	checkEnumCases(t, []enumCase{
		{PriorityNone, `"none"`, `"none"`, nil},
		{PriorityOverflow, `"overflow"`, `"overflow"`, nil},
		{PriorityPinnedClient, `"pinned_client"`, `"pinned_client"`, nil},
		{PriorityPrioritized, `"prioritized"`, `"prioritized"`, nil},
	}, newPtr)
	typesEqual(t, PriorityPolicy(8).String(), `"none"`)
	_, err := PriorityPolicy(8).MarshalJSON()
	if err == nil || err.Error() != `unknown priority policy: "none"` {
		t.Fatalf("got %v", err)
	}
	checkEnumRejects(t, newPtr, `"pinned"`)
}

func TestPersistModeTypeStringAndJSON(t *testing.T) {
	newPtr := func() any { return new(PersistModeType) }
	checkEnumCases(t, []enumCase{
		{DefaultPersistMode, "Default", `"default"`, nil},
		{AsyncPersistMode, "Async", `"async"`, nil},
		{PersistModeType(3), "Unknown Persist Mode Type", "", nil},
	}, newPtr)
	wc := AsyncPersistMode
	typesNoErr(t, json.Unmarshal([]byte(`""`), &wc))
	typesEqual(t, wc, DefaultPersistMode)
	checkEnumRejects(t, newPtr, `"sync"`)
}

func TestStoreCompressionStringAndJSON(t *testing.T) {
	newPtr := func() any { return new(StoreCompression) }
	checkEnumCases(t, []enumCase{
		{NoCompression, "None", `"none"`, nil},
		{S2Compression, "S2", `"s2"`, nil},
		{StoreCompression(9), "Unknown StoreCompression", "", nil},
	}, newPtr)
	// Decoding goes through a JSON string, so escapes are accepted.
	var alg StoreCompression
	typesNoErr(t, json.Unmarshal([]byte(`"\u0073\u0032"`), &alg))
	typesEqual(t, alg, S2Compression)
	err := json.Unmarshal([]byte(`"zstd"`), &alg)
	if err == nil || err.Error() != "unknown compression algorithm" {
		t.Fatalf("got %v", err)
	}
	checkEnumRejects(t, newPtr, `2`, `"S2"`)
}

func TestStoreCipherString(t *testing.T) {
	for _, tc := range []struct {
		c    StoreCipher
		want string
	}{
		{ChaCha, "ChaCha20-Poly1305"},
		{AES, "AES-GCM"},
		{NoCipher, "None"},
		{StoreCipher(7), "Unknown StoreCipher"},
	} {
		typesEqual(t, tc.c.String(), tc.want)
	}
	// The values are stored in key files, so they are fixed.
	typesEqual(t, int(ChaCha), 0)
	typesEqual(t, int(AES), 1)
	typesEqual(t, int(NoCipher), 2)
}

func TestStreamConfigJSONFieldNames(t *testing.T) {
	start := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	cfg := StreamConfig{
		Name:                   "ORDERS",
		Subjects:               []string{"orders.>"},
		Retention:              WorkQueuePolicy,
		MaxConsumers:           -1,
		MaxMsgs:                100,
		MaxBytes:               2048,
		MaxAge:                 time.Minute,
		MaxMsgsPer:             3,
		MaxMsgSize:             512,
		Discard:                DiscardNew,
		Storage:                FileStorage,
		Replicas:               1,
		Duplicates:             2 * time.Minute,
		Compression:            S2Compression,
		FirstSeq:               10,
		Sources:                []*StreamSource{{Name: "SRC", OptStartTime: &start, External: &ExternalStream{ApiPrefix: "a", DeliverPrefix: "d"}}},
		AllowMsgTTL:            true,
		SubjectDeleteMarkerTTL: time.Second,
		AllowRollup:            true,
		DenyDelete:             true,
		DenyPurge:              true,
		DiscardNewPer:          true,
		Sealed:                 true,
		PersistMode:            AsyncPersistMode,
		ConsumerLimits:         StreamConsumerLimits{MaxAckPending: 5},
		Metadata:               map[string]string{"k": "v"},
	}
	raw, err := json.Marshal(&cfg)
	typesNoErr(t, err)
	var fields map[string]any
	typesNoErr(t, json.Unmarshal(raw, &fields))
	for key, want := range map[string]any{
		"name":                      "ORDERS",
		"retention":                 "workqueue",
		"max_consumers":             float64(-1),
		"max_msgs":                  float64(100),
		"max_bytes":                 float64(2048),
		"max_age":                   float64(time.Minute),
		"max_msgs_per_subject":      float64(3),
		"max_msg_size":              float64(512),
		"discard":                   "new",
		"storage":                   "file",
		"num_replicas":              float64(1),
		"duplicate_window":          float64(2 * time.Minute),
		"compression":               "s2",
		"first_seq":                 float64(10),
		"allow_msg_ttl":             true,
		"subject_delete_marker_ttl": float64(time.Second),
		"allow_rollup_hdrs":         true,
		"deny_delete":               true,
		"deny_purge":                true,
		"discard_new_per_subject":   true,
		"sealed":                    true,
		"persist_mode":              "async",
	} {
		if got, ok := fields[key]; !ok || !reflect.DeepEqual(got, want) {
			t.Errorf("field %q: got %v (present %v), want %v", key, got, ok, want)
		}
	}
	var back StreamConfig
	typesNoErr(t, json.Unmarshal(raw, &back))
	if !reflect.DeepEqual(back, cfg) {
		t.Fatalf("round trip differs:\n got %+v\nwant %+v", back, cfg)
	}
}

func TestStreamConfigDecodesUpstreamMeta(t *testing.T) {
	// The shape of a meta.inf written by nats-server for a small stream.
	const meta = `{"name":"TEST","subjects":["foo","bar.*"],"retention":"limits",` +
		`"max_consumers":-1,"max_msgs":-1,"max_bytes":-1,"max_age":0,"max_msgs_per_subject":-1,` +
		`"max_msg_size":-1,"discard":"old","storage":"file","num_replicas":1,` +
		`"duplicate_window":120000000000,"compression":"none","allow_direct":false,` +
		`"mirror_direct":false,"sealed":false,"deny_delete":false,"deny_purge":false,` +
		`"allow_rollup_hdrs":false,"consumer_limits":{},"allow_msg_ttl":false}`
	var cfg StreamConfig
	typesNoErr(t, json.Unmarshal([]byte(meta), &cfg))
	typesEqual(t, cfg.Name, "TEST")
	typesEqual(t, len(cfg.Subjects), 2)
	typesEqual(t, cfg.MaxMsgs, int64(-1))
	typesEqual(t, cfg.MaxMsgSize, int32(-1))
	typesEqual(t, cfg.Storage, FileStorage)
	typesEqual(t, cfg.Duplicates, 2*time.Minute)
	typesEqual(t, cfg.Compression, NoCompression)
}

func TestConsumerConfigJSONFieldNames(t *testing.T) {
	start := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	cfg := ConsumerConfig{
		Durable:           "dlc",
		Name:              "dlc",
		DeliverPolicy:     DeliverByStartTime,
		OptStartSeq:       4,
		OptStartTime:      &start,
		AckPolicy:         AckExplicit,
		AckWait:           30 * time.Second,
		MaxDeliver:        5,
		BackOff:           []time.Duration{time.Second, 2 * time.Second},
		FilterSubject:     "foo.*",
		FilterSubjects:    []string{"a", "b"},
		ReplayPolicy:      ReplayOriginal,
		MaxAckPending:     1000,
		InactiveThreshold: time.Hour,
		Replicas:          3,
		MemoryStorage:     true,
		Metadata:          map[string]string{"x": "y"},
		PriorityGroups:    []string{"g"},
		PriorityPolicy:    PriorityPinnedClient,
		PinnedTTL:         time.Minute,
	}
	raw, err := json.Marshal(&cfg)
	typesNoErr(t, err)
	var fields map[string]any
	typesNoErr(t, json.Unmarshal(raw, &fields))
	for key, want := range map[string]any{
		"durable_name":       "dlc",
		"name":               "dlc",
		"deliver_policy":     "by_start_time",
		"opt_start_seq":      float64(4),
		"opt_start_time":     "2024-05-06T07:08:09Z",
		"ack_policy":         "explicit",
		"ack_wait":           float64(30 * time.Second),
		"max_deliver":        float64(5),
		"filter_subject":     "foo.*",
		"replay_policy":      "original",
		"max_ack_pending":    float64(1000),
		"inactive_threshold": float64(time.Hour),
		"num_replicas":       float64(3),
		"mem_storage":        true,
		"priority_policy":    "pinned_client",
		"priority_timeout":   float64(time.Minute),
	} {
		if got, ok := fields[key]; !ok || !reflect.DeepEqual(got, want) {
			t.Errorf("field %q: got %v (present %v), want %v", key, got, ok, want)
		}
	}
	var back ConsumerConfig
	typesNoErr(t, json.Unmarshal(raw, &back))
	if !reflect.DeepEqual(back, cfg) {
		t.Fatalf("round trip differs:\n got %+v\nwant %+v", back, cfg)
	}
}

func TestStreamStateJSON(t *testing.T) {
	ts := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	st := StreamState{Msgs: 2, Bytes: 10, FirstSeq: 1, FirstTime: ts, LastSeq: 3, LastTime: ts,
		NumDeleted: 1, Deleted: []uint64{2}, Lost: &LostStreamData{Msgs: []uint64{4}, Bytes: 5}, Consumers: 1}
	raw, err := json.Marshal(st)
	typesNoErr(t, err)
	want := `{"messages":2,"bytes":10,"first_seq":1,"first_ts":"2024-01-01T00:00:00Z","last_seq":3,` +
		`"last_ts":"2024-01-01T00:00:00Z","num_deleted":1,"deleted":[2],"lost":{"msgs":[4],"bytes":5},"consumer_count":1}`
	typesEqual(t, string(raw), want)

	ss, err := json.Marshal(SimpleState{Msgs: 1, First: 2, Last: 3, firstNeedsUpdate: true})
	typesNoErr(t, err)
	typesEqual(t, string(ss), `{"messages":1,"first_seq":2,"last_seq":3}`)

	cs, err := json.Marshal(ConsumerState{Delivered: SequencePair{1, 2}, AckFloor: SequencePair{3, 4}})
	typesNoErr(t, err)
	typesEqual(t, string(cs), `{"delivered":{"consumer_seq":1,"stream_seq":2},"ack_floor":{"consumer_seq":3,"stream_seq":4}}`)
}

func TestFileStoreConfigFields(t *testing.T) {
	// The file store reads these by name; a compile-time check of the set.
	fcfg := FileStoreConfig{
		StoreDir:           "/tmp/x",
		BlockSize:          1024,
		CacheExpire:        time.Second,
		SubjectStateExpire: time.Minute,
		SyncInterval:       2 * time.Minute,
		SyncAlways:         true,
		AsyncFlush:         true,
		Cipher:             AES,
		Compression:        S2Compression,
	}
	typesEqual(t, fcfg.Cipher.String(), "AES-GCM")
	typesEqual(t, fcfg.Compression.String(), "S2")
	if !bytes.Equal([]byte(fcfg.StoreDir), []byte("/tmp/x")) {
		t.Fatalf("store dir mismatch")
	}
}
