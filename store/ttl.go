package store

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/porttracker/porttracker/store/thw"
	"github.com/porttracker/porttracker/store/vfs"
)

// Header names the store reads (format facts of the JetStream protocol).
const (
	// JSMessageTTL is the per-message TTL header: seconds, a Go duration,
	// or "never".
	JSMessageTTL = "Nats-TTL"
	// JSMsgRollup marks a rollup message.
	JSMsgRollup = "Nats-Rollup"
	// JSSchedulePattern marks a scheduled message.
	JSSchedulePattern = "Nats-Schedule"
)

// errMessageTTLInvalid is a TTL header that does not parse.
var errMessageTTLInvalid = errors.New("store: invalid per-message TTL")

// getMessageTTL returns the TTL header in seconds: 0 when absent or
// invalid, -1 for "never".
func getMessageTTL(hdr []byte) (int64, error) {
	ttl := sliceHeader(JSMessageTTL, hdr)
	if len(ttl) == 0 {
		return 0, nil
	}
	return parseMessageTTL(string(ttl))
}

// parseMessageTTL parses a TTL: "never" is -1, a duration must be at least
// a second, otherwise whole seconds.
func parseMessageTTL(ttl string) (int64, error) {
	if strings.EqualFold(ttl, "never") {
		return -1, nil
	}
	if dur, err := time.ParseDuration(ttl); err == nil {
		if dur < time.Second {
			return 0, errMessageTTLInvalid
		}
		return int64(dur.Seconds()), nil
	}
	t, err := strconv.ParseInt(ttl, 10, 64)
	if err != nil || t < 0 {
		return 0, errMessageTTLInvalid
	}
	return t, nil
}

// sliceHeader returns the value of header key in a NATS header block,
// aliasing hdr, or nil.
func sliceHeader(key string, hdr []byte) []byte {
	if len(hdr) == 0 {
		return nil
	}
	index := getHeaderKeyIndex(key, hdr)
	if index == -1 {
		return nil
	}
	index += len(key) + 1
	hdrLen := len(hdr)
	for index < hdrLen && hdr[index] == ' ' {
		index++
	}
	start := index
	for index < hdrLen {
		if hdr[index] == '\r' && index < hdrLen-1 && hdr[index+1] == '\n' {
			break
		}
		index++
	}
	return hdr[start:index:index]
}

// getHeaderKeyIndex returns where header key starts in hdr (at a line start
// and followed by ':'), or -1.
func getHeaderKeyIndex(key string, hdr []byte) int {
	if len(hdr) == 0 {
		return -1
	}
	bkey := stringToBytes(key)
	keyLen, hdrLen := len(key), len(hdr)
	var offset int
	for {
		index := bytes.Index(hdr[offset:], bkey)
		// A key needs a CRLF before it, so index < 2 is never a match.
		if index < 2 {
			return -1
		}
		index += offset
		if index >= hdrLen-1 || hdr[index-1] != '\n' || hdr[index-2] != '\r' {
			offset = index + keyLen
			continue
		}
		if index+keyLen >= hdrLen {
			return -1
		}
		if hdr[index+keyLen] != ':' {
			offset = index + keyLen
			continue
		}
		return index
	}
}

// recoverTTLState loads thw.db, then scans any messages stored after it was
// written for TTL headers. fs.mu held.
func (fs *fileStore) recoverTTLState() error {
	fn := filepath.Join(fs.fcfg.StoreDir, msgDir, ttlStreamStateFile)
	buf, err := vfs.ReadFile(fs.fsys, fn)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	fs.ttls = thw.NewHashWheel()

	var ttlseq uint64
	if err == nil {
		if ttlseq, err = fs.ttls.Decode(buf); err != nil {
			fs.warn("Error decoding TTL state: %s", err)
			_ = fs.fsys.Remove(fn)
			fs.ttls = thw.NewHashWheel()
			ttlseq = 0
		}
	}
	ttlseq = max(ttlseq, fs.state.FirstSeq)
	defer fs.resetAgeChk(0)

	if fs.state.Msgs == 0 || ttlseq > fs.state.LastSeq {
		return nil
	}
	fs.warn("TTL state is outdated; attempting to recover using linear scan (seq %d to %d)", ttlseq, fs.state.LastSeq)
	var sm StoreMsg
	for _, mb := range fs.blocks {
		mb.mu.Lock()
		fseq, lseq := atomic.LoadUint64(&mb.first.seq), atomic.LoadUint64(&mb.last.seq)
		// Blocks without TTL messages, or wholly before ttlseq, are skipped.
		if mb.ttls == 0 || lseq < ttlseq {
			mb.finishedWithCache()
			mb.mu.Unlock()
			continue
		}
		for seq := max(fseq, ttlseq); seq <= lseq; seq++ {
			msg, _, err := mb.fetchMsgNoCopyLocked(seq, &sm)
			if err != nil || msg == nil || len(msg.hdr) == 0 {
				continue
			}
			if ttl, _ := getMessageTTL(msg.hdr); ttl > 0 {
				expires := time.Duration(msg.ts) + time.Second*time.Duration(ttl)
				_ = fs.ttls.Add(seq, int64(expires))
			}
		}
		mb.tryForceExpireCacheLocked()
		mb.finishedWithCache()
		mb.mu.Unlock()
	}
	return nil
}

// writeTTLState writes thw.db, valid through the last sequence.
func (fs *fileStore) writeTTLState() error {
	fs.mu.RLock()
	if fs.ttls == nil {
		fs.mu.RUnlock()
		return nil
	}
	fn := filepath.Join(fs.fcfg.StoreDir, msgDir, ttlStreamStateFile)
	// lseq+1: the wheel is complete for every sequence below it.
	buf := fs.ttls.Encode(fs.state.LastSeq + 1)
	fs.mu.RUnlock()
	return fs.writeFileWithOptionalSync(fn, buf, defaultFilePerms)
}
