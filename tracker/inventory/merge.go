package inventory

import (
	"fmt"
	"sort"
	"strings"

	"github.com/porttracker/porttracker/tracker"
	"github.com/porttracker/porttracker/tracker/db"
)

// Meta keys the inventory records.
const (
	MetaModule  = "upstream_module"
	MetaVersion = "upstream_version"
	MetaCommit  = "upstream_commit"
	MetaRoot    = "upstream_root" // the scanned subtrees, relative to the module root: "server"
)

// Upstream describes the scanned tree for the meta table. Empty fields leave
// the stored value alone.
type Upstream struct {
	Module, Version, Commit string
}

// Change is one item-level difference between the database and a scan.
type Change struct {
	Kind   string
	ID     int64 // 0 for an item a dry run would create
	Symbol string
	What   string // "new", "moved", "changed", "removed", "restored", "drift", "drift-cleared"
	Detail string
}

// Counts tallies a merge per kind.
type Counts struct {
	Scanned   int `json:"scanned"`
	New       int `json:"new"`
	Moved     int `json:"moved"`
	Changed   int `json:"changed"`
	Removed   int `json:"removed"`
	Restored  int `json:"restored"`
	Drifted   int `json:"drifted"`
	Unchanged int `json:"unchanged"`
}

func (c Counts) String() string {
	return fmt.Sprintf("%d scanned, %d new, %d moved, %d changed, %d removed, %d restored, %d drifted",
		c.Scanned, c.New, c.Moved, c.Changed, c.Removed, c.Restored, c.Drifted)
}

// MetaChange is one meta key a merge sets.
type MetaChange struct{ Key, From, To string }

// MergeReport is what a merge did, or would do.
type MergeReport struct {
	Features Counts
	Tests    Counts
	Meta     []MetaChange
	Changes  []Change // sorted by kind, then ID (new items last, by location)
	Written  bool     // an --execute merge that changed something
}

// Empty reports whether the scan matches the database exactly.
func (r *MergeReport) Empty() bool {
	for _, c := range []Counts{r.Features, r.Tests} {
		if c.New+c.Moved+c.Changed+c.Removed+c.Restored+c.Drifted > 0 {
			return false
		}
	}
	return len(r.Meta) == 0
}

func (r *MergeReport) counts(kind string) *Counts {
	if kind == KindTest {
		return &r.Tests
	}
	return &r.Features
}

// pendingWrite is one statement the merge will run when executing.
type pendingWrite struct {
	item   db.Item
	insert bool
	audit  *db.AuditEntry
}

// Merge compares a scan with the items in tx and, when tx is writable, applies
// the difference: updates locations and hashes in place, inserts new symbols
// with the next free ID of their kind, flags vanished symbols removed and
// ported symbols whose body changed drifted. One 'inventory_scan' audit row
// sums it up. A scan identical to the database writes nothing at all, so a
// no-change rescan leaves porting.db byte-for-byte as it was.
func Merge(tx *db.Tx, scan *ScanResult, up Upstream) (*MergeReport, error) {
	rep := &MergeReport{}
	var writes []pendingWrite
	broken := map[string]bool{}
	for _, b := range scan.Broken {
		broken[b.File] = true
	}
	for _, kind := range []string{KindFeature, KindTest} {
		existing, err := tx.ListItems(db.ItemFilter{Kind: tracker.Kind(kind)})
		if err != nil {
			return nil, err
		}
		byKey := make(map[Key]int, len(existing))
		var maxID int64
		for i, it := range existing {
			byKey[Key{kind, it.Package, it.Receiver, it.Name, it.SymKey}] = i
			maxID = max(maxID, it.ID)
		}
		seen := make([]bool, len(existing))
		c := rep.counts(kind)
		for _, s := range scan.Symbols {
			if s.Kind != kind {
				continue
			}
			c.Scanned++
			i, ok := byKey[s.Key()]
			if !ok {
				maxID++
				it := db.Item{Kind: tracker.Kind(kind), ID: maxID, Package: s.Package, File: s.File,
					StartLine: s.StartLine, EndLine: s.EndLine, Receiver: s.Receiver, Name: s.Name,
					SymKey: s.SymKey, Signature: s.Signature, BodyHash: s.BodyHash, Status: tracker.StatusDeferred}
				c.New++
				rep.Changes = append(rep.Changes, Change{kind, maxID, symbolOf(s.Receiver, s.Name), "new",
					fmt.Sprintf("%s:%d", s.File, s.StartLine)})
				writes = append(writes, pendingWrite{item: it, insert: true})
				continue
			}
			seen[i] = true
			old := existing[i]
			it := old
			dirty := false
			sym := old.Symbol()
			if old.Removed {
				it.Removed = false
				dirty = true
				c.Restored++
				rep.Changes = append(rep.Changes, Change{kind, old.ID, sym, "restored", s.File})
				writes = append(writes, pendingWrite{audit: &db.AuditEntry{Kind: kind, ItemID: old.ID,
					Action: db.ActionRemoved, From: "1", To: "0", Reason: "back in upstream " + up.Version}})
			}
			if old.File != s.File || old.StartLine != s.StartLine || old.EndLine != s.EndLine {
				it.File, it.StartLine, it.EndLine = s.File, s.StartLine, s.EndLine
				dirty = true
				c.Moved++
				rep.Changes = append(rep.Changes, Change{kind, old.ID, sym, "moved",
					fmt.Sprintf("%s:%d-%d -> %s:%d-%d", old.File, old.StartLine, old.EndLine, s.File, s.StartLine, s.EndLine)})
			}
			if old.BodyHash != s.BodyHash || old.Signature != s.Signature {
				it.BodyHash, it.Signature = s.BodyHash, s.Signature
				dirty = true
				c.Changed++
				detail := "body " + old.BodyHash + " -> " + s.BodyHash
				if old.Signature != s.Signature {
					detail = "signature " + old.Signature + " -> " + s.Signature
				}
				rep.Changes = append(rep.Changes, Change{kind, old.ID, sym, "changed", detail})
			}
			if old.Status.Ported() {
				// The baseline is the body as it was when the item was
				// ported; an item ported before baselines were recorded
				// takes the body it had until this scan.
				baseline := old.PortedHash
				if baseline == "" {
					baseline = old.BodyHash
					it.PortedHash = baseline
					dirty = true
				}
				drift := s.BodyHash != baseline
				if drift != old.Drifted {
					it.Drifted = drift
					dirty = true
					what, reason := "drift", "upstream body changed since the item was ported"
					from, to := baseline, s.BodyHash
					if !drift {
						what, reason = "drift-cleared", "upstream body is back to the ported baseline"
						from, to = old.BodyHash, baseline
					} else {
						c.Drifted++
					}
					rep.Changes = append(rep.Changes, Change{kind, old.ID, sym, what, from + " -> " + to})
					writes = append(writes, pendingWrite{audit: &db.AuditEntry{Kind: kind, ItemID: old.ID,
						Action: db.ActionDrift, From: from, To: to, Reason: reason}})
				}
			}
			if dirty {
				writes = append(writes, pendingWrite{item: it})
			} else {
				c.Unchanged++
			}
		}
		for i, old := range existing {
			if seen[i] || old.Removed || !inScope(old.Package, scan.Include) || broken[old.File] {
				continue
			}
			it := old
			it.Removed = true
			c.Removed++
			rep.Changes = append(rep.Changes, Change{kind, old.ID, old.Symbol(), "removed", old.Location()})
			writes = append(writes, pendingWrite{item: it}, pendingWrite{audit: &db.AuditEntry{Kind: kind,
				ItemID: old.ID, Action: db.ActionRemoved, From: "0", To: "1", Reason: "gone from upstream " + up.Version}})
		}
	}

	metaWant := map[string]string{MetaModule: up.Module, MetaVersion: up.Version, MetaCommit: up.Commit,
		MetaRoot: strings.Join(scan.Include, ",")}
	for _, k := range []string{MetaModule, MetaVersion, MetaCommit, MetaRoot} {
		want := metaWant[k]
		if want == "" {
			continue
		}
		have, _, err := tx.GetKV(db.TableMeta, k)
		if err != nil {
			return nil, err
		}
		if have != want {
			rep.Meta = append(rep.Meta, MetaChange{k, have, want})
		}
	}
	sort.SliceStable(rep.Changes, func(i, j int) bool { return rep.Changes[i].Kind < rep.Changes[j].Kind })

	if !tx.Writable() || rep.Empty() {
		return rep, nil
	}
	if err := applyWrites(tx, writes); err != nil {
		return nil, err
	}
	for _, m := range rep.Meta {
		if err := tx.SetKV(db.TableMeta, m.Key, m.To); err != nil {
			return nil, err
		}
	}
	summary := fmt.Sprintf("features: %s; tests: %s", rep.Features, rep.Tests)
	reason := strings.TrimSpace(fmt.Sprintf("%s %s %s", up.Module, up.Version, up.Commit))
	if len(scan.Broken) > 0 {
		reason += fmt.Sprintf(" (%d broken files skipped)", len(scan.Broken))
	}
	if _, err := tx.AppendAudit(db.AuditEntry{Kind: "db", Action: db.ActionInventoryScan,
		To: summary, Reason: reason}); err != nil {
		return nil, err
	}
	rep.Written = true
	return rep, nil
}

func applyWrites(tx *db.Tx, writes []pendingWrite) error {
	ins, err := tx.NewItemInserter()
	if err != nil {
		return err
	}
	defer ins.Close()
	upd, err := tx.Prepare(`UPDATE items SET file = ?, start_line = ?, end_line = ?, signature = ?, body_hash = ?,
		ported_hash = ?, removed = ?, drifted = ? WHERE kind = ? AND id = ?`)
	if err != nil {
		return err
	}
	defer upd.Close()
	for _, w := range writes {
		switch {
		case w.audit != nil:
			if _, err := tx.AppendAudit(*w.audit); err != nil {
				return err
			}
		case w.insert:
			if err := ins.Insert(w.item); err != nil {
				return fmt.Errorf("inventory: insert %s %d %s: %w", w.item.Kind, w.item.ID, w.item.Symbol(), err)
			}
		default:
			it := w.item
			if _, err := upd.ExecContext(tx.Context(), it.File, it.StartLine, it.EndLine, it.Signature, it.BodyHash,
				it.PortedHash, boolInt(it.Removed), boolInt(it.Drifted), it.Kind, it.ID); err != nil {
				return err
			}
		}
	}
	return nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func symbolOf(recv, name string) string {
	if recv == "" {
		return name
	}
	return "(" + recv + ")." + name
}

// inScope reports whether pkg lies under one of the scanned subtrees: items
// of packages a scan did not cover are never flagged removed by it.
func inScope(pkg string, include []string) bool {
	for _, inc := range include {
		if inc == "." || pkg == inc || strings.HasPrefix(pkg, inc+"/") {
			return true
		}
	}
	return false
}
