package store

import (
	"encoding/binary"
	"errors"
	"io"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/porttracker/porttracker/store/thw"
)

// Message schedules. With AllowMsgSchedules, a message carrying a
// Nats-Schedule header is a schedule: when it fires, the store asks the
// upper layer (the registered ProcessJetStreamMsgHandler) to publish a
// message on the schedule's target subject. One schedule per subject: a
// newer schedule message replaces the older. Patterns:
//
//	@at <RFC 3339 time>     once
//	@every <Go duration>    repeating, at least 1s apart
//	<cron, 6 fields>        repeating, optionally in Nats-Schedule-Time-Zone
//	@yearly @monthly @weekly @daily @hourly  (cron shorthands)
//
// The produced message copies the schedule's payload and headers (or, with
// Nats-Schedule-Source, the last message on that subject), minus the
// scheduling, expectation, message ID, TTL and rollup headers, plus
// Nats-Scheduler (the schedule's subject), Nats-Schedule-Next (the next
// firing, or "purge" for a one-shot), and the schedule's TTL and rollup.
// msgs/sched.db keeps the schedules between restarts.

// Header names of message schedules (format facts of the JetStream
// protocol).
const (
	JSScheduleTimeZone  = "Nats-Schedule-Time-Zone"
	JSScheduleTTL       = "Nats-Schedule-TTL"
	JSScheduleRollup    = "Nats-Schedule-Rollup"
	JSScheduleTarget    = "Nats-Schedule-Target"
	JSScheduleSource    = "Nats-Schedule-Source"
	JSScheduler         = "Nats-Scheduler"
	JSScheduleNext      = "Nats-Schedule-Next"
	JSScheduleNextPurge = "purge" // Nats-Schedule-Next of a one-shot: the schedule goes
	JSMsgId             = "Nats-Msg-Id"
)

var (
	// ErrMsgScheduleInvalidVersion is a sched.db of an unknown version.
	ErrMsgScheduleInvalidVersion = errors.New("msg scheduling: encoded version not known")
	// errMsgSchedulePatternInvalid is a Nats-Schedule that does not parse.
	errMsgSchedulePatternInvalid = errors.New("store: message schedule pattern is invalid")
	// errMsgScheduleTimeZoneInvalid is an empty or unknown time zone.
	errMsgScheduleTimeZoneInvalid = errors.New("store: message schedule time zone is invalid")
)

// sched.db layout (little endian):
//
//	version(1)=1 | count(8) | stamp(8): schedules are valid below this sequence
//	count x ( subject length(2) | subject | next firing varint (unix nanos) | sequence uvarint )
const (
	schedEncodingVersion = 1
	headerLen            = 17 // version, count and stamp
)

// minScheduleFireInterval keeps the timer from firing faster than this,
// so schedules do not slow down ingest.
const minScheduleFireInterval = 250 * time.Millisecond

// MsgScheduling holds a stream's schedules. It is guarded by the store's
// lock.
type MsgScheduling struct {
	run       func()         // called by the timer (the store's runMsgScheduling)
	ttls      *thw.HashWheel // firing times by schedule sequence
	timer     *time.Timer    // fires run
	running   bool           // run is in progress; it re-arms the timer itself
	deadline  int64          // when the timer is due (unix nanos); 0 when not armed
	schedules map[string]*MsgSchedule
	seqToSubj map[uint64]string
	inflight  map[string]struct{} // subjects whose message was handed over and not yet stored
}

// MsgSchedule is one subject's schedule.
type MsgSchedule struct {
	seq uint64 // the schedule message
	ts  int64  // next firing (unix nanos)
}

func newMsgScheduling(run func()) *MsgScheduling {
	return &MsgScheduling{
		run:       run,
		ttls:      thw.NewHashWheel(),
		schedules: make(map[string]*MsgSchedule),
		seqToSubj: make(map[uint64]string),
		inflight:  make(map[string]struct{}),
	}
}

// add records the schedule message seq on subj firing at ts and arms the
// timer.
func (ms *MsgScheduling) add(seq uint64, subj string, ts int64) {
	ms.init(seq, subj, ts)
	ms.resetTimer()
}

// init records the schedule message seq on subj firing at ts, replacing
// the subject's earlier schedule.
func (ms *MsgScheduling) init(seq uint64, subj string, ts int64) {
	if sched, ok := ms.schedules[subj]; ok {
		delete(ms.seqToSubj, sched.seq)
		_ = ms.ttls.Remove(sched.seq, sched.ts)
		ms.ttls.Add(seq, ts)
		sched.seq, sched.ts = seq, ts
	} else {
		ms.ttls.Add(seq, ts)
		ms.schedules[subj] = &MsgSchedule{seq: seq, ts: ts}
	}
	ms.seqToSubj[seq] = subj
	delete(ms.inflight, subj)
}

// update moves subj's schedule to fire at ts (its produced message came
// back with the next firing time).
func (ms *MsgScheduling) update(subj string, ts int64) {
	sched, ok := ms.schedules[subj]
	if !ok {
		return
	}
	// A replica may not have seen the previous time, so remove and add.
	_ = ms.ttls.Remove(sched.seq, sched.ts)
	ms.ttls.Add(sched.seq, ts)
	sched.ts = ts
	delete(ms.inflight, subj)
	ms.resetTimer()
}

// markInflight notes that subj's message was handed over.
func (ms *MsgScheduling) markInflight(subj string) {
	if _, ok := ms.schedules[subj]; ok {
		ms.inflight[subj] = struct{}{}
	}
}

// isInflight reports whether subj's message was handed over and not yet
// stored.
func (ms *MsgScheduling) isInflight(subj string) bool {
	_, ok := ms.inflight[subj]
	return ok
}

// remove drops the schedule whose message is seq, if any.
func (ms *MsgScheduling) remove(seq uint64) {
	if subj, ok := ms.seqToSubj[seq]; ok {
		ms.removeSubject(subj)
	}
}

// removeSubject drops subj's schedule.
func (ms *MsgScheduling) removeSubject(subj string) {
	sched, ok := ms.schedules[subj]
	if !ok {
		return
	}
	_ = ms.ttls.Remove(sched.seq, sched.ts)
	delete(ms.schedules, subj)
	delete(ms.seqToSubj, sched.seq)
	delete(ms.inflight, subj)
}

// clearInflight forgets what was handed over (a new leader hands it over
// again).
func (ms *MsgScheduling) clearInflight() {
	ms.inflight = make(map[string]struct{})
}

// resetTimer arms the timer for the next firing, no sooner than
// minScheduleFireInterval, and never later than it is already due (a
// timer pushed back on every store might never fire).
func (ms *MsgScheduling) resetTimer() {
	if ms.running {
		return
	}
	next := ms.ttls.GetNextExpiration(math.MaxInt64)
	if next == math.MaxInt64 {
		clearTimer(&ms.timer)
		ms.deadline = 0
		return
	}
	fireIn := max(time.Until(time.Unix(0, next)), minScheduleFireInterval)
	deadline := time.Now().UnixNano() + fireIn.Nanoseconds()
	if ms.deadline > 0 && deadline > ms.deadline {
		return
	}
	ms.deadline = deadline
	if ms.timer != nil {
		ms.timer.Reset(fireIn)
	} else {
		ms.timer = time.AfterFunc(fireIn, ms.run)
	}
}

// getScheduledMessages returns the messages of the schedules due, in
// schedule sequence order, marking their subjects in flight. loadMsg reads
// a schedule message, loadLast the last message on a source subject (nil
// when none). Schedules whose message is gone or whose headers are invalid
// are dropped.
func (ms *MsgScheduling) getScheduledMessages(loadMsg func(seq uint64, smv *StoreMsg) *StoreMsg, loadLast func(subj string, smv *StoreMsg) *StoreMsg) []*inMsg {
	var smv, srcSmv StoreMsg
	var msgs []*inMsg
	ms.ttls.ExpireTasks(func(seq uint64, ts int64) bool {
		sm := loadMsg(seq, &smv)
		if sm == nil {
			ms.remove(seq)
			return true
		}
		subj := sm.subj
		// Handed over and not stored yet (replication may be slow).
		if ms.isInflight(subj) {
			return false
		}
		im, ok := scheduledMessage(sm, seq, ts, func(source string) *StoreMsg { return loadLast(source, &srcSmv) })
		if !ok {
			ms.remove(seq)
			return true
		}
		msgs = append(msgs, im)
		ms.markInflight(subj)
		// It stays in the wheel until the produced message moves or ends it.
		return false
	})
	slices.SortFunc(msgs, func(a, b *inMsg) int {
		switch {
		case a.seq < b.seq:
			return -1
		case a.seq > b.seq:
			return 1
		}
		return 0
	})
	return msgs
}

// scheduledMessage builds the message schedule sm (sequence seq, due at
// ts) produces; ok is false when its headers are invalid.
func scheduledMessage(sm *StoreMsg, seq uint64, ts int64, loadLast func(subj string) *StoreMsg) (*inMsg, bool) {
	pattern := bytesToString(sliceHeader(JSSchedulePattern, sm.hdr))
	if pattern == _EMPTY_ {
		return nil, false
	}
	loc, err := loadMessageScheduleLocation(sm.hdr)
	if err != nil {
		return nil, false
	}
	next, repeat, ok := parseMsgSchedule(pattern, loc, ts)
	if !ok {
		return nil, false
	}
	ttl, ok := getMessageScheduleTTL(sm.hdr)
	if !ok {
		return nil, false
	}
	target := getMessageScheduleTarget(sm.hdr)
	if target == _EMPTY_ {
		return nil, false
	}
	rollup := getMessageScheduleRollup(sm.hdr)
	scheduler := sm.subj
	src := sm
	if source := getMessageScheduleSource(sm.hdr); source != _EMPTY_ {
		// Without a message on the source, the schedule's own content.
		if last := loadLast(source); last != nil {
			src = last
		}
	}
	// Copies: the store's buffers are reused.
	hdr, msg := copyBytes(src.hdr), copyBytes(src.msg)
	// Nats-Schedule, Nats-Schedule-* and Nats-Scheduler go, and what
	// could stop the message from being stored.
	hdr = removeHeaderIfPrefixPresent(hdr, "Nats-Schedule")
	hdr = removeHeaderIfPrefixPresent(hdr, "Nats-Expected-")
	hdr = removeHeaderIfPresent(hdr, JSMsgId)
	hdr = removeHeaderIfPresent(hdr, JSMessageTTL)
	hdr = removeHeaderIfPresent(hdr, JSMsgRollup)

	hdr = genHeader(hdr, JSScheduler, scheduler)
	if repeat {
		hdr = genHeader(hdr, JSScheduleNext, next.Format(time.RFC3339Nano))
	} else {
		hdr = genHeader(hdr, JSScheduleNext, JSScheduleNextPurge)
	}
	if ttl != _EMPTY_ {
		hdr = genHeader(hdr, JSMessageTTL, ttl)
	}
	if rollup != _EMPTY_ {
		hdr = genHeader(hdr, JSMsgRollup, rollup)
	}
	return &inMsg{seq: seq, subj: target, hdr: hdr, msg: msg}, true
}

// encode returns the schedules as sched.db, stamped with highSeq (the
// sequence below which they are complete).
func (ms *MsgScheduling) encode(highSeq uint64) []byte {
	count := uint64(len(ms.schedules))
	b := make([]byte, 0, headerLen+count*(2*binary.MaxVarintLen64))
	b = append(b, schedEncodingVersion)
	b = binary.LittleEndian.AppendUint64(b, count)
	b = binary.LittleEndian.AppendUint64(b, highSeq)
	for subj, sched := range ms.schedules {
		slen := min(len(subj), math.MaxUint16)
		b = binary.LittleEndian.AppendUint16(b, uint16(slen))
		b = append(b, subj[:slen]...)
		b = binary.AppendVarint(b, sched.ts)
		b = binary.AppendUvarint(b, sched.seq)
	}
	return b
}

// decode loads the schedules of a sched.db and returns its stamp.
func (ms *MsgScheduling) decode(b []byte) (uint64, error) {
	if len(b) < headerLen {
		return 0, io.ErrShortBuffer
	}
	if b[0] != schedEncodingVersion {
		return 0, ErrMsgScheduleInvalidVersion
	}
	count := binary.LittleEndian.Uint64(b[1:])
	stamp := binary.LittleEndian.Uint64(b[9:])
	b = b[headerLen:]
	for range count {
		if len(b) < 2 {
			return 0, io.ErrUnexpectedEOF
		}
		sl := int(binary.LittleEndian.Uint16(b))
		b = b[2:]
		if len(b) < sl {
			return 0, io.ErrUnexpectedEOF
		}
		subj := string(b[:sl])
		b = b[sl:]
		ts, tn := binary.Varint(b)
		if tn <= 0 {
			return 0, io.ErrUnexpectedEOF
		}
		seq, vn := binary.Uvarint(b[tn:])
		if vn <= 0 {
			return 0, io.ErrUnexpectedEOF
		}
		ms.init(seq, subj, ts)
		b = b[tn+vn:]
	}
	return stamp, nil
}

// parseMsgSchedule returns when pattern fires next after ts, whether it
// repeats, and whether it is valid. A repeating schedule that would have
// fired several times (after a restart, say) fires once, from now.
func parseMsgSchedule(pattern string, loc *time.Location, ts int64) (time.Time, bool, bool) {
	if pattern == _EMPTY_ {
		return time.Time{}, false, true
	}
	if at, ok := strings.CutPrefix(pattern, "@at "); ok {
		// No time zone: the time carries its own offset.
		if loc != nil {
			return time.Time{}, false, false
		}
		t, err := time.Parse(time.RFC3339, at)
		return t, false, err == nil
	}
	if every, ok := strings.CutPrefix(pattern, "@every "); ok {
		if loc != nil {
			return time.Time{}, false, false
		}
		d, err := time.ParseDuration(every)
		if err != nil || d < time.Second {
			return time.Time{}, false, false
		}
		next := time.Unix(0, ts).UTC().Round(time.Second).Add(d)
		if now := time.Now().UTC(); next.Before(now) {
			next = now.Round(time.Second).Add(d)
		}
		return next, true, true
	}
	switch pattern {
	case "@yearly", "@annually":
		pattern = "0 0 0 1 1 *"
	case "@monthly":
		pattern = "0 0 0 1 * *"
	case "@weekly":
		pattern = "0 0 0 * * 0"
	case "@daily", "@midnight":
		pattern = "0 0 0 * * *"
	case "@hourly":
		pattern = "0 0 * * * *"
	}
	next, err := parseCron(pattern, loc, ts)
	if err != nil {
		return time.Time{}, false, false
	}
	if now := time.Now().UTC(); next.Before(now) {
		if next, err = parseCron(pattern, loc, now.Round(time.Second).UnixNano()); err != nil {
			return time.Time{}, false, false
		}
	}
	return next, true, true
}

// getMessageSchedule returns when the schedule in hdr fires next from now
// (zero when hdr has none).
func getMessageSchedule(hdr []byte) (time.Time, error) {
	if len(hdr) == 0 {
		return time.Time{}, nil
	}
	return nextMessageSchedule(hdr, time.Now().UTC().UnixNano())
}

// nextMessageSchedule returns when the schedule in hdr fires next after ts
// (zero when hdr has none).
func nextMessageSchedule(hdr []byte, ts int64) (time.Time, error) {
	if len(hdr) == 0 {
		return time.Time{}, nil
	}
	loc, err := loadMessageScheduleLocation(hdr)
	if err != nil {
		return time.Time{}, err
	}
	next, _, ok := parseMsgSchedule(bytesToString(sliceHeader(JSSchedulePattern, hdr)), loc, ts)
	if !ok {
		return time.Time{}, errMsgSchedulePatternInvalid
	}
	return next, nil
}

// loadMessageScheduleLocation returns the schedule's time zone: nil without
// the header, an error when it is empty or unknown.
func loadMessageScheduleLocation(hdr []byte) (*time.Location, error) {
	tz := sliceHeader(JSScheduleTimeZone, hdr)
	if tz == nil {
		return nil, nil
	}
	if len(tz) == 0 {
		return nil, errMsgScheduleTimeZoneInvalid
	}
	loc, err := time.LoadLocation(bytesToString(tz))
	if err != nil {
		return nil, errMsgScheduleTimeZoneInvalid
	}
	return loc, nil
}

// getMessageScheduleTTL returns the TTL the produced message gets (empty
// for none); ok is false when it is invalid.
func getMessageScheduleTTL(hdr []byte) (string, bool) {
	ttl := getHeader(JSScheduleTTL, hdr)
	if len(ttl) == 0 {
		return _EMPTY_, true
	}
	if _, err := parseMessageTTL(bytesToString(ttl)); err != nil {
		return _EMPTY_, false
	}
	return string(ttl), true
}

// getMessageScheduleRollup returns the rollup the produced message gets.
func getMessageScheduleRollup(hdr []byte) string {
	return string(sliceHeader(JSScheduleRollup, hdr))
}

// getMessageScheduleTarget returns the subject the produced message goes
// to.
func getMessageScheduleTarget(hdr []byte) string {
	if len(hdr) == 0 {
		return _EMPTY_
	}
	return string(getHeader(JSScheduleTarget, hdr))
}

// getMessageScheduleSource returns the subject whose last message the
// produced message copies.
func getMessageScheduleSource(hdr []byte) string {
	if len(hdr) == 0 {
		return _EMPTY_
	}
	return string(getHeader(JSScheduleSource, hdr))
}

// getMessageScheduler returns the schedule subject a produced message came
// from.
func getMessageScheduler(hdr []byte) string {
	if len(hdr) == 0 {
		return _EMPTY_
	}
	return string(getHeader(JSScheduler, hdr))
}

// clearTimer stops *tp and clears it.
func clearTimer(tp **time.Timer) {
	if t := *tp; t != nil {
		t.Stop()
		*tp = nil
	}
}
