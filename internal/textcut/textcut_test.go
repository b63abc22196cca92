package textcut

import "testing"

func TestPrefix(t *testing.T) {
	cases := []struct {
		s    string
		n    int
		want string
	}{
		{"short", 40, "short"},
		{"exactly", 7, "exactly"},
		{"abcdef", 3, "abc"},
		// 林 is three bytes, so a cut inside it moves back before it.
		{"a林b", 2, "a"},
		{"a林b", 3, "a"},
		{"a林b", 4, "a林"},
		{"林", 0, ""},
	}
	for _, c := range cases {
		if got := Prefix(c.s, c.n); got != c.want {
			t.Errorf("Prefix(%q, %d) = %q, want %q", c.s, c.n, got, c.want)
		}
	}
}

func TestQuote(t *testing.T) {
	cases := []struct {
		s    string
		n    int
		want string
	}{
		{"ok", 40, `"ok"`},
		{"a\nb", 40, `"a\nb"`},
		{"abcdef", 3, `"abc"…`},
		{"a林b", 2, `"a"…`},
	}
	for _, c := range cases {
		if got := Quote(c.s, c.n); got != c.want {
			t.Errorf("Quote(%q, %d) = %q, want %q", c.s, c.n, got, c.want)
		}
	}
}
