package protocol

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// skipPlainBytewise is skipPlain one byte at a time, the reference for the
// word-at-a-time version.
func skipPlainBytewise(data []byte, i int) int {
	for i < len(data) && plainByte[data[i]] {
		i++
	}
	return i
}

// TestSkipPlainEveryByte puts every byte value at every offset of strings
// that end before, inside and after the 8- and 32-byte steps of skipPlain.
func TestSkipPlainEveryByte(t *testing.T) {
	for start := range 9 {
		for n := start; n <= start+72; n++ {
			data := []byte(strings.Repeat("a", n))
			if got := skipPlain(data, start); got != n {
				t.Fatalf("skipPlain(%d plain bytes, %d) = %d, want %d", n, start, got, n)
			}
			for pos := start; pos < n; pos++ {
				for b := range 256 {
					data[pos] = byte(b)
					want := skipPlainBytewise(data, start)
					if got := skipPlain(data, start); got != want {
						t.Fatalf("skipPlain with byte %#x at %d of %d, from %d = %d, want %d", b, pos, n, start, got, want)
					}
				}
				data[pos] = 'a'
			}
		}
	}
}

// TestSkipPlainBytePairs checks two adjacent bytes, since the borrow of one
// lane's subtraction changes the result of the lane above it.
func TestSkipPlainBytePairs(t *testing.T) {
	for _, pos := range []int{0, 3, 7, 8, 15, 30, 31, 38, 39, 40, 46} {
		data := []byte(strings.Repeat("a", 48))
		for b1 := range 256 {
			for b2 := range 256 {
				data[pos], data[pos+1] = byte(b1), byte(b2)
				want := skipPlainBytewise(data, 0)
				if got := skipPlain(data, 0); got != want {
					t.Fatalf("skipPlain with bytes %#x %#x at %d = %d, want %d", b1, b2, pos, got, want)
				}
			}
		}
	}
}

// TestParseStringStops checks that the scanner rejects a control
// character, a stray quote and invalid UTF-8 at every offset of a long
// string, and accepts escapes and multi-byte characters there.
func TestParseStringStops(t *testing.T) {
	for n := 1; n <= 70; n++ {
		for pos := range n {
			body := []byte(strings.Repeat("x", n))
			for _, bad := range []string{"\x00", "\x1f", "\n", "\x7f\xff", "\xc3", "\xed\xa0\x80", "\""} {
				text := string(body[:pos]) + bad + string(body[pos+1:])
				if _, err := parseDocument([]byte(`"` + text + `"`)); err == nil {
					t.Errorf("parse accepts %q at offset %d of %d", bad, pos, n)
				}
			}
			for _, good := range []string{`\"`, `\\`, `\u00e9`, "é", "中", "😀", "\x7f"} {
				text := string(body[:pos]) + good + string(body[pos+1:])
				if _, err := parseDocument([]byte(`"` + text + `"`)); err != nil {
					t.Errorf("parse rejects %q at offset %d of %d: %v", good, pos, n, err)
				}
			}
		}
	}
}

// duplicateNameForms are member names as JSON string literals. Some decode
// to the same name, and many share the length and the first and last bytes
// that the duplicate filter keys on.
var duplicateNameForms = []string{
	`""`, `"a"`, `"\u0061"`, `"b"`, `"ab"`, `"\u0061b"`, `"a\u0062"`, `"ba"`,
	`"axb"`, `"ayb"`, `"a\/b"`, `"a/b"`, `"abcdefgh"`, `"abcdefgi"`, `"abcdefgh1"`,
	`"chs_fjs_appid"`, `"chs_fjs_funid"`, `"\u0063hs_fjs_appid"`, `"é"`, `"\u00e9"`,
	`"\ud83d\ude00"`, `"😀"`, `"\n"`, `"\u000a"`, `"\u0000"`, `"\u0000\u0000"`,
}

// hasRepeatedName reports whether the JSON string literals in names decode
// to a repeated name, by way of encoding/json.
func hasRepeatedName(t *testing.T, names []string) bool {
	seen := map[string]bool{}
	for _, literal := range names {
		var name string
		if err := json.Unmarshal([]byte(literal), &name); err != nil {
			t.Fatalf("test name %s is not a JSON string: %v", literal, err)
		}
		if seen[name] {
			return true
		}
		seen[name] = true
	}
	return false
}

func objectOf(names []string) string {
	var b strings.Builder
	b.WriteString("{")
	for i, name := range names {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "%s:%d", name, i)
	}
	b.WriteString("}")
	return b.String()
}

// checkDuplicateVerdict parses the object of names, alone and nested, and
// checks that it is rejected exactly when two names decode alike.
func checkDuplicateVerdict(t *testing.T, names []string) {
	t.Helper()
	want := hasRepeatedName(t, names)
	object := objectOf(names)
	for _, text := range []string{object, `{"x":[1,` + object + `]}`} {
		_, err := parseDocument([]byte(text))
		rejected := err != nil && strings.Contains(err.Error(), "duplicate member name")
		if err != nil && !rejected {
			t.Fatalf("parse %s: %v", text, err)
		}
		if rejected != want {
			t.Fatalf("parse %s: rejected %v, want %v", text, rejected, want)
		}
	}
}

// TestDuplicateNamesRandom compares the scanner's verdict on repeated names
// with encoding/json's decoding, for objects of 0 to 40 members, on both
// sides of the 32 members where the scanner changes method.
func TestDuplicateNamesRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		n := r.IntN(41)
		names := make([]string, 0, n)
		for len(names) < n {
			if r.IntN(2) == 0 {
				names = append(names, duplicateNameForms[r.IntN(len(duplicateNameForms))])
			} else {
				names = append(names, fmt.Sprintf(`"n%d"`, r.IntN(200)))
			}
		}
		checkDuplicateVerdict(t, names)
	}
}

// TestDuplicateNamesEveryPair repeats each name of 31, 32 and 33 distinct
// ones at every later position, plain and escaped.
func TestDuplicateNamesEveryPair(t *testing.T) {
	for _, n := range []int{2, 8, 31, 32, 33} {
		distinct := make([]string, n)
		for i := range distinct {
			distinct[i] = fmt.Sprintf(`"m%02d"`, i)
		}
		checkDuplicateVerdict(t, distinct)
		for i := range n {
			for j := i + 1; j < n; j++ {
				for _, form := range []string{fmt.Sprintf(`"m%02d"`, i), fmt.Sprintf(`"\u006d%02d"`, i)} {
					names := append([]string(nil), distinct...)
					names[j] = form
					checkDuplicateVerdict(t, names)
				}
			}
		}
	}
}
