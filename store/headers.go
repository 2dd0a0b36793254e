package store

import (
	"bytes"
	"strings"
)

// NATS header blocks: "NATS/1.0\r\n", then "Key: value\r\n" lines, then an
// empty line. These helpers edit them for the messages the store asks the
// upper layer to publish (format facts of the NATS protocol).
const (
	hdrLine      = "NATS/1.0\r\n"
	emptyHdrLine = "NATS/1.0\r\n\r\n"
	crlf         = "\r\n"
)

// getHeader returns a copy of header key's value, or nil.
func getHeader(key string, hdr []byte) []byte {
	v := sliceHeader(key, hdr)
	if v == nil {
		return nil
	}
	return append(make([]byte, 0, len(v)), v...)
}

// removeHeaderIfPresent removes every line of header key, in place. A block
// left with no header lines becomes nil.
func removeHeaderIfPresent(hdr []byte, key string) []byte {
	for {
		start := getHeaderKeyIndex(key, hdr)
		if start < 1 || hdr[start-1] != '\n' {
			return hdr
		}
		if i := start + len(key); i >= len(hdr) || hdr[i] != ':' {
			return hdr
		}
		end := bytes.Index(hdr[start:], []byte(crlf))
		if end < 0 {
			return hdr
		}
		hdr = append(hdr[:start], hdr[start+end+len(crlf):]...)
		if len(hdr) <= len(emptyHdrLine) {
			return nil
		}
	}
}

// removeHeaderIfPrefixPresent removes, in place, every header line whose
// key starts with prefix. A block left with no header lines becomes nil.
func removeHeaderIfPrefixPresent(hdr []byte, prefix string) []byte {
	var index int
	for index < len(hdr) {
		start := bytes.Index(hdr[index:], []byte(prefix))
		if start < 0 {
			return hdr
		}
		index += start
		// Only at the start of a line.
		if index < 1 || hdr[index-1] != '\n' {
			index += len(prefix)
			continue
		}
		end := bytes.Index(hdr[index+len(prefix):], []byte(crlf))
		if end < 0 {
			return hdr
		}
		hdr = append(hdr[:index], hdr[index+len(prefix)+end+len(crlf):]...)
		if len(hdr) <= len(emptyHdrLine) {
			return nil
		}
	}
	return hdr
}

// genHeader returns a new header block: hdr's lines (if any) plus
// "key: value". As Go's http.Header.Write, which upstream uses, the value
// is trimmed and line breaks in it become spaces.
func genHeader(hdr []byte, key, value string) []byte {
	var bb bytes.Buffer
	if len(hdr) > len(crlf) {
		bb.Write(hdr[:len(hdr)-len(crlf)])
	} else {
		bb.WriteString(hdrLine)
	}
	value = strings.NewReplacer("\r", " ", "\n", " ").Replace(value)
	bb.WriteString(key)
	bb.WriteString(": ")
	bb.WriteString(strings.Trim(value, " \t"))
	bb.WriteString(crlf)
	bb.WriteString(crlf)
	return bb.Bytes()
}

// copyBytes returns a copy of src, nil when empty.
func copyBytes(src []byte) []byte {
	if len(src) == 0 {
		return nil
	}
	return append(make([]byte, 0, len(src)), src...)
}
