package protocol

import (
	"bytes"
	"fmt"
	"slices"
)

// appendSignString appends the canonical sign string of members to dst:
// every member but the profile's signature and ciphertext fields and
// "extra", empty values dropped, names in byte order, each rendered as
// name=value and joined by '&', then "&key=" and the sign key.
//
// Top-level strings appear without quotes and with escapes decoded, numbers
// and booleans as their received literal, and objects and arrays in the
// canonical form of appendCanonical.
func (p Profile) appendSignString(dst []byte, members object, key string) ([]byte, error) {
	var orderBuf [32]int
	order := orderBuf[:0]
	for i := range members {
		order = append(order, i)
	}
	sortByName(order, members)
	for k := 1; k < len(order); k++ {
		if bytes.Equal(members[order[k]].name, members[order[k-1]].name) {
			return dst, fmt.Errorf("duplicate field %s", members[order[k]].name)
		}
	}

	dst = slices.Grow(dst, signStringSize(members, key))
	first := true
	for _, i := range order {
		m := &members[i]
		if name := string(m.name); name == p.SignField() || name == p.EncField() || name == "extra" || m.empty() {
			continue
		}
		mark := len(dst)
		if !first {
			dst = append(dst, '&')
		}
		dst = append(dst, m.name...)
		dst = append(dst, '=')
		switch m.kind() {
		case '"':
			if m.doc != nil {
				dst = m.doc.appendText(dst, m.node)
			} else {
				dst = appendUnescaped(dst, m.value[1:len(m.value)-1])
			}
		case '{', '[':
			var nonEmpty bool
			var err error
			dst, nonEmpty, err = appendCanonical(dst, m.doc, m.node)
			if err != nil {
				return dst[:mark], fmt.Errorf("field %s: %w", m.name, err)
			}
			if !nonEmpty {
				dst = dst[:mark]
				continue
			}
		default: // number, true, false
			dst = append(dst, m.value...)
		}
		first = false
	}
	if !first {
		dst = append(dst, '&')
	}
	dst = append(dst, "key="...)
	return append(dst, key...), nil
}

// signStringSize bounds the length of the sign string of members, so that
// a large message's sign string is allocated once rather than grown step by
// step. The canonical form of a value is never longer than its received
// text plus two quotes for each node, since it drops whitespace and
// decodes escapes that do not need keeping.
func signStringSize(members object, key string) int {
	size := len("&key=") + len(key)
	for i := range members {
		m := &members[i]
		size += len(m.name) + len("=&") + len(m.value)
		if m.doc != nil {
			size += 2 * int(m.doc.nodes[m.node].next-m.node)
		}
	}
	return size
}

// SignString returns the canonical sign string of a plaintext message of
// profile p, with key appended as "&key=". The message is used as received:
// its literals are never re-encoded.
func (p Profile) SignString(message []byte, key string) ([]byte, error) {
	members, err := parseObject(message)
	if err != nil {
		return nil, Wrap(CodeMalformed, err)
	}
	s, err := p.appendSignString(nil, members, key)
	if err != nil {
		return nil, Wrap(CodeMalformed, err)
	}
	return s, nil
}

// sortByName sorts indexes of members by member name in byte order. Messages
// have a few dozen fields, where insertion sort beats a general sort.
func sortByName(order []int, members object) {
	if len(order) > 48 {
		slices.SortFunc(order, func(a, b int) int { return bytes.Compare(members[a].name, members[b].name) })
		return
	}
	var prefixes [48]uint64
	for k, i := range order {
		prefixes[k] = namePrefix(members[i].name)
	}
	less := func(a, b int) bool {
		if prefixes[a] != prefixes[b] {
			return prefixes[a] < prefixes[b]
		}
		return bytes.Compare(members[order[a]].name, members[order[b]].name) < 0
	}
	for i := 1; i < len(order); i++ {
		for j := i; j > 0 && less(j, j-1); j-- {
			order[j], order[j-1] = order[j-1], order[j]
			prefixes[j], prefixes[j-1] = prefixes[j-1], prefixes[j]
		}
	}
}
