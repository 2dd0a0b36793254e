// Package gates is the evidence-backed Gatekeeper: it glues package evidence
// (which runs build, stub scan, tests, gut checks and coverage links) to
// porting.db (items, links, evidence rows, the audit log).
//
// An Engine runs the gates for a set of items, reusing evidence that passed
// on the current sources (same fingerprint) and running the rest; each stage
// records its evidence rows in its own write transaction, so an interrupted
// run keeps what it proved, and prunes older rows to the evidence_keep
// policy. The Gatekeeper asks the Engine for exactly the gates a status needs:
//
//	feature complete  build + stub
//	feature verified  + links (a coverage-linked test exists), test (every
//	                  linked test asserts and passes in a fresh run), gut
//	test complete     stub (exists, asserts, not skipped unconditionally)
//	test verified     + test (passes in a recorded, fresh run)
//
// Stale re-checks every complete or verified item whose evidence was taken on
// other sources and demotes the ones that no longer pass.
package gates
