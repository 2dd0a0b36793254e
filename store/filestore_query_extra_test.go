package store

import "testing"

// The port's own tests for query helpers whose effect upstream's tests do not
// observe directly.

func TestFileStoreType(t *testing.T) {
	fs := newTestFileStore(t, FileStoreConfig{StoreDir: t.TempDir()}, StreamConfig{Name: "zzz", Subjects: []string{"foo"}})
	if got := fs.Type(); got != FileStorage {
		t.Fatalf("Type() = %v, want %v", got, FileStorage)
	}
}

// filterIsAll lets MultiLastSeqs skip per-filter matching when the filters
// are exactly the stream's subjects, in any order and no narrower.
func TestFileStoreFilterIsAll(t *testing.T) {
	fs := newTestFileStore(t, FileStoreConfig{StoreDir: t.TempDir()},
		StreamConfig{Name: "zzz", Subjects: []string{"foo.*", "bar.>", "baz"}})
	for _, tc := range []struct {
		name    string
		filters []string
		want    bool
	}{
		{"same order", []string{"foo.*", "bar.>", "baz"}, true},
		{"other order", []string{"baz", "foo.*", "bar.>"}, true},
		{"one missing", []string{"foo.*", "bar.>"}, false},
		{"one extra", []string{"foo.*", "bar.>", "baz", "qux"}, false},
		{"narrower filter", []string{"foo.a", "bar.>", "baz"}, false},
		{"different subject", []string{"foo.*", "bar.>", "bat"}, false},
		{"none", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := fs.filterIsAll(tc.filters); got != tc.want {
				t.Fatalf("filterIsAll(%q) = %v, want %v", tc.filters, got, tc.want)
			}
		})
	}
	// The caller's slice is left in its order.
	filters := []string{"baz", "foo.*", "bar.>"}
	fs.filterIsAll(filters)
	if filters[0] != "baz" || filters[1] != "foo.*" || filters[2] != "bar.>" {
		t.Fatalf("filterIsAll reordered its argument: %q", filters)
	}
}
