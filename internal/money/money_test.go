package money

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func TestParseYuanAccepts(t *testing.T) {
	tests := []struct {
		name string
		in   string
		sign Sign
		want int64
	}{
		{"integer", "3", Positive, 300},
		{"one decimal", "0.5", Positive, 50},
		{"two decimals", "12.30", Positive, 1230},
		{"smallest", "0.01", Positive, 1},
		{"maximum", "9999999999.99", Positive, MaxFen},
		{"maximum integer", "9999999999", Positive, 999_999_999_900},
		{"zero balance", "0", NonNegative, 0},
		{"zero with decimals", "0.00", NonNegative, 0},
		{"balance", "20000.00", NonNegative, 2_000_000},
		{"signed zero", "0", Signed, 0},
		{"signed positive", "7.1", Signed, 710},
		{"refund record", "-0.50", Signed, -50},
		{"negative minimum", "-9999999999.99", Signed, -MaxFen},
		{"trailing zeros", "10.10", Signed, 1010},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseYuan(tt.in, tt.sign)
			if err != nil {
				t.Fatalf("ParseYuan(%q, %v): %v", tt.in, tt.sign, err)
			}
			if got != tt.want {
				t.Errorf("ParseYuan(%q, %v) = %d, want %d", tt.in, tt.sign, got, tt.want)
			}
		})
	}
}

func TestParseYuanRejects(t *testing.T) {
	tests := []struct {
		name string
		in   string
		sign Sign
		want string // the whole error message
	}{
		{"exponent", "1e3", Signed, `invalid amount "1e3": unexpected character 'e'; use digits 0-9 and one '.'`},
		{"negative payment", "-1", Positive, `invalid amount "-1": must be greater than zero`},
		{"negative balance", "-1", NonNegative, `invalid amount "-1": must not be negative`},
		{"three decimals", "1.005", Signed, `invalid amount "1.005": has more than two decimals`},
		{"leading space", " 1", Signed, `invalid amount " 1": unexpected character ' '; use digits 0-9 and one '.'`},
		{"trailing space", "1 ", Signed, `invalid amount "1 ": unexpected character ' '; use digits 0-9 and one '.'`},
		{"leading zero", "01.5", Signed, `invalid amount "01.5": leading zeros are not allowed`},
		{"double zero", "00", NonNegative, `invalid amount "00": leading zeros are not allowed`},
		{"empty", "", Signed, `invalid amount "": must not be empty`},
		{"no integer digit", ".5", Signed, `invalid amount ".5": needs a digit before the decimal point`},
		{"no fraction digit", "5.", Signed, `invalid amount "5.": needs a digit after the decimal point`},
		{"arabic-indic digits", "١٢", Signed, `invalid amount "١٢": unexpected character '١'; use digits 0-9 and one '.'`},
		{"fullwidth digit", "１", Signed, `invalid amount "１": unexpected character '１'; use digits 0-9 and one '.'`},
		{"plus", "+1", Signed, `invalid amount "+1": a leading '+' is not allowed`},
		{"zero payment", "0", Positive, `invalid amount "0": must be greater than zero`},
		{"zero cents payment", "0.00", Positive, `invalid amount "0.00": must be greater than zero`},
		{"negative zero", "-0", Signed, `invalid amount "-0": negative zero is not allowed`},
		{"negative zero cents", "-0.00", Signed, `invalid amount "-0.00": negative zero is not allowed`},
		{"minus only", "-", Signed, `invalid amount "-": needs a digit before the decimal point`},
		{"point only", ".", Signed, `invalid amount ".": needs a digit before the decimal point`},
		{"two points", "1.2.3", Signed, `invalid amount "1.2.3": unexpected character '.'; use digits 0-9 and one '.'`},
		{"double minus", "--1", Signed, `invalid amount "--1": unexpected character '-'; use digits 0-9 and one '.'`},
		{"comma", "1,000.00", Signed, `invalid amount "1,000.00": unexpected character ','; use digits 0-9 and one '.'`},
		{"above maximum", "10000000000", Signed, `invalid amount "10000000000": exceeds the maximum of 9999999999.99`},
		{"above maximum cents", "10000000000.00", Signed, `invalid amount "10000000000.00": exceeds the maximum of 9999999999.99`},
		{"below minimum", "-10000000000", Signed, `invalid amount "-10000000000": exceeds the maximum of 9999999999.99`},
		{"int64 overflow", "99999999999999999999", Signed, `invalid amount "99999999999999999999": exceeds the maximum of 9999999999.99`},
		{"unknown sign rule", "1", Sign(7), `invalid amount "1": unknown sign rule 7`},
		{"long value shortened", strings.Repeat("9", 50), Signed, `invalid amount "` + strings.Repeat("9", 40) + `"…: exceeds the maximum of 9999999999.99`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseYuan(tt.in, tt.sign)
			if err == nil {
				t.Fatalf("ParseYuan(%q, %v) = %d, want an error", tt.in, tt.sign, got)
			}
			if err.Error() != tt.want {
				t.Errorf("error = %s\nwant    %s", err, tt.want)
			}
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %T is not a *ParseError", err)
			}
			if pe.Value != tt.in {
				t.Errorf("ParseError.Value = %q, want %q", pe.Value, tt.in)
			}
		})
	}
}

func TestFormatFen(t *testing.T) {
	tests := []struct {
		name string
		fen  int64
		want string
	}{
		{"zero", 0, "0.00"},
		{"one fen", 1, "0.01"},
		{"ten fen", 10, "0.10"},
		{"trailing zero", 1230, "12.30"},
		{"whole yuan", 300, "3.00"},
		{"negative", -50, "-0.50"},
		{"negative one fen", -1, "-0.01"},
		{"maximum", MaxFen, "9999999999.99"},
		{"minimum", -MaxFen, "-9999999999.99"},
		{"int64 max", math.MaxInt64, "92233720368547758.07"},
		{"int64 min", math.MinInt64, "-92233720368547758.08"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := FormatFen(tt.fen); got != tt.want {
				t.Errorf("FormatFen(%d) = %q, want %q", tt.fen, got, tt.want)
			}
		})
	}
}

// TestRoundTripRanges covers every amount near zero and near both limits,
// where carries and signs go wrong; FuzzFormatParse samples the rest.
func TestRoundTripRanges(t *testing.T) {
	ranges := [][2]int64{
		{-100_000, 100_000},
		{MaxFen - 100_000, MaxFen},
		{-MaxFen, -MaxFen + 100_000},
	}
	for _, r := range ranges {
		for n := r[0]; n <= r[1]; n++ {
			s := FormatFen(n)
			got, err := ParseYuan(s, Signed)
			if err != nil {
				t.Fatalf("ParseYuan(FormatFen(%d)) = %q: %v", n, s, err)
			}
			if got != n {
				t.Fatalf("ParseYuan(FormatFen(%d)) = %d", n, got)
			}
		}
	}
}

func TestSignString(t *testing.T) {
	tests := []struct {
		sign Sign
		want string
	}{
		{Positive, "positive"},
		{NonNegative, "non-negative"},
		{Signed, "signed"},
		{Sign(9), "Sign(9)"},
	}
	for _, tt := range tests {
		if got := tt.sign.String(); got != tt.want {
			t.Errorf("Sign(%d).String() = %q, want %q", int(tt.sign), got, tt.want)
		}
	}
}
