package protocol

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"slices"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// This file holds a strict JSON scanner made for signing. A sign string must
// be built from the peer's own literals (numbers keep their text, strings
// their characters), so the scanner records where each value lies in the
// input instead of converting it. It accepts exactly RFC 8259 JSON in valid
// UTF-8 (a fuzz test checks it against encoding/json) and is several times
// faster than a general decoder, which the gateway pays on every message.

// maxDepth bounds nesting so hostile input cannot exhaust the stack; the
// platform's messages nest three levels at most.
const maxDepth = 128

// node is one JSON value of a document.
type node struct {
	kind    byte  // '{', '[', '"', '0' (number), 't', 'f' or 'n'
	escaped bool  // a string that contains a backslash escape
	start   int32 // offset of the value's first byte
	end     int32 // offset after the value's last byte
	next    int32 // index of the first node after this value and its children
}

// document is a parsed JSON text. An object's children are its names and
// values, alternating; an array's children are its elements. The document
// refers to the input, which must not change while the document is in use.
type document struct {
	data       []byte
	nodes      []node
	whitespace bool // whitespace between tokens, so the text is not compact
}

// syntaxError reports where a JSON text stops being valid.
type syntaxError struct {
	offset int
	msg    string
}

func (e *syntaxError) Error() string {
	return fmt.Sprintf("invalid JSON at byte %d: %s", e.offset, e.msg)
}

// parseDocument parses data as exactly one JSON value.
func parseDocument(data []byte) (*document, error) {
	d := new(document)
	if err := d.parse(data); err != nil {
		return nil, err
	}
	return d, nil
}

// parse parses data into d, reusing d's node slice.
func (d *document) parse(data []byte) error {
	if len(data) > 1<<31-1 {
		return errors.New("JSON text over 2 GiB")
	}
	// Nearly every node is a string or sits beside one, so the count of quotes
	// sizes the node slice well, whether the text is a long ciphertext or
	// many short fields.
	quotes := bytes.Count(data, []byte{'"'})
	if want := quotes/2 + quotes/8 + 8; cap(d.nodes) < want {
		d.nodes = make([]node, 0, want)
	}
	d.data, d.nodes, d.whitespace = data, d.nodes[:0], false
	i := d.skipSpace(0)
	i, err := d.value(i, 0)
	if err != nil {
		return err
	}
	if i = d.skipSpace(i); i != len(data) {
		return &syntaxError{i, "data after the JSON value"}
	}
	return nil
}

func (d *document) skipSpace(i int) int {
	if i < len(d.data) && d.data[i] > ' ' {
		return i
	}
	return d.skipSpaceSlow(i)
}

func (d *document) skipSpaceSlow(i int) int {
	for i < len(d.data) {
		switch d.data[i] {
		case ' ', '\t', '\n', '\r':
			d.whitespace = true
			i++
		default:
			return i
		}
	}
	return i
}

func (d *document) value(i, depth int) (int, error) {
	if i >= len(d.data) {
		return i, &syntaxError{i, "unexpected end of input"}
	}
	switch c := d.data[i]; {
	case c == '{':
		return d.object(i, depth+1)
	case c == '[':
		return d.array(i, depth+1)
	case c == '"':
		return d.string(i)
	case c == 't':
		return d.literal(i, "true")
	case c == 'f':
		return d.literal(i, "false")
	case c == 'n':
		return d.literal(i, "null")
	case c == '-' || c >= '0' && c <= '9':
		return d.number(i)
	}
	return i, &syntaxError{i, fmt.Sprintf("unexpected character %q", d.data[i])}
}

func (d *document) open(kind byte, i int) int {
	d.push(kind, false, i, 0)
	return len(d.nodes) - 1
}

func (d *document) scalar(kind byte, start, end int) {
	d.push(kind, false, start, end)
}

// push appends a node, with next set as for a leaf until close, writing its
// fields in place. A node literal is built on the stack with narrow stores,
// then copied by a 16-byte load that waits for those stores to reach the
// cache: a third of the scanner's time on short strings, in a CPU profile.
func (d *document) push(kind byte, escaped bool, start, end int) {
	if len(d.nodes) == cap(d.nodes) {
		d.nodes = slices.Grow(d.nodes, 1)
	}
	d.nodes = d.nodes[:len(d.nodes)+1]
	n := &d.nodes[len(d.nodes)-1]
	n.kind = kind
	n.escaped = escaped
	n.start = int32(start)
	n.end = int32(end)
	n.next = int32(len(d.nodes))
}

func (d *document) close(index, end int) {
	d.nodes[index].end = int32(end)
	d.nodes[index].next = int32(len(d.nodes))
}

func (d *document) object(i, depth int) (int, error) {
	if depth > maxDepth {
		return i, &syntaxError{i, "nesting too deep"}
	}
	index := d.open('{', i)
	i = d.skipSpace(i + 1)
	if i < len(d.data) && d.data[i] == '}' {
		d.close(index, i+1)
		return i + 1, nil
	}
	for {
		if i >= len(d.data) || d.data[i] != '"' {
			return i, &syntaxError{i, "expected a member name"}
		}
		var err error
		if i, err = d.string(i); err != nil {
			return i, err
		}
		if i = d.skipSpace(i); i >= len(d.data) || d.data[i] != ':' {
			return i, &syntaxError{i, "expected ':' after a member name"}
		}
		if i, err = d.value(d.skipSpace(i+1), depth); err != nil {
			return i, err
		}
		if i = d.skipSpace(i); i >= len(d.data) {
			return i, &syntaxError{i, "unexpected end of input in an object"}
		}
		switch d.data[i] {
		case ',':
			i = d.skipSpace(i + 1)
		case '}':
			d.close(index, i+1)
			if j, dup := d.duplicateName(index); dup {
				return i, &syntaxError{int(d.nodes[j].start), fmt.Sprintf("duplicate member name %q", d.appendText(nil, j))}
			}
			return i + 1, nil
		default:
			return i, &syntaxError{i, "expected ',' or '}' in an object"}
		}
	}
}

// duplicateName reports a member name that object node index repeats. A
// signature must not cover one value while the business layer reads
// another, so no object may name a member twice.
//
// Each name's key (see nameKey) sets one bit of a 256-bit filter. Equal
// names have equal keys, so a name whose bit is still clear repeats no
// earlier name. Only a name whose bit is already set is compared with the
// names before it.
func (d *document) duplicateName(index int) (int32, bool) {
	end := d.nodes[index].next
	var seen [4]uint64
	escapes := false // an escaped name seen so far, whose key is no use
	count := 0
	for j := int32(index) + 1; j < end; j = d.nodes[j+1].next {
		if count++; count > 32 {
			return d.duplicateNameSorted(index)
		}
		key := d.nameKey(j)
		bit := key * 0x9e3779b97f4a7c15 >> 56 // spread the key over 0 to 255
		word, mask := bit>>6, uint64(1)<<(bit&63)
		if key == 0 || escapes || seen[word]&mask != 0 {
			for i := int32(index) + 1; i < j; i = d.nodes[i+1].next {
				if d.sameName(i, j) {
					return j, true
				}
			}
		}
		seen[word] |= mask
		escapes = escapes || key == 0
	}
	return 0, false
}

// duplicateNameSorted is duplicateName for objects with many members.
func (d *document) duplicateNameSorted(index int) (int32, bool) {
	type name struct {
		text []byte
		node int32
	}
	var names []name
	for j := int32(index) + 1; j < d.nodes[index].next; j = d.nodes[j+1].next {
		names = append(names, name{d.appendText(nil, j), j})
	}
	// Equal names keep their order, so the later of two is the repeat.
	slices.SortStableFunc(names, func(a, b name) int { return bytes.Compare(a.text, b.text) })
	for k := 1; k < len(names); k++ {
		if bytes.Equal(names[k].text, names[k-1].text) {
			return names[k].node, true
		}
	}
	return 0, false
}

// nameKey packs the raw length and the first and last bytes of name node j.
// Escaped names get key 0: duplicateName compares them, and every name
// after them, in full.
func (d *document) nameKey(j int32) uint64 {
	n := &d.nodes[j]
	if n.escaped {
		return 0
	}
	raw := d.data[n.start:n.end]
	return uint64(len(raw))<<16 | uint64(raw[1])<<8 | uint64(raw[len(raw)-2])
}

func (d *document) sameName(a, b int32) bool {
	na, nb := &d.nodes[a], &d.nodes[b]
	if na.escaped != nb.escaped || na.escaped {
		return bytes.Equal(d.appendText(nil, a), d.appendText(nil, b))
	}
	return bytes.Equal(d.data[na.start:na.end], d.data[nb.start:nb.end])
}

func (d *document) array(i, depth int) (int, error) {
	if depth > maxDepth {
		return i, &syntaxError{i, "nesting too deep"}
	}
	index := d.open('[', i)
	i = d.skipSpace(i + 1)
	if i < len(d.data) && d.data[i] == ']' {
		d.close(index, i+1)
		return i + 1, nil
	}
	for {
		var err error
		if i, err = d.value(i, depth); err != nil {
			return i, err
		}
		if i = d.skipSpace(i); i >= len(d.data) {
			return i, &syntaxError{i, "unexpected end of input in an array"}
		}
		switch d.data[i] {
		case ',':
			i = d.skipSpace(i + 1)
		case ']':
			d.close(index, i+1)
			return i + 1, nil
		default:
			return i, &syntaxError{i, "expected ',' or ']' in an array"}
		}
	}
}

// plainByte marks the bytes a string may hold without a closer look: not a
// quote, backslash, control character or the start of a multi-byte
// sequence.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

func (d *document) string(i int) (int, error) {
	data := d.data
	start := i
	escaped := false
	i++
	for {
		i = skipPlain(data, i)
		if i >= len(data) {
			return i, &syntaxError{start, "unterminated string"}
		}
		switch c := data[i]; {
		case c == '"':
			d.push('"', escaped, start, i+1)
			return i + 1, nil
		case c == '\\':
			escaped = true
			if i+1 >= len(data) {
				return i, &syntaxError{i, "unterminated escape"}
			}
			switch data[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(data) || !isHex4(data[i+2:i+6]) {
					return i, &syntaxError{i, `invalid \u escape`}
				}
				// A surrogate must come as a high and low pair: a lone one
				// is no character, and peers would sign it differently.
				r := rune(hex4(data[i+2:]))
				i += 6
				if utf16.IsSurrogate(r) {
					if r >= 0xdc00 || i+6 > len(data) || data[i] != '\\' || data[i+1] != 'u' || !isHex4(data[i+2:i+6]) {
						return i, &syntaxError{i - 6, "lone UTF-16 surrogate"}
					}
					if low := rune(hex4(data[i+2:])); low < 0xdc00 || low > 0xdfff {
						return i, &syntaxError{i - 6, "lone UTF-16 surrogate"}
					}
					i += 6
				}
			default:
				return i, &syntaxError{i, fmt.Sprintf("invalid escape %q", data[i:i+2])}
			}
		case c < 0x20:
			return i, &syntaxError{i, "control character in a string"}
		default:
			r, size := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && size == 1 {
				return i, &syntaxError{i, "invalid UTF-8"}
			}
			i += size
		}
	}
}

// skipPlain returns the offset of the first byte at or after i that is not
// plain (see plainByte). It tests eight bytes at a time, then 32, because
// most strings are short but ciphertext fields make up most of a message.
func skipPlain(data []byte, i int) int {
	// A borrow can flag lanes above a flagged one, never below, so the
	// lowest flag is the first byte that is not plain.
	if i+8 <= len(data) {
		if flagged := notPlain(binary.LittleEndian.Uint64(data[i:])); flagged != 0 {
			return i + bits.TrailingZeros64(flagged)/8
		}
		i += 8
	}
	for ; i+32 <= len(data); i += 32 {
		chunk := data[i : i+32]
		a := notPlain(binary.LittleEndian.Uint64(chunk))
		b := notPlain(binary.LittleEndian.Uint64(chunk[8:]))
		c := notPlain(binary.LittleEndian.Uint64(chunk[16:]))
		d := notPlain(binary.LittleEndian.Uint64(chunk[24:]))
		if a|b|c|d != 0 {
			switch {
			case a != 0:
				return i + bits.TrailingZeros64(a)/8
			case b != 0:
				return i + 8 + bits.TrailingZeros64(b)/8
			case c != 0:
				return i + 16 + bits.TrailingZeros64(c)/8
			}
			return i + 24 + bits.TrailingZeros64(d)/8
		}
	}
	for ; i+8 <= len(data); i += 8 {
		if flagged := notPlain(binary.LittleEndian.Uint64(data[i:])); flagged != 0 {
			return i + bits.TrailingZeros64(flagged)/8
		}
	}
	for i < len(data) && plainByte[data[i]] {
		i++
	}
	return i
}

// notPlain flags, in the high bit of its lane, each byte of x below 0x20, a
// quote, a backslash, or 0x80 and above.
func notPlain(x uint64) uint64 {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	control := (x - 0x20*ones) &^ x
	quote := x ^ ('"' * ones)
	backslash := x ^ ('\\' * ones)
	return (control | ((quote - ones) &^ quote) | ((backslash - ones) &^ backslash) | x) & highs
}

func isHex4(b []byte) bool {
	for _, c := range b[:4] {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

func (d *document) literal(i int, word string) (int, error) {
	if !bytes.HasPrefix(d.data[i:], []byte(word)) {
		return i, &syntaxError{i, "invalid literal"}
	}
	d.scalar(word[0], i, i+len(word))
	return i + len(word), nil
}

// number accepts the RFC 8259 grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func (d *document) number(i int) (int, error) {
	data := d.data
	start := i
	digits := func() bool {
		from := i
		for i < len(data) && data[i] >= '0' && data[i] <= '9' {
			i++
		}
		return i > from
	}
	if data[i] == '-' {
		i++
	}
	switch {
	case i < len(data) && data[i] == '0':
		i++
	case !digits():
		return i, &syntaxError{i, "invalid number"}
	}
	if i < len(data) && data[i] == '.' {
		i++
		if !digits() {
			return i, &syntaxError{i, "invalid number: no digit after '.'"}
		}
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		if !digits() {
			return i, &syntaxError{i, "invalid number: no digit in the exponent"}
		}
	}
	d.scalar('0', start, i)
	return i, nil
}

// raw returns the text of node i.
func (d *document) raw(i int32) []byte {
	n := &d.nodes[i]
	return d.data[n.start:n.end]
}

// empty reports whether node i is dropped from a sign string before any
// nested cleaning: null, "", [] or {}.
func (d *document) empty(i int32) bool {
	n := &d.nodes[i]
	switch n.kind {
	case 'n':
		return true
	case '"':
		return n.end-n.start == 2
	case '{', '[':
		return n.next == i+1
	}
	return false
}

// appendText appends the characters of string node i, escapes decoded.
func (d *document) appendText(dst []byte, i int32) []byte {
	n := &d.nodes[i]
	inner := d.data[n.start+1 : n.end-1]
	if !n.escaped {
		return append(dst, inner...)
	}
	return appendUnescaped(dst, inner)
}

// appendUnescaped decodes the escapes of a validated string body, in which
// surrogates come in pairs.
func appendUnescaped(dst, s []byte) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			j := bytes.IndexByte(s[i:], '\\')
			if j < 0 {
				return append(dst, s[i:]...)
			}
			dst = append(dst, s[i:i+j]...)
			i += j
			continue
		}
		switch s[i+1] {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'u':
			r := rune(hex4(s[i+2:]))
			i += 6
			if utf16.IsSurrogate(r) {
				if i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
					if pair := utf16.DecodeRune(r, rune(hex4(s[i+2:]))); pair != utf8.RuneError {
						dst = utf8.AppendRune(dst, pair)
						i += 6
						continue
					}
				}
				r = utf8.RuneError
			}
			dst = utf8.AppendRune(dst, r)
			continue
		default: // '"', '\\', '/'
			dst = append(dst, s[i+1])
		}
		i += 2
	}
	return dst
}

func hex4(b []byte) uint16 {
	v, _ := strconv.ParseUint(string(b[:4]), 16, 16)
	return uint16(v)
}

// appendQuoted writes s as a JSON string with minimal escaping (RFC 8785
// §3.2.2.2): only '"', '\\' and control characters are escaped, so '&', '<',
// '>', '/', U+2028 and non-ASCII characters stay as they are. s must be
// valid UTF-8.
func appendQuoted[T ~string | ~[]byte](dst []byte, s T) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"', '\\':
			dst = append(dst, '\\', c)
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', "0123456789abcdef"[c>>4], "0123456789abcdef"[c&0xf])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// member is one top-level name/value pair of a message. Values parsed from
// a peer's message keep their document, so the sign string is built from
// the peer's own literals. Values built by this package are scalars without
// a document.
type member struct {
	name  []byte // decoded; shares memory with the message when it has no escapes
	value []byte
	doc   *document
	node  int32
}

// empty reports whether m is dropped from a sign string before any nested
// cleaning.
func (m *member) empty() bool {
	if m.doc != nil {
		return m.doc.empty(m.node)
	}
	switch string(m.value) {
	case "null", `""`, "[]", "{}":
		return true
	}
	return false
}

func (m *member) kind() byte {
	if m.doc != nil {
		return m.doc.nodes[m.node].kind
	}
	if len(m.value) == 0 {
		return 0
	}
	switch c := m.value[0]; c {
	case '{', '[', '"', 't', 'f', 'n':
		return c
	}
	return '0'
}

// text returns the characters of a string member, and false for any other
// kind.
func (m *member) text() (string, bool) {
	if m.kind() != '"' {
		return "", false
	}
	return string(m.textBytes()), true
}

// textBytes returns the characters of a string member, escapes decoded. The
// result may share memory with the member's document.
func (m *member) textBytes() []byte {
	inner := m.value[1 : len(m.value)-1]
	if m.doc != nil && !m.doc.nodes[m.node].escaped {
		return inner
	}
	return appendUnescaped(nil, inner)
}

// object is a parsed top-level JSON object, its members in received order.
type object []member

// get returns the member called name.
func (o object) get(name string) (*member, bool) {
	for i := range o {
		if string(o[i].name) == name {
			return &o[i], true
		}
	}
	return nil, false
}

// parseObject parses data as exactly one JSON object.
func parseObject(data []byte) (object, error) {
	d, err := parseDocument(data)
	if err != nil {
		return nil, err
	}
	return d.members(0)
}

// members returns the members of object node i.
func (d *document) members(i int32) (object, error) {
	return d.appendMembers(nil, i)
}

// appendMembers appends the members of object node i to obj.
func (d *document) appendMembers(obj object, i int32) (object, error) {
	n := &d.nodes[i]
	if n.kind != '{' {
		return nil, fmt.Errorf("message is a JSON %s, not an object", kindName(n.kind))
	}
	count := 0
	for j := i + 1; j < n.next; j = d.nodes[j+1].next {
		count++
	}
	obj = slices.Grow(obj, count)
	for j := i + 1; j < n.next; j = d.nodes[j+1].next {
		name := &d.nodes[j]
		// The member is written in place, as push explains.
		obj = obj[:len(obj)+1]
		m := &obj[len(obj)-1]
		if name.escaped {
			m.name = d.appendText(nil, j)
		} else {
			m.name = d.data[name.start+1 : name.end-1]
		}
		m.value = d.raw(j + 1)
		m.doc = d
		m.node = j + 1
	}
	return obj, nil
}

func kindName(k byte) string {
	switch k {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case '0':
		return "number"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "value"
}
