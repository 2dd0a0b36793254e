// Package store is a port of the JetStream file store of nats-server
// v2.14.5: the storage of one stream's messages and of its consumers'
// delivery state, in a directory whose files real nats-server can read and
// write.
//
// The package defines the StreamStore and ConsumerStore interfaces with
// upstream's method sets, the state and config types they exchange
// (StreamState, ConsumerState, StreamConfig, ConsumerConfig, ...), the
// binary encodings of consumer and stream state, and the file store itself.
//
// # Stream directory
//
// A file store owns the directory FileStoreConfig.StoreDir:
//
//	meta.inf        the StreamConfig as JSON (with its creation time)
//	meta.sum        highwayhash checksum of meta.inf, hex encoded
//	meta.key        the stream's encryption key, when encrypted
//	msgs/1.blk      message blocks, numbered from 1, appended in order
//	msgs/1.key      a block's encryption key, when encrypted
//	msgs/index.db   snapshot of the stream state, so that a restart does
//	                not have to scan every block
//	msgs/thw.db     per-message TTLs (timed hash wheel), when used
//	msgs/sched.db   message schedules, when used
//	obs/<name>/     one directory per consumer:
//	    meta.inf    the ConsumerConfig as JSON
//	    meta.sum    its checksum
//	    o.dat       the consumer state, see encodeConsumerState
//
// A block is a sequence of records, little endian:
//
//	+----------+---------+---------+-------------+------+---------------------+-----+----------+
//	| len u32  | seq u64 | ts i64  | subjlen u16 | subj | [hdrlen u32 | hdr]  | msg | hash u64 |
//	+----------+---------+---------+-------------+------+---------------------+-----+----------+
//
// len is the whole record's length; its top bit says headers are present.
// The top bits of seq mark erased records and tombstones. The trailing
// highwayhash, over seq, ts, subject, headers and payload, lets recovery
// tell a torn or flipped record from a good one; such records are reported
// as lost data (LostStreamData), never returned.
//
// # Locking
//
// The store's lock is taken before any block's lock, never the other way
// round. Methods that expect a lock held say so or end in Locked.
package store
