// Package gsl is a generic subject list: a trie keyed by the dot-separated
// tokens of NATS subjects, where each stored subject may contain the
// wildcards '*' (exactly one token) and '>' (one or more trailing tokens).
// Literal subjects are matched against it to find the values whose
// subjects express interest in them.
//
// The trie alternates levels and nodes:
//
//	level{nodes: "foo" -> node, "bar" -> node, partialWildcard -> node, fullWildcard -> node}
//	node{values: value -> subject, next -> level}
//
// A value is stored in the node reached by the last token of its subject.
package gsl

import (
	"errors"
	"strings"
	"sync"
)

// Subject syntax. These bytes are the NATS wire format, not a choice.
const (
	pwc   = '*' // partial wildcard: matches exactly one token
	fwc   = '>' // full wildcard: matches one or more trailing tokens
	tsep  = "." // token separator
	btsep = '.' // token separator as a byte
)

// Errors returned by the sublist.
var (
	ErrInvalidSubject    = errors.New("gsl: invalid subject")
	ErrNotFound          = errors.New("gsl: no matches found")
	ErrNilChan           = errors.New("gsl: nil channel")
	ErrAlreadyRegistered = errors.New("gsl: notification already registered")
)

// SimpleSublist tracks interest only; its empty-struct values cost nothing.
type SimpleSublist = GenericSublist[struct{}]

// NewSimpleSublist returns an empty SimpleSublist.
func NewSimpleSublist() *SimpleSublist {
	return NewSublist[struct{}]()
}

// GenericSublist maps subjects, possibly with wildcards, to values of type T.
// A value may be stored under several subjects, and a subject may hold
// several values. It is safe for concurrent use.
type GenericSublist[T comparable] struct {
	// RWMutex guards root (and every level and node below it) and count.
	// It is embedded, as upstream's is, so callers written against
	// upstream's API that lock the sublist still compile.
	sync.RWMutex
	root  *level[T]
	count uint32
}

// node holds the values whose subject ends at this token, and the level
// of tokens that may follow it.
type node[T comparable] struct {
	next   *level[T]
	values map[T]string // value -> the subject it was inserted under
}

// level holds the children of one token position: literal tokens by name,
// and the two wildcards apart so matching need not look them up.
type level[T comparable] struct {
	nodes           map[string]*node[T]
	partialWildcard *node[T]
	fullWildcard    *node[T]
}

func newNode[T comparable]() *node[T] {
	return &node[T]{values: make(map[T]string)}
}

func newLevel[T comparable]() *level[T] {
	return &level[T]{nodes: make(map[string]*node[T])}
}

// NewSublist returns an empty sublist.
func NewSublist[T comparable]() *GenericSublist[T] {
	return &GenericSublist[T]{root: newLevel[T]()}
}

// Insert stores value under subject. The subject may use wildcards but
// must not have empty tokens, and '>' may only be its last token.
func (s *GenericSublist[T]) Insert(subject string, value T) error {
	s.Lock()
	defer s.Unlock()

	var (
		n          *node[T]
		sawFullWC  bool
		levelAtTok = s.root
	)
	for token := range strings.SplitSeq(subject, tsep) {
		if len(token) == 0 || sawFullWC {
			return ErrInvalidSubject
		}
		n = levelAtTok.child(token)
		if n == nil {
			n = newNode[T]()
			levelAtTok.setChild(token, n)
		}
		if token == string(fwc) {
			sawFullWC = true
		}
		if n.next == nil {
			n.next = newLevel[T]()
		}
		levelAtTok = n.next
	}
	n.values[value] = subject
	s.count++
	return nil
}

// child returns the node for token at this level, or nil. A token is a
// wildcard only when it is exactly "*" or ">"; "*-" is a literal.
func (l *level[T]) child(token string) *node[T] {
	switch token {
	case string(pwc):
		return l.partialWildcard
	case string(fwc):
		return l.fullWildcard
	}
	return l.nodes[token]
}

// setChild stores n as the node for token at this level.
func (l *level[T]) setChild(token string, n *node[T]) {
	switch token {
	case string(pwc):
		l.partialWildcard = n
	case string(fwc):
		l.fullWildcard = n
	default:
		l.nodes[token] = n
	}
}

// Match calls cb for every value whose subject matches the literal subject.
func (s *GenericSublist[T]) Match(subject string, cb func(T)) {
	s.match(subject, cb, true)
}

// MatchBytes is Match for a subject held in a byte slice.
func (s *GenericSublist[T]) MatchBytes(subject []byte, cb func(T)) {
	s.match(string(subject), cb, true)
}

// HasInterest reports whether any value's subject matches the literal
// subject. It stops at the first match, so it is cheaper than Match.
func (s *GenericSublist[T]) HasInterest(subject string) bool {
	return s.hasInterest(subject, true, nil)
}

// NumInterest counts the values interested in subject. Like upstream, it
// stops at the first level that yields a match, so overlapping wildcard
// subscriptions at deeper levels are not added in.
func (s *GenericSublist[T]) NumInterest(subject string) (np int) {
	s.hasInterest(subject, true, &np)
	return np
}

// MatchesFullWildcard reports whether the sublist holds a top-level ">",
// which matches every subject.
func (s *GenericSublist[T]) MatchesFullWildcard() bool {
	if s == nil {
		return false
	}
	s.RLock()
	defer s.RUnlock()
	return s.root.fullWildcard != nil
}

// MatchesSingleFilter returns the subject when every value in the sublist
// was inserted under one and the same subject.
func (s *GenericSublist[T]) MatchesSingleFilter() (string, bool) {
	if s == nil {
		return "", false
	}
	s.RLock()
	defer s.RUnlock()
	return singleFilter(s.root, "")
}

// singleFilter walks down a trie that must be a single chain of nodes and
// returns the subject stored at its only populated node. filter is the
// subject found so far on the way down ("" until one is found).
func singleFilter[T comparable](l *level[T], filter string) (string, bool) {
	for l != nil {
		only := l.onlyNode()
		if only == nil {
			return "", false
		}
		for _, subject := range only.values {
			filter = subject // all values at one node share its subject
			break
		}
		if filter != "" {
			// A populated node with anything below it means two subjects.
			if only.next.numNodes() > 0 {
				return "", false
			}
			return filter, true
		}
		l = only.next
	}
	return filter, filter != ""
}

// onlyNode returns the level's single child, or nil if it has none or
// more than one.
func (l *level[T]) onlyNode() *node[T] {
	if l.numNodes() != 1 {
		return nil
	}
	if l.partialWildcard != nil {
		return l.partialWildcard
	}
	if l.fullWildcard != nil {
		return l.fullWildcard
	}
	for _, n := range l.nodes {
		return n
	}
	return nil
}

// literalTokens splits a literal subject into buf. It reports false for a
// subject with an empty token, which nothing can match.
func literalTokens(buf []string, subject string) ([]string, bool) {
	start := 0
	for i := 0; i < len(subject); i++ {
		if subject[i] == btsep {
			if i == start {
				return nil, false
			}
			buf = append(buf, subject[start:i])
			start = i + 1
		}
	}
	if start >= len(subject) {
		return nil, false
	}
	return append(buf, subject[start:]), true
}

func (s *GenericSublist[T]) match(subject string, cb func(T), doLock bool) {
	var buf [32]string
	tokens, ok := literalTokens(buf[:0], subject)
	if !ok {
		return
	}
	if doLock {
		s.RLock()
		defer s.RUnlock()
	}
	matchLevel(s.root, tokens, cb)
}

func (s *GenericSublist[T]) hasInterest(subject string, doLock bool, np *int) bool {
	var buf [32]string
	tokens, ok := literalTokens(buf[:0], subject)
	if !ok {
		return false
	}
	if doLock {
		s.RLock()
		defer s.RUnlock()
	}
	return matchLevelForAny(s.root, tokens, np)
}

// matchLevelForAny reports whether anything at or below l matches tokens,
// stopping at the first match. When np is not nil it adds the number of
// values found at the matching node.
func matchLevelForAny[T comparable](l *level[T], tokens []string, np *int) bool {
	var partial, literal *node[T]
	for i, token := range tokens {
		if l == nil {
			return false
		}
		if l.fullWildcard != nil {
			if np != nil {
				*np += len(l.fullWildcard.values)
			}
			return true
		}
		if partial = l.partialWildcard; partial != nil {
			if matchLevelForAny(partial.next, tokens[i+1:], np) {
				return true
			}
		}
		if literal = l.nodes[token]; literal != nil {
			l = literal.next
		} else {
			l = nil
		}
	}
	if literal != nil {
		if np != nil {
			*np += len(literal.values)
		}
		if len(literal.values) > 0 {
			return true
		}
	}
	if partial != nil {
		if np != nil {
			*np += len(partial.values)
		}
		return len(partial.values) > 0
	}
	return false
}

// callbacksForResults calls cb with every value stored at n.
func callbacksForResults[T comparable](n *node[T], cb func(T)) {
	for value := range n.values {
		cb(value)
	}
}

// matchLevel calls cb for every value at or below l that matches tokens.
func matchLevel[T comparable](l *level[T], tokens []string, cb func(T)) {
	var partial, literal *node[T]
	for i, token := range tokens {
		if l == nil {
			return
		}
		if l.fullWildcard != nil {
			callbacksForResults(l.fullWildcard, cb)
		}
		if partial = l.partialWildcard; partial != nil {
			matchLevel(partial.next, tokens[i+1:], cb)
		}
		if literal = l.nodes[token]; literal != nil {
			l = literal.next
		} else {
			l = nil
		}
	}
	if literal != nil {
		callbacksForResults(literal, cb)
	}
	if partial != nil {
		callbacksForResults(partial, cb)
	}
}

// lnt records one step of a descent (level, node, token) so a removal can
// prune the nodes it leaves empty, deepest first.
type lnt[T comparable] struct {
	level *level[T]
	node  *node[T]
	token string
}

// remove deletes value from subject. shouldLock is false when the caller
// already holds the write lock.
func (s *GenericSublist[T]) remove(subject string, value T, shouldLock bool) error {
	if shouldLock {
		s.Lock()
		defer s.Unlock()
	}

	var (
		n         *node[T]
		sawFullWC bool
		l         = s.root
		buf       [32]lnt[T]
		path      = buf[:0]
	)
	for token := range strings.SplitSeq(subject, tsep) {
		if len(token) == 0 || sawFullWC {
			return ErrInvalidSubject
		}
		if l == nil {
			return ErrNotFound
		}
		n = l.child(token)
		if token == string(fwc) {
			sawFullWC = true
		}
		if n == nil {
			l = nil
			continue
		}
		path = append(path, lnt[T]{level: l, node: n, token: token})
		l = n.next
	}

	if !s.removeFromNode(n, value) {
		return ErrNotFound
	}
	s.count--

	for i := len(path) - 1; i >= 0; i-- {
		if step := path[i]; step.node.isEmpty() {
			step.level.pruneNode(step.node, step.token)
		}
	}
	return nil
}

// Remove deletes value from subject, pruning nodes left empty.
func (s *GenericSublist[T]) Remove(subject string, value T) error {
	return s.remove(subject, value, true)
}

// HasInterestStartingIn reports whether some stored subject could match a
// subject that starts with the tokens of subj. A subject tree uses it to
// skip whole subtrees when intersecting with the sublist.
func (s *GenericSublist[T]) HasInterestStartingIn(subj string) bool {
	s.RLock()
	defer s.RUnlock()
	var buf [64]string
	tokens := tokenizeSubjectIntoSlice(buf[:0], subj)
	return hasInterestStartingIn(s.root, tokens)
}

func hasInterestStartingIn[T comparable](l *level[T], tokens []string) bool {
	if l == nil {
		return false
	}
	if len(tokens) == 0 {
		return true
	}
	if l.fullWildcard != nil {
		return true
	}
	if p := l.partialWildcard; p != nil && hasInterestStartingIn(p.next, tokens[1:]) {
		return true
	}
	if n := l.nodes[tokens[0]]; n != nil {
		return hasInterestStartingIn(n.next, tokens[1:])
	}
	return false
}

// pruneNode unlinks the empty node n, reached by token, from this level.
func (l *level[T]) pruneNode(n *node[T], token string) {
	switch {
	case n == nil:
	case n == l.fullWildcard:
		l.fullWildcard = nil
	case n == l.partialWildcard:
		l.partialWildcard = nil
	default:
		delete(l.nodes, token)
	}
}

// isEmpty reports whether n holds no values and has no children, so it can
// be pruned.
func (n *node[T]) isEmpty() bool {
	return len(n.values) == 0 && n.next.numNodes() == 0
}

// numNodes counts the level's children, wildcards included. A nil level
// has none.
func (l *level[T]) numNodes() int {
	if l == nil {
		return 0
	}
	count := len(l.nodes)
	if l.partialWildcard != nil {
		count++
	}
	if l.fullWildcard != nil {
		count++
	}
	return count
}

// removeFromNode deletes value from n and reports whether it was there.
func (s *GenericSublist[T]) removeFromNode(n *node[T], value T) (found bool) {
	if n == nil {
		return false
	}
	if _, found = n.values[value]; found {
		delete(n.values, value)
	}
	return found
}

// Count returns the number of stored (subject, value) pairs.
func (s *GenericSublist[T]) Count() uint32 {
	s.RLock()
	defer s.RUnlock()
	return s.count
}

// numLevels returns the depth of the deepest populated path.
func (s *GenericSublist[T]) numLevels() int {
	return visitLevel(s.root, 0)
}

// visitLevel returns the depth of the deepest populated path below l, where
// l itself sits at depth.
func visitLevel[T comparable](l *level[T], depth int) int {
	if l.numNodes() == 0 {
		return depth
	}
	depth++
	deepest := depth
	visit := func(n *node[T]) {
		if n != nil {
			deepest = max(deepest, visitLevel(n.next, depth))
		}
	}
	for _, n := range l.nodes {
		visit(n)
	}
	visit(l.partialWildcard)
	visit(l.fullWildcard)
	return deepest
}

// tokenizeSubjectIntoSlice appends the tokens of subject to tts and returns
// the result, as append does. Empty tokens are kept.
func tokenizeSubjectIntoSlice(tts []string, subject string) []string {
	start := 0
	for i := 0; i < len(subject); i++ {
		if subject[i] == btsep {
			tts = append(tts, subject[start:i])
			start = i + 1
		}
	}
	return append(tts, subject[start:])
}
