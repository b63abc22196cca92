package protocol

import (
	"bytes"
	"encoding/binary"
	"sync"
)

// canonicalizer renders nested objects and arrays in the sign string's form.
// The output is compact JSON with object members sorted by name in byte
// order. Empty values are dropped at every depth, and so are objects and
// arrays that become empty. Numbers and booleans become JSON strings of
// their received literal, and strings are escaped minimally (see
// appendQuoted).
type canonicalizer struct {
	// pairs holds the members of the objects being rendered, one run per
	// nesting level, so rendering allocates nothing once warm.
	pairs []namedValue
}

// namedValue is an object member: its decoded name, the name's JSON text
// when it needs no re-escaping, and its value's node.
type namedValue struct {
	name   []byte
	quoted []byte // nil when the received name has escapes
	prefix uint64 // see namePrefix
	node   int32
}

// less orders members by name in byte order, comparing the prefixes first.
func (a *namedValue) less(b *namedValue) bool {
	if a.prefix != b.prefix {
		return a.prefix < b.prefix
	}
	return bytes.Compare(a.name, b.name) < 0
}

// namePrefix packs the first eight bytes of name, zero-padded, so that
// comparing two prefixes as integers orders most pairs of names, and only
// equal prefixes need the names compared.
func namePrefix(name []byte) uint64 {
	if len(name) >= 8 {
		return binary.BigEndian.Uint64(name)
	}
	var k uint64
	for i := range 8 {
		k <<= 8
		if i < len(name) {
			k |= uint64(name[i])
		}
	}
	return k
}

var canonicalizerPool = sync.Pool{New: func() any { return new(canonicalizer) }}

// release drops the canonicalizer's references to the message it rendered
// and returns it to the pool.
func (c *canonicalizer) release() {
	clear(c.pairs[:cap(c.pairs)])
	canonicalizerPool.Put(c)
}

// appendCanonical appends the canonical rendering of node i of d to dst. It
// returns dst unchanged and false when nothing but empty values remain, so
// the caller drops the field.
func appendCanonical(dst []byte, d *document, i int32) ([]byte, bool, error) {
	c := canonicalizerPool.Get().(*canonicalizer)
	defer c.release()
	c.pairs = c.pairs[:0]
	start := len(dst)
	dst, nonEmpty, err := c.appendValue(dst, d, i)
	if err != nil {
		return dst[:start], false, err
	}
	return dst, nonEmpty, nil
}

func (c *canonicalizer) appendValue(dst []byte, d *document, i int32) ([]byte, bool, error) {
	n := &d.nodes[i]
	switch n.kind {
	case '{':
		return c.appendObject(dst, d, i)
	case '[':
		return c.appendArray(dst, d, i)
	case 'n':
		return dst, false, nil
	case '"':
		if n.end-n.start == 2 {
			return dst, false, nil
		}
		// A valid JSON string without a backslash holds no character that
		// minimal escaping would change, so it is already canonical.
		if !n.escaped {
			return append(dst, d.data[n.start:n.end]...), true, nil
		}
		return appendQuoted(dst, d.appendText(nil, i)), true, nil
	default: // number, true, false
		dst = append(dst, '"')
		dst = append(dst, d.data[n.start:n.end]...)
		return append(dst, '"'), true, nil
	}
}

// appendObject sorts the members by name first, then renders each in order,
// taking back the name of any whose value turns out empty.
func (c *canonicalizer) appendObject(dst []byte, d *document, i int32) ([]byte, bool, error) {
	base := len(c.pairs)
	defer func() { c.pairs = c.pairs[:base] }()

	end := d.nodes[i].next
	for j := i + 1; j < end; j = d.nodes[j+1].next {
		name := &d.nodes[j]
		// The pair is written in place, as document.push explains.
		c.pairs = append(c.pairs, namedValue{})
		p := &c.pairs[len(c.pairs)-1]
		p.node = j + 1
		if name.escaped {
			p.name = d.appendText(nil, j)
		} else {
			p.quoted = d.data[name.start:name.end]
			p.name = p.quoted[1 : len(p.quoted)-1]
		}
		p.prefix = namePrefix(p.name)
	}
	pairs := c.pairs[base:]
	for k := 1; k < len(pairs); k++ {
		for m := k; m > 0 && pairs[m].less(&pairs[m-1]); m-- {
			pairs[m], pairs[m-1] = pairs[m-1], pairs[m]
		}
	}

	start := len(dst)
	dst = append(dst, '{')
	count := 0
	for k := range pairs {
		// pairs may move when a nested object grows c.pairs, so index it
		// afresh each time.
		p := &c.pairs[base+k]
		mark := len(dst)
		if count > 0 {
			dst = append(dst, ',')
		}
		if p.quoted != nil {
			// A valid name without escapes is already canonical.
			dst = append(dst, p.quoted...)
		} else {
			dst = appendQuoted(dst, p.name)
		}
		dst = append(dst, ':')
		var nonEmpty bool
		var err error
		if dst, nonEmpty, err = c.appendValue(dst, d, p.node); err != nil {
			return dst, false, err
		}
		if !nonEmpty {
			dst = dst[:mark]
			continue
		}
		count++
	}
	if count == 0 {
		return dst[:start], false, nil
	}
	return append(dst, '}'), true, nil
}

func (c *canonicalizer) appendArray(dst []byte, d *document, i int32) ([]byte, bool, error) {
	start := len(dst)
	dst = append(dst, '[')
	count := 0
	end := d.nodes[i].next
	for j := i + 1; j < end; j = d.nodes[j].next {
		mark := len(dst)
		if count > 0 {
			dst = append(dst, ',')
		}
		var nonEmpty bool
		var err error
		if dst, nonEmpty, err = c.appendValue(dst, d, j); err != nil {
			return dst, false, err
		}
		if !nonEmpty {
			dst = dst[:mark]
			continue
		}
		count++
	}
	if count == 0 {
		return dst[:start], false, nil
	}
	return append(dst, ']'), true, nil
}
