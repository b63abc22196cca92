package protocol

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestParseDuplicateNames(t *testing.T) {
	cases := map[string]string{
		"plain":          `{"a":1,"b":2,"a":3}`,
		"escaped first":  `{"\u0061":1,"a":2}`,
		"escaped second": `{"a":1,"\u0061":2}`,
		"both escaped":   `{"\u0061":1,"\u0061":2}`,
		"nested":         `{"x":[{"k":1,"k":2}]}`,
		"empty names":    `{"":1,"":2}`,
		"many members":   `{"m01":1,"m02":1,"m03":1,"m04":1,"m05":1,"m06":1,"m07":1,"m08":1,"m09":1,"m10":1,"m11":1,"m12":1,"m13":1,"m14":1,"m15":1,"m16":1,"m17":1,"m05":2}`,
		// The escaped name's filter key is unusable, so the plain repeat
		// two members later must still be compared with it.
		"escaped then plain later": `{"\u0061b":1,"x":2,"ab":3}`,
		"last of 32":               manyMembers(31, "m07"),
		"last of 40":               manyMembers(39, "m33"),
	}
	for name, input := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := parseDocument([]byte(input)); err == nil {
				t.Errorf("parse accepts duplicate names in %s", input)
			}
		})
	}
	for _, n := range []int{31, 32, 33, 64} {
		if _, err := parseDocument([]byte(manyMembers(n, ""))); err != nil {
			t.Errorf("parse rejects %d distinct names: %v", n, err)
		}
	}
	distinct := `{"ab":1,"ba":1,"aa":1,"a":1,"A":1,"\u0062":1,"m01":1,"m02":1,"m03":1,"m04":1,"m05":1,"m06":1,"m07":1,"m08":1,"m09":1,"m10":1,"m11":1}`
	if _, err := parseDocument([]byte(distinct)); err != nil {
		t.Errorf("parse rejects distinct names: %v", err)
	}
}

// manyMembers returns an object of n members named m00, m01 and so on, then
// one more named extra unless extra is empty.
func manyMembers(n int, extra string) string {
	var b strings.Builder
	b.WriteString("{")
	for i := range n {
		fmt.Fprintf(&b, `"m%02d":%d,`, i, i)
	}
	if extra != "" {
		fmt.Fprintf(&b, `%q:0,`, extra)
	}
	return strings.TrimSuffix(b.String(), ",") + "}"
}

// TestDuplicateNameOffset checks that the error points at the repeated
// name, not at the object that holds it.
func TestDuplicateNameOffset(t *testing.T) {
	cases := []struct {
		input string
		want  int
	}{
		{`{"a":1,"b":2,"a":3}`, 13},
		{`{"x":{"k":1,"k":2}}`, 12},
		{manyMembers(40, "m05"), len(manyMembers(40, "m05")) - len(`"m05":0}`)},
	}
	for _, c := range cases {
		_, err := parseDocument([]byte(c.input))
		var se *syntaxError
		if !errors.As(err, &se) {
			t.Errorf("%.40s: error %v, want a syntax error", c.input, err)
			continue
		}
		if se.offset != c.want {
			t.Errorf("%.40s: offset %d, want %d", c.input, se.offset, c.want)
		}
	}
}
