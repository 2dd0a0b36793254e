// Package inventory turns an upstream Go source tree into porting.db items.
//
// The scanner (Scan) is pure: go/parser only, no type-checking, no build
// constraint evaluation. Every function and method of every non-test file is a
// feature, every `func TestXxx(t *testing.T)` of a _test.go file is a test.
// Build-tagged files are scanned like any other: the inventory must not depend
// on the GOOS/GOARCH of the machine that ran the scan, or two developers would
// get different IDs for the same upstream tree.
//
// Identity of an item is (kind, package, receiver, name, symkey). symkey is
// empty except where the first four collide: each `init` (and each `func _`)
// is keyed '<file>#<ordinal>', and a name defined in several files of one
// directory (platform variants behind build tags) is keyed by its file.
//
// Merge applies a scan to the database: locations are updated in place, IDs
// are never reused or renumbered, symbols that vanished are flagged removed,
// and a body change of an item that was already ported (status stub or
// better) is flagged as drift against ported_hash.
package inventory
