package money

import (
	"regexp"
	"strings"
	"testing"
)

// amountGrammar is the wire grammar written independently of the parser,
// so the fuzz target compares two implementations.
var amountGrammar = regexp.MustCompile(`^-?(0|[1-9][0-9]{0,9})(\.[0-9]{1,2})?$`)

// canonicalYuan pads an accepted amount string to two decimals, which is
// how FormatFen writes the same amount.
func canonicalYuan(s string) string {
	integer, fraction, _ := strings.Cut(s, ".")
	return integer + "." + (fraction + "00")[:2]
}

func FuzzParseYuan(f *testing.F) {
	for _, s := range []string{
		"0", "0.5", "12.30", "3", "-0.50", "9999999999.99", "-9999999999.99",
		"10000000000", "1e3", "-1", "1.005", " 1", "01.5", "", ".5", "5.", "١٢",
		"+1", "-0", "-0.00", "00.1", "1.2.3",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, sign := range []Sign{Positive, NonNegative, Signed} {
			n, err := ParseYuan(s, sign)
			matches := amountGrammar.MatchString(s)
			negative := strings.HasPrefix(s, "-")
			zero := strings.Trim(s, "-0.") == ""
			var wantOK bool
			switch sign {
			case Positive:
				wantOK = matches && !negative && !zero
			case NonNegative:
				wantOK = matches && !negative
			case Signed:
				wantOK = matches && !(negative && zero)
			}
			if (err == nil) != wantOK {
				t.Fatalf("ParseYuan(%q, %v) error = %v, but the grammar says accepted = %v", s, sign, err, wantOK)
			}
			if err != nil {
				continue
			}
			if n < -MaxFen || n > MaxFen {
				t.Fatalf("ParseYuan(%q, %v) = %d, outside ±MaxFen", s, sign, n)
			}
			if got := FormatFen(n); got != canonicalYuan(s) {
				t.Fatalf("FormatFen(ParseYuan(%q)) = %q, want %q", s, got, canonicalYuan(s))
			}
			back, err := ParseYuan(FormatFen(n), sign)
			if err != nil {
				t.Fatalf("ParseYuan(FormatFen(%d), %v): %v", n, sign, err)
			}
			if back != n {
				t.Fatalf("ParseYuan(FormatFen(%d), %v) = %d", n, sign, back)
			}
		}
	})
}

func FuzzFormatParse(f *testing.F) {
	for _, n := range []int64{0, 1, -1, 99, 100, -100, MaxFen, -MaxFen, 123456789} {
		f.Add(n)
	}
	f.Fuzz(func(t *testing.T, n int64) {
		n %= MaxFen + 1 // every amount in range, keeping the sign
		s := FormatFen(n)
		got, err := ParseYuan(s, Signed)
		if err != nil {
			t.Fatalf("ParseYuan(FormatFen(%d)) = ParseYuan(%q): %v", n, s, err)
		}
		if got != n {
			t.Fatalf("ParseYuan(FormatFen(%d)) = %d", n, got)
		}
	})
}
