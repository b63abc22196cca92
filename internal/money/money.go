// Package money converts between the platform's yuan strings and the int64
// fen the product computes in.
//
// On the wire an amount is a decimal string of yuan with at most two
// decimals ("12.30", "0.5", "3"), at most 9,999,999,999.99 in absolute
// value. Its grammar is that of a JSON number without exponent and with at
// most two fraction digits. So a leading '+' is rejected, and so are
// leading zeros ("01.5"), a decimal point without a digit on both sides
// (".5", "5."), digits other than ASCII 0-9, and spaces.
package money

import (
	"fmt"
	"strconv"
	"unicode/utf8"

	"chsgate/internal/textcut"
)

// MaxFen is the largest amount in absolute value, 9,999,999,999.99 yuan.
const MaxFen int64 = 999_999_999_999

// maxIntegerDigits is the number of digits of MaxFen's yuan part. Because
// leading zeros are rejected, a longer yuan part is always out of range, so
// the parser never accumulates a value that could overflow.
const maxIntegerDigits = 10

// Sign is the sign rule an amount must meet where it is used.
type Sign int

const (
	// Positive amounts are greater than zero: payments and refunds. It is
	// the zero value, so an unset rule is the strictest.
	Positive Sign = iota
	// NonNegative amounts are zero or more: account balances.
	NonNegative
	// Signed amounts may be negative: reconciliation records and totals,
	// where refunds are negative.
	Signed
)

func (s Sign) String() string {
	switch s {
	case Positive:
		return "positive"
	case NonNegative:
		return "non-negative"
	case Signed:
		return "signed"
	}
	return "Sign(" + strconv.Itoa(int(s)) + ")"
}

// ParseError reports an amount string that ParseYuan rejected.
type ParseError struct {
	Value  string // the input as given
	Reason string // what is wrong, in plain English
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("invalid amount %s: %s", textcut.Quote(e.Value, 40), e.Reason)
}

// ParseYuan parses a yuan string and returns the amount in fen. Beyond the
// grammar of the package comment, sign decides whether zero and a leading
// '-' are allowed. A minus sign always needs a non-zero amount, because "-0"
// is more likely a fault in the sender than a value. Every error is a
// *ParseError.
func ParseYuan(s string, sign Sign) (int64, error) {
	fail := func(reason string) (int64, error) {
		return 0, &ParseError{Value: s, Reason: reason}
	}
	if sign != Positive && sign != NonNegative && sign != Signed {
		return fail(fmt.Sprintf("unknown sign rule %d", int(sign)))
	}
	if s == "" {
		return fail("must not be empty")
	}

	rest := s
	negative := false
	switch rest[0] {
	case '-':
		if sign != Signed {
			if sign == Positive {
				return fail("must be greater than zero")
			}
			return fail("must not be negative")
		}
		negative = true
		rest = rest[1:]
	case '+':
		return fail("a leading '+' is not allowed")
	}

	integer, fraction, hasPoint, reason := splitDigits(rest)
	if reason != "" {
		return fail(reason)
	}
	switch {
	case integer == "":
		return fail("needs a digit before the decimal point")
	case hasPoint && fraction == "":
		return fail("needs a digit after the decimal point")
	case len(fraction) > 2:
		return fail("has more than two decimals")
	case len(integer) > 1 && integer[0] == '0':
		return fail("leading zeros are not allowed")
	case len(integer) > maxIntegerDigits:
		return fail("exceeds the maximum of 9999999999.99")
	}

	var fen int64
	for i := 0; i < len(integer); i++ {
		fen = fen*10 + int64(integer[i]-'0')
	}
	for i := 0; i < 2; i++ {
		fen *= 10
		if i < len(fraction) {
			fen += int64(fraction[i] - '0')
		}
	}

	switch {
	case negative && fen == 0:
		return fail("negative zero is not allowed")
	case sign == Positive && fen == 0:
		return fail("must be greater than zero")
	}
	if negative {
		fen = -fen
	}
	return fen, nil
}

// splitDigits splits an unsigned amount at its decimal point. It returns a
// non-empty reason when s contains anything but ASCII digits and one '.'.
func splitDigits(s string) (integer, fraction string, hasPoint bool, reason string) {
	point := -1
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= '0' && c <= '9' {
			continue
		}
		if c == '.' && point < 0 {
			point = i
			continue
		}
		r, _ := utf8.DecodeRuneInString(s[i:])
		return "", "", false, fmt.Sprintf("unexpected character %q; use digits 0-9 and one '.'", r)
	}
	if point < 0 {
		return s, "", false, ""
	}
	return s[:point], s[point+1:], true, ""
}

// FormatFen formats an amount in fen as yuan with exactly two decimals:
// 1230 is "12.30" and -50 is "-0.50". Any int64 is formatted, including
// values beyond MaxFen, which ParseYuan would reject.
func FormatFen(fen int64) string {
	magnitude := uint64(fen)
	if fen < 0 {
		// Two's complement negation is also right for math.MinInt64.
		magnitude = -magnitude
	}
	var buf [24]byte
	b := buf[:0]
	if fen < 0 {
		b = append(b, '-')
	}
	b = strconv.AppendUint(b, magnitude/100, 10)
	cents := magnitude % 100
	b = append(b, '.', byte('0'+cents/10), byte('0'+cents%10))
	return string(b)
}
