package evidence

import (
	"fmt"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"
)

// Gate names one kind of check. The values are stored in porting.db.
type Gate string

const (
	GateBuild Gate = "build"
	GateStub  Gate = "stub"
	GateTest  Gate = "test"
	GateGut   Gate = "gut"
	GateLinks Gate = "links"
)

// Gates lists every gate in the order they are normally run.
var Gates = []Gate{GateBuild, GateStub, GateTest, GateGut, GateLinks}

// ParseGate accepts a gate name as stored in porting.db.
func ParseGate(s string) (Gate, error) {
	for _, g := range Gates {
		if string(g) == s {
			return g, nil
		}
	}
	return "", fmt.Errorf("evidence: unknown gate %q (want build, stub, test, gut or links)", s)
}

// Verdict is the outcome of one gate for one subject. The values are stored in
// porting.db.
type Verdict string

const (
	Pass Verdict = "pass"
	Fail Verdict = "fail"
	// Skip: a test that skipped. A skip is never a pass.
	Skip Verdict = "skip"
	// Missing: the subject does not exist (no such symbol, a test that never
	// ran, a feature without linked tests).
	Missing Verdict = "missing"
	// Error: the gate could not decide (the baseline of a gut check failed,
	// a mutant did not compile, the go command could not start).
	Error Verdict = "error"
)

// Kind is what a subject is: a ported function or a ported test.
type Kind string

const (
	Feature Kind = "feature"
	Test    Kind = "test"
)

// Record is one piece of evidence: what ran, on which sources, and what it
// showed. It mirrors a row of porting.db's evidence table.
type Record struct {
	Gate    Gate
	Kind    Kind
	ItemID  int64
	Subject string // target symbol, e.g. "store.(*msgBlock).compact"
	Verdict Verdict
	// Detail is a one-line reason: "body only returns zero values",
	// "caught by TestFileStoreCompact".
	Detail string
	// Commands are the argvs the gate ran, never shell strings; empty for
	// in-process gates (stub scan).
	Commands [][]string
	Start    time.Time
	Duration time.Duration
	// GitCommit and GitDirty describe the work tree the gate saw.
	GitCommit string
	GitDirty  bool
	// Fingerprint hashes the sources the verdict depends on (see Fingerprint).
	Fingerprint string
	// Log is the full, uncompressed output; Compress it before storing.
	Log []byte
}

// OK reports whether the record is a pass.
func (r Record) OK() bool { return r.Verdict == Pass }

// Stale reports whether the record was taken on other sources than the
// current fingerprint describes.
func (r Record) Stale(current string) bool { return r.Fingerprint != current }

var (
	zstdEncoder = sync.OnceValue(func() *zstd.Encoder {
		// EncodeAll on a shared encoder is safe for concurrent use.
		enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedBetterCompression))
		if err != nil {
			panic(fmt.Sprintf("evidence: zstd encoder: %v", err))
		}
		return enc
	})
	zstdDecoder = sync.OnceValue(func() *zstd.Decoder {
		// Logs are text of at most a few hundred MB; refuse anything claiming more.
		dec, err := zstd.NewReader(nil, zstd.WithDecoderMaxMemory(1<<30), zstd.WithDecoderConcurrency(0))
		if err != nil {
			panic(fmt.Sprintf("evidence: zstd decoder: %v", err))
		}
		return dec
	})
)

// Compress returns log compressed with zstd, the form porting.db stores.
func Compress(log []byte) []byte {
	return zstdEncoder().EncodeAll(log, make([]byte, 0, len(log)/4+64))
}

// Decompress reverses Compress.
func Decompress(data []byte) ([]byte, error) {
	out, err := zstdDecoder().DecodeAll(data, nil)
	if err != nil {
		return nil, fmt.Errorf("evidence: decompress log: %w", err)
	}
	return out, nil
}
