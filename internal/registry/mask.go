package registry

import (
	"strings"
	"unicode"
)

// The masks below hide personal data in logs. They work on characters, not
// bytes, so a Chinese name is never cut inside a character, and invalid
// UTF-8 comes out as U+FFFD. Every character they keep that is not
// printable becomes '*', so a masked value cannot break a log line. A value
// too short to hide enough characters keeps fewer of them.

// MaskIDCard masks an ID number for logs, keeping the first 6 and last 4
// characters: 350102198003151234 becomes 350102********1234.
func MaskIDCard(idcard string) string {
	return maskMiddle(idcard, 6, 4)
}

// MaskPhone masks a phone number for logs, keeping the first 3 and last 4
// characters: 13812345678 becomes 138****5678.
func MaskPhone(phone string) string {
	return maskMiddle(phone, 3, 4)
}

// MaskName masks a name for logs, keeping the first character: 林小明
// becomes 林**. A name of one character is masked whole.
func MaskName(name string) string {
	runes := []rune(name)
	if len(runes) < 2 {
		return strings.Repeat("*", len(runes))
	}
	return keepPrintable(runes[0]) + strings.Repeat("*", len(runes)-1)
}

// minHidden is how many characters a mask hides at least before it keeps
// its full head and tail.
const minHidden = 4

// maskMiddle replaces all but the first head and last tail characters of s
// with '*'. When that would hide fewer than minHidden characters, it keeps
// a quarter of s at each end instead, so a short value stays mostly hidden.
func maskMiddle(s string, head, tail int) string {
	runes := []rune(s)
	n := len(runes)
	if n-head-tail < minHidden {
		head, tail = n/4, n/4
	}
	var b strings.Builder
	for _, r := range runes[:head] {
		b.WriteString(keepPrintable(r))
	}
	b.WriteString(strings.Repeat("*", n-head-tail))
	for _, r := range runes[n-tail:] {
		b.WriteString(keepPrintable(r))
	}
	return b.String()
}

// keepPrintable returns r as a string, or "*" when r is a space or is not
// printable.
func keepPrintable(r rune) string {
	if unicode.IsSpace(r) || !unicode.IsPrint(r) {
		return "*"
	}
	return string(r)
}
