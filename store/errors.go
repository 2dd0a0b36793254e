package store

import (
	"errors"
	"os"
	"strings"
)

// Errors returned by stream and consumer stores. The messages are upstream's,
// word for word: callers (and replicated peers) compare some of them by text.
var (
	// ErrStoreClosed is returned by any operation on a store after Stop.
	ErrStoreClosed = errors.New("store is closed")
	// ErrStoreMsgNotFound is returned when a message was expected but is gone.
	ErrStoreMsgNotFound = errors.New("no message found")
	// ErrStoreEOF is returned when a sequence is past the last one stored.
	ErrStoreEOF = errors.New("stream store EOF")
	// ErrMaxMsgs is returned under DiscardNew when the message limit is reached.
	ErrMaxMsgs = errors.New("maximum messages exceeded")
	// ErrMaxBytes is returned under DiscardNew when the byte limit is reached.
	ErrMaxBytes = errors.New("maximum bytes exceeded")
	// ErrMaxMsgsPerSubject is returned under DiscardNew when a subject's message limit is reached.
	ErrMaxMsgsPerSubject = errors.New("maximum messages per subject exceeded")
	// ErrStoreSnapshotInProgress is returned by RemoveMsg or EraseMsg while a snapshot runs.
	ErrStoreSnapshotInProgress = errors.New("snapshot in progress")
	// ErrMsgTooLarge is returned when a message exceeds what a store accepts.
	ErrMsgTooLarge = errors.New("message too large")
	// ErrStoreWrongType is returned when a store of the other storage type is expected.
	ErrStoreWrongType = errors.New("wrong storage type")
	// ErrNoAckPolicy is returned when acks are updated on a consumer with AckNone.
	ErrNoAckPolicy = errors.New("ack policy is none")
	// ErrSequenceMismatch is returned when a raw store names a sequence the store does not expect.
	ErrSequenceMismatch = errors.New("expected sequence does not match store")
	// ErrCorruptStreamState is returned when an encoded stream state fails to parse.
	ErrCorruptStreamState = errors.New("stream state snapshot is corrupt")
	// ErrTooManyResults is returned when a query would match more results than allowed.
	ErrTooManyResults = errors.New("too many matching results for request")
	// ErrStoreOldUpdate is returned when a consumer update is older than the stored state.
	ErrStoreOldUpdate = errors.New("old update ignored")
	// ErrBadStreamStateEncoding is returned when a buffer lacks the stream state header.
	ErrBadStreamStateEncoding = errors.New("bad stream state encoding")
)

// errCorruptState reports a state file (consumer state, stream index) that
// does not parse. Recovery code tests for it with errors.Is.
var errCorruptState = errors.New("corrupt state file")

// isOutOfSpaceErr reports whether err comes from a full disk. The check is on
// the text because the errno is wrapped differently on each platform.
func isOutOfSpaceErr(err error) bool {
	return err != nil && strings.Contains(err.Error(), "no space left")
}

// isPermissionError reports whether err is a permission failure from the OS.
func isPermissionError(err error) bool {
	return err != nil && os.IsPermission(err)
}
