package inventory

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/porttracker/porttracker/tracker"
	"github.com/porttracker/porttracker/tracker/db"
)

func applyPlan(t *testing.T, d *db.DB, p *Plan, root string, execute bool) (*ApplyReport, error) {
	t.Helper()
	g, err := BuildCallGraph(context.Background(), root, p.Packages())
	if err != nil {
		t.Fatal(err)
	}
	var rep *ApplyReport
	fn := func(tx *db.Tx) error {
		var err error
		rep, err = p.Apply(tx, g, "basic.json")
		return err
	}
	if execute {
		err = d.Write(context.Background(), fn)
	} else {
		err = d.Read(context.Background(), fn)
	}
	return rep, err
}

func loadBasicPlan(t *testing.T) *Plan {
	t.Helper()
	p, err := LoadPlan(filepath.Join("testdata", "plans", "basic.json"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPlanApply(t *testing.T) {
	d := newTestDB(t)
	mergeTree(t, d, fixture("basic"), Upstream{Module: "example.com/fixture", Version: "v1"}, true)
	p := loadBasicPlan(t)

	dry, err := applyPlan(t, d, p, fixture("basic"), false)
	if err != nil {
		t.Fatal(err)
	}
	if dry.Written || len(dry.BatchesCreated) != 2 {
		t.Fatalf("dry run: %+v", dry)
	}

	rep, err := applyPlan(t, d, p, fixture("basic"), true)
	if err != nil {
		t.Fatal(err)
	}
	// Blocks: Len, Grow, newBlock. Trees: Insert, Key, Map and tree.go's init.
	if rep.PerBatch[1] != [2]int{3, 1} || rep.PerBatch[2] != [2]int{4, 0} {
		t.Errorf("per batch %v, want 1:{3 features, 1 test} 2:{4 features}", rep.PerBatch)
	}
	if rep.NewNA != 1 || len(rep.NAList) != 1 || rep.NAList[0].Name != "TestTree" || !strings.Contains(rep.NAList[0].Why, "describe") {
		t.Errorf("n_a %+v, want TestTree because it calls describe", rep.NAList)
	}
	// TestBlockGrow calls newBlock, Grow and Len directly: three static links.
	if rep.LinksAdded != 3 {
		t.Errorf("links added %d, want 3", rep.LinksAdded)
	}

	feats := itemsByName(t, d, tracker.KindFeature)
	for sym, want := range map[string]int64{"(Block).Len": 1, "(*Block).Grow": 1, "newBlock": 1, "(*Tree[T]).Insert": 2,
		"(Pair[K, V]).Key": 2, "Map": 2, "describe": 0, "windowsOnly": 0} {
		if got := feats[sym].BatchID; got != want {
			t.Errorf("%s in batch %d, want %d", sym, got, want)
		}
	}
	tests := itemsByName(t, d, tracker.KindTest)
	if it := tests["TestTree"]; it.Status != tracker.StatusNA || it.Reason != "describes blocks in text" || it.BatchID != 0 {
		t.Errorf("TestTree: %s %q batch %d, want n_a with the rule's reason, unbatched", it.Status, it.Reason, it.BatchID)
	}
	if it := tests["TestBlockGrow"]; it.BatchID != 1 {
		t.Errorf("TestBlockGrow in batch %d, want 1", it.BatchID)
	}
	err = d.Read(context.Background(), func(tx *db.Tx) error {
		b, err := tx.GetBatch(2)
		if err != nil {
			return err
		}
		if b.Name != "Trees" || len(b.DependsOn) != 1 || b.DependsOn[0] != 1 {
			t.Errorf("batch 2: %+v", b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, a := range auditActions(t, d) {
		count[a.Action]++
	}
	if count[db.ActionBatchCreate] != 2 || count[db.ActionMove] != 8 || count[db.ActionStatus] != 1 {
		t.Errorf("audit %v, want 2 batch_create, 8 move, 1 status", count)
	}
	if problems, err := d.Check(context.Background()); err != nil || len(problems) > 0 {
		t.Errorf("db check: %v %v", problems, err)
	}

	again, err := applyPlan(t, d, p, fixture("basic"), true)
	if err != nil {
		t.Fatal(err)
	}
	if again.Written || again.Moves+again.NewNA+again.LinksAdded+again.LinksRemoved+len(again.BatchesCreated) != 0 {
		t.Errorf("second apply changed something: %+v", again)
	}
}

func TestPlanRefusals(t *testing.T) {
	d := newTestDB(t)
	mergeTree(t, d, fixture("basic"), Upstream{Module: "example.com/fixture", Version: "v1"}, true)
	tests := []struct {
		name string
		edit func(p *Plan)
		want string
	}{
		{"unknown name", func(p *Plan) { p.Batches[0].Features[1].Names = []string{"newBlok"} }, `name "newBlok" matches no feature`},
		{"overlap", func(p *Plan) {
			p.Batches[1].Features = append(p.Batches[1].Features, Selector{File: "server/store.go", Names: []string{"newBlock"}})
		}, "selected by batches 1 and 2"},
		{"other module", func(p *Plan) { p.Upstream.Module = "example.com/other" }, "written for example.com/other"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := loadBasicPlan(t)
			tc.edit(p)
			_, err := applyPlan(t, d, p, fixture("basic"), true)
			if !errors.Is(err, tracker.ErrRefused) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want a refusal mentioning %q", err, tc.want)
			}
		})
	}
	if n := len(auditActions(t, d)); n != 1 {
		t.Errorf("refused plans wrote %d audit rows beyond the scan", n-1)
	}
}

func TestLoadPlanValidation(t *testing.T) {
	tests := []struct {
		name, json, want string
	}{
		{"unknown field", `{"batches": [], "bogus": 1}`, "unknown field"},
		{"duplicate id", `{"batches": [{"id": 1, "name": "a", "depends_on": [], "features": []}, {"id": 1, "name": "b", "depends_on": [], "features": []}]}`, "duplicate"},
		{"forward dependency", `{"batches": [{"id": 1, "name": "a", "depends_on": [2], "features": []}, {"id": 2, "name": "b", "depends_on": [], "features": []}]}`, "lower ids"},
		{"unknown dependency", `{"batches": [{"id": 2, "name": "a", "depends_on": [1], "features": []}]}`, "unknown batch 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := filepath.Join(t.TempDir(), "plan.json")
			if err := os.WriteFile(f, []byte(tc.json), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := LoadPlan(f)
			if !errors.Is(err, tracker.ErrUsage) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want a usage error mentioning %q", err, tc.want)
			}
		})
	}
}

func TestPlanFileIsCanonicalJSON(t *testing.T) {
	// plan/storage.json must load, and keep its batch ids and chain.
	p, err := LoadPlan(filepath.Join("..", "..", "plan", "storage.json"))
	if err != nil {
		t.Fatal(err)
	}
	deps := map[int64][]int64{}
	for _, b := range p.Batches {
		deps[b.ID] = b.DependsOn
	}
	want := map[int64][]int64{8: {}, 9: {}, 10: {8}, 11: {}, 12: {8}, 13: {9, 10, 11, 12}, 14: {13}, 15: {14}}
	got, _ := json.Marshal(deps)
	exp, _ := json.Marshal(want)
	if string(got) != string(exp) {
		t.Errorf("batch dependencies %s, want %s", got, exp)
	}
}
