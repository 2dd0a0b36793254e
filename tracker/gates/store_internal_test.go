package gates

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/porttracker/porttracker/evidence"
	"github.com/porttracker/porttracker/tracker/db"
)

// A port test that was deleted or renamed must not stay linked: its stale
// link would demand a run of a test that no longer exists (seen when the
// gates ran on a checkout without a helper's uncommitted test file).
func TestPrunePortLinksDropsVanishedTests(t *testing.T) {
	d, err := db.Create(filepath.Join(t.TempDir(), "porting.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ctx := context.Background()
	err = d.Write(ctx, func(tx *db.Tx) error {
		for _, ref := range []evidence.TestRef{{Pkg: "./store", Name: "TestKept"}, {Pkg: "./store", Name: "TestGone"}, {Pkg: "./store/avl", Name: "TestGone"}} {
			if err := replacePortLinks(tx, ref, []int64{7, 8}); err != nil {
				return err
			}
		}
		return prunePortLinks(tx, "./store", []string{"TestKept", "TestOther"})
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []evidence.TestRef
	err = d.Read(ctx, func(tx *db.Tx) error {
		got, err = portLinks(tx, 7)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []evidence.TestRef{{Pkg: "./store", Name: "TestKept"}, {Pkg: "./store/avl", Name: "TestGone"}}
	if !slices.Equal(got, want) {
		t.Fatalf("links of feature 7 = %v, want %v (only ./store's vanished test dropped)", got, want)
	}
}
