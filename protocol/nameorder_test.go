package protocol

import (
	"fmt"
	"strings"
	"testing"
)

// prefixOrderNames are member names in byte order, as JSON string literals
// and decoded. They differ inside or just after the first eight bytes, which
// the sort packs into integers and compares before whole names. Some contain
// U+0000, which the packing's zero padding must not confuse with a shorter
// name.
var prefixOrderNames = []struct{ literal, decoded string }{
	{`""`, ""},
	{`"a"`, "a"},
	{`"a\u0000"`, "a\x00"},
	{`"a\u0000\u0000"`, "a\x00\x00"},
	{`"a\u0000b"`, "a\x00b"},
	{`"a\u0001"`, "a\x01"},
	{`"abcdefg"`, "abcdefg"},
	{`"abcdefg\u0000"`, "abcdefg\x00"},
	{`"abcdefgg"`, "abcdefgg"},
	{`"abcdefgh"`, "abcdefgh"},
	{`"abcdefgh\u0000"`, "abcdefgh\x00"},
	{`"abcdefgh1"`, "abcdefgh1"},
	{`"abcdefgh12345678z"`, "abcdefgh12345678z"},
	{`"abcdefgi"`, "abcdefgi"},
	{`"z"`, "z"},
	{`"\u007f"`, "\x7f"},
	{`"é"`, "é"},
	{`"名"`, "名"},
}

// TestSignStringNamePrefixOrder sends the names out of order, at the top
// level and nested, and expects them in byte order.
func TestSignStringNamePrefixOrder(t *testing.T) {
	// Each half is sent reversed, first half first, so that the sort moves
	// some names by one place and others across the other half.
	n := len(prefixOrderNames)
	var sent []int
	for i := n / 2; i >= 0; i-- {
		sent = append(sent, i)
	}
	for i := n - 1; i > n/2; i-- {
		sent = append(sent, i)
	}

	var members []string
	for _, i := range sent {
		members = append(members, fmt.Sprintf(`%s:"v%02d"`, prefixOrderNames[i].literal, i))
	}
	object := "{" + strings.Join(members, ",") + "}"
	// The nested object is named 😀, whose first byte 0xF0 sorts last.
	message := `{"😀":` + object + "," + strings.Join(members, ",") + "}"

	var top, nested []string
	for i, name := range prefixOrderNames {
		top = append(top, fmt.Sprintf("%s=v%02d", name.decoded, i))
		nested = append(nested, string(appendQuoted(nil, name.decoded))+fmt.Sprintf(`:"v%02d"`, i))
	}
	want := strings.Join(top, "&") + "&😀={" + strings.Join(nested, ",") + "}&key=K"

	for _, p := range []Profile{ProfileFJS, ProfileHSA} {
		got, err := p.SignString([]byte(message), "K")
		if err != nil {
			t.Fatalf("%s SignString: %v", p, err)
		}
		if string(got) != want {
			t.Errorf("%s sign string\n got %q\nwant %q", p, got, want)
		}
	}
}
