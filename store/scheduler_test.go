package store

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestHeaderHelpers(t *testing.T) {
	hdr := genHeader(nil, "Ka", " one\r\ntwo ")
	require_Equal(t, string(hdr), "NATS/1.0\r\nKa: one  two\r\n\r\n")
	hdr = genHeader(hdr, "Nats-Schedule", "@every 1s")
	hdr = genHeader(hdr, "Nats-Schedule-Target", "t")
	hdr = genHeader(hdr, "Kb", "2")
	require_Equal(t, string(getHeader("Kb", hdr)), "2")
	require_True(t, getHeader("Kc", hdr) == nil)
	v := getHeader("Ka", hdr)
	v[0] = 'X' // a copy
	require_Equal(t, string(getHeader("Ka", hdr)), "one  two")

	stripped := removeHeaderIfPrefixPresent(append([]byte(nil), hdr...), "Nats-Schedule")
	require_Equal(t, string(stripped), "NATS/1.0\r\nKa: one  two\r\nKb: 2\r\n\r\n")
	// Only at a line start.
	require_Equal(t, string(removeHeaderIfPrefixPresent([]byte("NATS/1.0\r\nX-Kb: 1\r\n\r\n"), "Kb")), "NATS/1.0\r\nX-Kb: 1\r\n\r\n")
	require_True(t, removeHeaderIfPrefixPresent([]byte("NATS/1.0\r\nKb: 1\r\n\r\n"), "Kb") == nil)

	removed := removeHeaderIfPresent(append([]byte(nil), stripped...), "Ka")
	require_Equal(t, string(removed), "NATS/1.0\r\nKb: 2\r\n\r\n")
	// A longer key with the same start stays.
	require_Equal(t, string(removeHeaderIfPresent([]byte("NATS/1.0\r\nKbb: 1\r\n\r\n"), "Kb")), "NATS/1.0\r\nKbb: 1\r\n\r\n")
	require_True(t, removeHeaderIfPresent(removed, "Kb") == nil)

	require_True(t, copyBytes(nil) == nil)
	src := []byte("abc")
	dup := copyBytes(src)
	dup[0] = 'z'
	require_Equal(t, string(src), "abc")
	require_Equal(t, string(dup), "zbc")
}

func TestParseMsgSchedule(t *testing.T) {
	now := time.Now()
	ts := now.UnixNano()
	at := now.Add(time.Hour).UTC().Truncate(time.Second)
	ny, _ := time.LoadLocation("America/New_York")
	for _, tc := range []struct {
		name            string
		pattern         string
		loc             *time.Location
		repeat, valid   bool
		wantAt, notZero bool
	}{
		{"empty", "", nil, false, true, false, false},
		{"at", "@at " + at.Format(time.RFC3339), nil, false, true, true, true},
		{"at-bad", "@at tomorrow", nil, false, false, false, false},
		{"at-zone", "@at " + at.Format(time.RFC3339), ny, false, false, false, false},
		{"every", "@every 5s", nil, true, true, false, true},
		{"every-short", "@every 500ms", nil, false, false, false, false},
		{"every-bad", "@every soon", nil, false, false, false, false},
		{"every-zone", "@every 5s", ny, false, false, false, false},
		{"hourly", "@hourly", nil, true, true, false, true},
		{"daily-zone", "@daily", ny, true, true, false, true},
		{"cron", "0 */5 * * * *", nil, true, true, false, true},
		{"cron-bad", "0 */5 * * *", nil, false, false, false, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			next, repeat, valid := parseMsgSchedule(tc.pattern, tc.loc, ts)
			require_Equal(t, valid, tc.valid)
			require_Equal(t, repeat, tc.repeat)
			require_Equal(t, !next.IsZero(), tc.notZero)
			if tc.wantAt && !next.Equal(at) {
				t.Fatalf("next %v, want %v", next, at)
			}
			if tc.repeat && !next.After(now) {
				t.Fatalf("next %v is not after now", next)
			}
		})
	}
	// A repeating schedule long overdue fires once, from now.
	old := now.Add(-time.Hour).UnixNano()
	next, _, _ := parseMsgSchedule("@every 10s", nil, old)
	require_True(t, next.After(now) && next.Before(now.Add(12*time.Second)))
	next, _, _ = parseMsgSchedule("* * * * * *", nil, old)
	require_True(t, next.After(now.Add(-time.Second)) && next.Before(now.Add(2*time.Second)))
	// Shorthands are cron patterns.
	y, _, _ := parseMsgSchedule("@yearly", nil, ts)
	a, _, _ := parseMsgSchedule("@annually", nil, ts)
	c, _ := parseCron("0 0 0 1 1 *", nil, ts)
	require_True(t, y.Equal(c) && a.Equal(c))
	for pattern, cron := range map[string]string{"@monthly": "0 0 0 1 * *", "@weekly": "0 0 0 * * 0", "@midnight": "0 0 0 * * *"} {
		got, _, _ := parseMsgSchedule(pattern, nil, ts)
		want, _ := parseCron(cron, nil, ts)
		require_True(t, got.Equal(want))
	}
}

func TestMessageScheduleHeaderLookups(t *testing.T) {
	hdr := scheduleHeader("@every 2s", "to")
	hdr = genHeader(hdr, JSScheduleTTL, "30s")
	hdr = genHeader(hdr, JSScheduleRollup, "sub")
	hdr = genHeader(hdr, JSScheduleSource, "from")
	hdr = genHeader(hdr, JSScheduler, "sched")
	require_Equal(t, getMessageScheduleTarget(hdr), "to")
	require_Equal(t, getMessageScheduleSource(hdr), "from")
	require_Equal(t, getMessageScheduleRollup(hdr), "sub")
	require_Equal(t, getMessageScheduler(hdr), "sched")
	ttl, ok := getMessageScheduleTTL(hdr)
	require_True(t, ok)
	require_Equal(t, ttl, "30s")
	_, ok = getMessageScheduleTTL(genHeader(nil, JSScheduleTTL, "soon"))
	require_False(t, ok)
	ttl, ok = getMessageScheduleTTL(nil)
	require_True(t, ok && ttl == "")
	for _, f := range []func([]byte) string{getMessageScheduleTarget, getMessageScheduleSource, getMessageScheduler} {
		require_Equal(t, f(nil), "")
	}

	next, err := nextMessageSchedule(hdr, time.Now().UnixNano())
	require_NoError(t, err)
	require_True(t, next.After(time.Now()))
	next, err = getMessageSchedule(hdr)
	require_NoError(t, err)
	require_False(t, next.IsZero())
	next, err = getMessageSchedule(nil)
	require_NoError(t, err)
	require_True(t, next.IsZero())
	next, err = nextMessageSchedule(nil, 0)
	require_NoError(t, err)
	require_True(t, next.IsZero())
	_, err = nextMessageSchedule(scheduleHeader("@every x", ""), 0)
	require_Error(t, err, errMsgSchedulePatternInvalid)

	loc, err := loadMessageScheduleLocation(genHeader(nil, JSScheduleTimeZone, "Europe/Paris"))
	require_NoError(t, err)
	require_Equal(t, loc.String(), "Europe/Paris")
	loc, err = loadMessageScheduleLocation(hdr)
	require_NoError(t, err)
	require_True(t, loc == nil)
	_, err = loadMessageScheduleLocation(genHeader(nil, JSScheduleTimeZone, "Mars/Olympus"))
	require_Error(t, err, errMsgScheduleTimeZoneInvalid)
	_, err = loadMessageScheduleLocation([]byte("NATS/1.0\r\nNats-Schedule-Time-Zone:\r\n\r\n"))
	require_Error(t, err, errMsgScheduleTimeZoneInvalid)
	_, err = nextMessageSchedule(genHeader(scheduleHeader("@hourly", ""), JSScheduleTimeZone, "Mars/Olympus"), 0)
	require_Error(t, err, errMsgScheduleTimeZoneInvalid)
}

func TestMsgSchedulingBookkeeping(t *testing.T) {
	ms := newMsgScheduling(func() {})
	defer clearTimer(&ms.timer)
	now := time.Now()
	ms.add(1, "a", now.Add(time.Hour).UnixNano())
	require_True(t, ms.timer != nil)
	first := ms.deadline
	require_True(t, first > 0)
	// A later schedule does not push the timer back.
	ms.add(2, "b", now.Add(2*time.Hour).UnixNano())
	require_True(t, ms.deadline <= first)
	// A deadline set later than the timer's is not taken either.
	ms.deadline = now.Add(time.Minute).UnixNano()
	ms.add(6, "e", now.Add(4*time.Hour).UnixNano())
	require_Equal(t, ms.deadline, now.Add(time.Minute).UnixNano())
	ms.removeSubject("e")
	ms.deadline = first
	// An earlier one brings it forward, but no sooner than the minimum.
	ms.add(3, "c", now.UnixNano())
	require_True(t, ms.deadline < first)
	require_True(t, ms.deadline >= now.Add(minScheduleFireInterval).UnixNano())

	// A newer schedule on a subject replaces the older.
	ms.add(4, "a", now.Add(3*time.Hour).UnixNano())
	_, old := ms.seqToSubj[1]
	require_False(t, old)
	require_Equal(t, ms.seqToSubj[4], "a")
	require_Equal(t, ms.schedules["a"].seq, 4)
	require_Equal(t, ms.ttls.Count(), 3)

	ms.markInflight("b")
	ms.markInflight("zzz") // no schedule: not tracked
	require_True(t, ms.isInflight("b"))
	require_False(t, ms.isInflight("zzz"))
	ms.update("b", now.Add(5*time.Hour).UnixNano())
	require_False(t, ms.isInflight("b"))
	require_Equal(t, ms.schedules["b"].ts, now.Add(5*time.Hour).UnixNano())
	ms.update("nope", 1) // unknown subject: nothing

	ms.markInflight("c")
	ms.clearInflight()
	require_False(t, ms.isInflight("c"))

	ms.remove(3)
	ms.remove(99)
	_, ok := ms.schedules["c"]
	require_False(t, ok)
	ms.removeSubject("b")
	ms.removeSubject("nope")
	require_Equal(t, len(ms.schedules), 1)
	require_Equal(t, ms.ttls.Count(), 1)
	ms.removeSubject("a")
	require_Equal(t, ms.ttls.Count(), 0)
	// Nothing scheduled: the timer goes. (The wheel's next expiration is
	// only refreshed as it expires, so use a fresh one.)
	empty := newMsgScheduling(func() {})
	empty.timer, empty.deadline = time.AfterFunc(time.Hour, func() {}), 5
	empty.resetTimer()
	require_True(t, empty.timer == nil)
	require_Equal(t, empty.deadline, 0)
	// A run in progress re-arms itself.
	ms.add(5, "d", now.UnixNano())
	clearTimer(&ms.timer)
	ms.deadline, ms.running = 0, true
	ms.resetTimer()
	require_True(t, ms.timer == nil)
}

// getScheduledMessages builds each due schedule's message, skips subjects
// in flight, drops schedules that are gone or invalid, and orders by
// schedule sequence.
func TestMsgSchedulingGetScheduledMessages(t *testing.T) {
	past := time.Now().Add(-time.Minute).UnixNano()
	at := "@at " + time.Now().Add(-time.Second).UTC().Format(time.RFC3339)
	msgs := map[uint64]*StoreMsg{
		1:  {subj: "s.src", seq: 1, hdr: genHeader(genHeader(genHeader(genHeader(scheduleHeader("@every 1m", "t.src"), JSScheduleSource, "data"), JSScheduleTTL, "10"), JSScheduleRollup, "sub"), JSMsgId, "x"), msg: []byte("own")},
		2:  {subj: "s.once", seq: 2, hdr: genHeader(genHeader(scheduleHeader(at, "t.once"), "Nats-Expected-Last-Sequence", "4"), JSMessageTTL, "1"), msg: []byte("once")},
		3:  {subj: "s.notarget", seq: 3, hdr: scheduleHeader(at, "")},
		4:  {subj: "s.nopattern", seq: 4, hdr: genHeader(nil, JSScheduleTarget, "t")},
		5:  {subj: "s.badttl", seq: 5, hdr: genHeader(scheduleHeader(at, "t"), JSScheduleTTL, "soon")},
		6:  {subj: "s.badtz", seq: 6, hdr: genHeader(scheduleHeader(at, "t"), JSScheduleTimeZone, "Mars/Olympus")},
		7:  {subj: "s.badpattern", seq: 7, hdr: scheduleHeader("@every never", "t")},
		9:  {subj: "s.inflight", seq: 9, hdr: scheduleHeader(at, "t.inflight")},
		10: {subj: "s.nosource", seq: 10, hdr: genHeader(scheduleHeader(at, "t.nosource"), JSScheduleSource, "empty"), msg: []byte("fallback")},
	}
	ms := newMsgScheduling(func() {})
	for seq, sm := range msgs {
		ms.init(seq, sm.subj, past)
	}
	ms.init(8, "s.gone", past)
	ms.markInflight("s.inflight")
	out := ms.getScheduledMessages(
		func(seq uint64, _ *StoreMsg) *StoreMsg { return msgs[seq] },
		func(subj string, _ *StoreMsg) *StoreMsg {
			if subj == "data" {
				return &StoreMsg{subj: "data", hdr: genHeader(nil, "From", "data"), msg: []byte("latest")}
			}
			return nil
		})
	var got []string
	for _, im := range out {
		got = append(got, fmt.Sprintf("%d %s %q", im.seq, im.subj, im.msg))
	}
	require_Equal(t, strings.Join(got, "|"), `1 t.src "latest"|2 t.once "once"|10 t.nosource "fallback"`)

	src := out[0].hdr
	require_Equal(t, string(getHeader("From", src)), "data")
	require_Equal(t, string(getHeader(JSScheduler, src)), "s.src")
	require_Equal(t, string(getHeader(JSMessageTTL, src)), "10")
	require_Equal(t, string(getHeader(JSMsgRollup, src)), "sub")
	next, err := time.Parse(time.RFC3339Nano, string(getHeader(JSScheduleNext, src)))
	require_NoError(t, err)
	require_True(t, next.After(time.Now()))
	once := out[1].hdr
	require_Equal(t, string(getHeader(JSScheduleNext, once)), JSScheduleNextPurge)
	for _, k := range []string{"Nats-Expected-Last-Sequence", JSMessageTTL, JSMsgId, JSSchedulePattern, JSScheduleTarget} {
		require_True(t, sliceHeader(k, once) == nil)
	}
	// Handed over: in flight and still scheduled; invalid and gone ones dropped.
	require_True(t, ms.isInflight("s.src") && ms.isInflight("s.once"))
	for _, subj := range []string{"s.notarget", "s.nopattern", "s.badttl", "s.badtz", "s.badpattern", "s.gone"} {
		_, ok := ms.schedules[subj]
		require_False(t, ok)
	}
	require_Equal(t, len(ms.schedules), 4)
	require_Equal(t, ms.ttls.GetNextExpiration(math.MaxInt64), past)
}

// In the store: a repeating schedule is handed over, its produced message
// (stored back, as the upper layer would) moves it to its next time, a
// plain message on the schedule's subject ends it, and ResetState hands
// over again what was in flight.
func TestFileStoreRepeatingScheduleLifecycle(t *testing.T) {
	dir := t.TempDir()
	cfg := StreamConfig{Name: "S", Subjects: []string{">"}, Storage: FileStorage, AllowMsgSchedules: true}
	fs := newTestFileStore(t, FileStoreConfig{StoreDir: dir}, cfg)
	var mu sync.Mutex
	var handed []*inMsg
	fs.RegisterProcessJetStreamMsg(func(im *inMsg) {
		mu.Lock()
		handed = append(handed, im)
		mu.Unlock()
	})
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(handed)
	}
	seq, _, err := fs.StoreMsg("sched.a", scheduleHeader("@every 1s", "out.a"), []byte("tick"), 0)
	require_NoError(t, err)
	mb := firstBlockOf(fs)
	mb.mu.RLock()
	require_Equal(t, mb.schedules, 1)
	mb.mu.RUnlock()

	checkFor(t, 5*time.Second, 20*time.Millisecond, func() error {
		if count() == 0 {
			return fmt.Errorf("not handed over yet")
		}
		return nil
	})
	// In flight: not handed over again while it is.
	fs.runMsgScheduling()
	require_Equal(t, count(), 1)
	mu.Lock()
	im := handed[0]
	mu.Unlock()

	// The produced message comes back: the schedule moves on.
	_, _, err = fs.StoreMsg(im.subj, im.hdr, im.msg, 0)
	require_NoError(t, err)
	next, _ := time.Parse(time.RFC3339Nano, string(getHeader(JSScheduleNext, im.hdr)))
	fs.mu.RLock()
	require_Equal(t, fs.scheduling.schedules["sched.a"].ts, next.UnixNano())
	require_False(t, fs.scheduling.isInflight("sched.a"))
	fs.mu.RUnlock()

	// ResetState clears in-flight marks.
	fs.mu.Lock()
	fs.scheduling.markInflight("sched.a")
	fs.mu.Unlock()
	fs.ResetState()
	fs.mu.RLock()
	require_False(t, fs.scheduling.isInflight("sched.a"))
	fs.mu.RUnlock()

	// Stopping writes sched.db; a plain message on the subject ends it.
	require_NoError(t, fs.Stop())
	b, err := os.ReadFile(filepath.Join(dir, msgDir, msgSchedulingStreamStateFile))
	require_NoError(t, err)
	ms := newMsgScheduling(func() {})
	stamp, err := ms.decode(b)
	require_NoError(t, err)
	require_Equal(t, stamp, 3)
	require_Equal(t, ms.seqToSubj[seq], "sched.a")

	fs = newTestFileStore(t, FileStoreConfig{StoreDir: dir}, cfg)
	fs.mu.RLock()
	require_Equal(t, len(fs.scheduling.schedules), 1)
	fs.mu.RUnlock()
	_, _, err = fs.StoreMsg("sched.a", nil, []byte("plain"), 0)
	require_NoError(t, err)
	fs.mu.RLock()
	require_Equal(t, len(fs.scheduling.schedules), 0)
	fs.mu.RUnlock()
}

// Without a handler nothing is handed over and the timer is re-armed; a
// store with scheduling off ignores schedules; UpdateConfig turns it on
// (finding the schedules stored meanwhile) and off.
func TestFileStoreSchedulingConfig(t *testing.T) {
	cfg := StreamConfig{Name: "S", Subjects: []string{">"}, Storage: FileStorage, AllowMsgSchedules: true}
	fs := newTestFileStore(t, FileStoreConfig{StoreDir: t.TempDir()}, cfg)
	_, _, err := fs.StoreMsg("sched.a", scheduleHeader("@at "+time.Now().Add(-time.Second).UTC().Format(time.RFC3339), "out"), nil, 0)
	require_NoError(t, err)
	fs.mu.Lock()
	fs.scheduling.deadline = 0
	clearTimer(&fs.scheduling.timer)
	fs.mu.Unlock()
	fs.runMsgScheduling()
	fs.mu.RLock()
	require_True(t, fs.scheduling.timer != nil)
	require_Equal(t, len(fs.scheduling.schedules), 1)
	fs.mu.RUnlock()

	off := cfg
	off.AllowMsgSchedules = false
	require_NoError(t, fs.UpdateConfig(&off))
	fs.mu.RLock()
	require_True(t, fs.scheduling == nil)
	fs.mu.RUnlock()
	fs.runMsgScheduling() // nothing to do
	_, _, err = fs.StoreMsg("sched.b", scheduleHeader("@every 1h", "out"), nil, 0)
	require_NoError(t, err)

	handed := make(chan *inMsg, 4)
	fs.RegisterProcessJetStreamMsg(func(im *inMsg) { handed <- im })
	require_NoError(t, fs.UpdateConfig(&cfg))
	fs.mu.RLock()
	require_Equal(t, len(fs.scheduling.schedules), 2)
	fs.mu.RUnlock()
	// UpdateConfig ran the due one at once.
	select {
	case im := <-handed:
		require_Equal(t, string(getHeader(JSScheduler, im.hdr)), "sched.a")
	case <-time.After(time.Second):
		t.Fatalf("the due schedule was not handed over")
	}
	// A stopped store hands nothing over.
	require_NoError(t, fs.Stop())
	fs.runMsgScheduling()
	require_Equal(t, len(handed), 0)
}
