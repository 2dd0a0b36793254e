// Package avl implements SequenceSet, a compact set of uint64 sequence numbers
// used by the store for its delete maps.
//
// The set is an AVL tree keyed by node base. Each node covers numEntries (2048)
// consecutive sequences [base, base+2048) with a bitmask of 32 uint64 buckets,
// so a dense run of deletes costs about one bit per sequence instead of a map
// entry.
//
// # Encoding
//
// Encode and Decode use nats-server's binary format byte for byte, because the
// store persists encoded sets inside its stream state. All integers are little
// endian. Nodes are written in tree pre-order (node, left subtree, right
// subtree), which lets Decode rebuild the same tree shape without rebalancing.
//
//	offset  size  field
//	0       1     magic (22)
//	1       1     version (2)
//	2       4     node count N (uint32)
//	6       4     item count (uint32), the number of sequences in the set
//	10      266   node 0: base (uint64), 32 buckets (uint64 each), height (uint16)
//	...
//	10+266*(N-1)  node N-1
//
// Version 1, written by older servers, has the same header but 64 buckets per
// node (522 bytes a node, 4096 sequences). Decode still reads it.
package avl
