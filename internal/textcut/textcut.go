// Package textcut shortens untrusted text for logs and error messages. A
// rejected value may be a whole hostile request body or file line, so
// messages show only its start, cut where no UTF-8 character is split.
package textcut

import (
	"strconv"
	"unicode/utf8"
)

// Prefix returns s cut to at most n bytes at a character boundary.
func Prefix(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// Quote returns s quoted as strconv.Quote does, cut to at most n bytes
// first, with "…" after the closing quote when it was cut.
func Quote(s string, n int) string {
	cut := Prefix(s, n)
	if len(cut) == len(s) {
		return strconv.Quote(s)
	}
	return strconv.Quote(cut) + "…"
}
