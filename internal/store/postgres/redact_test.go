package postgres

import (
	"strings"
	"testing"
)

func TestRedactHidesPasswords(t *testing.T) {
	cases := []struct {
		url  string
		want string
	}{
		{"postgres://chsgate:SECRET@127.0.0.1:5432/db", "postgres://chsgate:xxxxx@127.0.0.1:5432/db"},
		{"postgres://chsgate@127.0.0.1/db?sslmode=disable&password=SECRET", "postgres://chsgate@127.0.0.1/db?password=xxxxx&sslmode=disable"},
		{"postgres://127.0.0.1/db?sslmode=disable", "postgres://127.0.0.1/db?sslmode=disable"},
		{"postgres://%zz", "(unparsable URL)"},
	}
	for _, c := range cases {
		got := redact(c.url)
		if got != c.want {
			t.Errorf("redact(%q) = %q, want %q", c.url, got, c.want)
		}
		if strings.Contains(got, "SECRET") {
			t.Errorf("redact(%q) = %q shows the password", c.url, got)
		}
	}
}
