package store

import (
	"errors"
	"fmt"
	"reflect"
	"syscall"
	"testing"
	"time"

	"github.com/porttracker/porttracker/store/vfs"
)

// Upstream runs this scenario on a 32KB tmpfs it expects the caller to
// mount; here the page-counting quota of an in-memory file system plays that
// disk, so it runs everywhere and for every cipher and compression.
func TestFileStoreWriteFailures(t *testing.T) {
	for _, perm := range allPermutations {
		t.Run(fmt.Sprintf("%s-%s", perm.Cipher, perm.Compression), func(t *testing.T) {
			mem := vfs.NewMem()
			fsys := vfs.NewFaultFS(mem, &pageQuota{fsys: mem, root: "/jswf", limit: 32 * 1024})
			fcfg := perm
			fcfg.StoreDir = "/jswf/zzz"
			var kg keyGen
			if fcfg.Cipher != NoCipher {
				kg = hmacKeyGen("dlc22")
			}
			cfg := StreamConfig{Name: "zzz", Subjects: []string{"foo"}, Storage: FileStorage}
			created := time.Now()
			open := func() *fileStore {
				t.Helper()
				fs, err := openFileStore(fsys, fcfg, cfg, created, kg, nil)
				require_NoError(t, err)
				return fs
			}
			fs := open()
			defer func() { fs.Stop() }()

			msg := []byte("Hello Write Failures!")
			var failed uint64
			for i := uint64(1); i <= 1000; i++ {
				if _, _, err := fs.StoreMsg("foo", nil, msg, 0); err != nil {
					require_True(t, errors.Is(err, syscall.ENOSPC))
					failed = i
					break
				}
			}
			if failed == 0 {
				t.Fatalf("1000 messages fit in a 32KB quota")
			}
			state := fs.State()
			require_Equal(t, state.LastSeq, failed-1)
			require_Equal(t, state.Msgs, failed-1)
			if _, err := fs.LoadMsg(failed, nil); err == nil {
				t.Fatalf("the message whose write failed (seq %d) loads", failed)
			}
			sm, err := fs.LoadMsg(1, nil)
			require_NoError(t, err)
			require_Equal(t, string(sm.msg), string(msg))

			require_NoError(t, fs.Stop())
			fs = open()
			state2 := fs.State()
			state.Lost, state2.Lost = nil, nil
			if !reflect.DeepEqual(state2, state) {
				t.Fatalf("recovered state differs:\n%+v\nwant\n%+v", state2, state)
			}

			// Still full: the next write fails the same way and changes nothing.
			_, _, err = fs.StoreMsg("foo", nil, msg, 0)
			require_True(t, errors.Is(err, syscall.ENOSPC))
			require_Equal(t, fs.State().LastSeq, failed-1)
			checkStoreConsistent(t, fs)
		})
	}
}
