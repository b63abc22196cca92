package protocol

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// fuzzKeys is an SM3 + SM4 channel, the fjs default.
func fuzzKeys(tb testing.TB) *Keys {
	tb.Helper()
	return paymentKeys(tb)
}

func FuzzDecodeRequest(f *testing.F) {
	keys := fuzzKeys(f)
	sealed, err := ProfileFJS.SealRequest(keys, paymentRequest())
	if err != nil {
		f.Fatal(err)
	}
	hsa, err := ProfileHSA.SealRequest(keys, paymentRequest())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sealed, false)
	f.Add(hsa, true)
	f.Add([]byte(`{"chs_fjs_appid":"a","chs_fjs_funid":"f","chs_fjs_timestamp":1,"x":[{"a":null}]}`), false)
	f.Add([]byte(loadVectors(f).HSASM2Verify.Message), true)

	f.Fuzz(func(t *testing.T, body []byte, hsa bool) {
		p := ProfileFJS
		if hsa {
			p = ProfileHSA
		}
		env, err := p.DecodeRequest(body)
		if err != nil {
			var pe *Error
			if !errors.As(err, &pe) || (pe.Code != CodeMalformed && pe.Code != CodeMissingField) {
				t.Fatalf("decode error %v is not 10001 or 10002", err)
			}
			return
		}
		if !json.Valid(body) {
			t.Fatalf("decoded a body encoding/json rejects: %q", body)
		}
		opened, err := env.Open(keys)
		if err != nil {
			if CodeOf(err) == CodeInternal {
				t.Fatalf("open error without a wire code: %v", err)
			}
			return
		}
		if opened.Payload != nil && !json.Valid(opened.Payload) {
			t.Fatalf("opened payload is not JSON: %q", opened.Payload)
		}
	})
}

func FuzzSignString(f *testing.F) {
	f.Add([]byte(loadVectors(f).FJSRequestSignMD5.PlaintextRequest))
	f.Add([]byte(loadVectors(f).HSASignString.Message))
	f.Add([]byte(paymentBusiness))
	f.Add([]byte(`{"a":"\u0026\ud83d\ude00","b":[[],{},null,"",{"c":[1.50,true,"\n"]}],"B":-0e+1}`))

	f.Fuzz(func(t *testing.T, message []byte) {
		got, err := ProfileHSA.SignString(message, "k")
		if err != nil {
			return
		}
		// Whatever the scanner accepts, encoding/json accepts too.
		if !json.Valid(message) || !utf8.Valid(message) {
			t.Fatalf("accepted invalid JSON %q", message)
		}
		if !utf8.Valid(got) {
			t.Fatalf("sign string is not UTF-8: %q", got)
		}
		// Layout must not matter: the same message indented signs the same.
		var indented bytes.Buffer
		if err := json.Indent(&indented, message, "", "  "); err != nil {
			t.Fatal(err)
		}
		again, err := ProfileHSA.SignString(indented.Bytes(), "k")
		if err != nil {
			t.Fatalf("indented message rejected: %v", err)
		}
		if !bytes.Equal(got, again) {
			t.Fatalf("sign string changes with layout:\n%q\n%q", got, again)
		}
	})
}

func FuzzParseAgreesWithEncodingJSON(f *testing.F) {
	for _, s := range []string{`{}`, `[1,-0,0.5e-3]`, `"\ud800"`, `{"a":1,"a":2}`, `01`, `1.`, "\"\xff\"", `[` + string(bytes.Repeat([]byte("["), 200))} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := parseDocument(data)
		stdValid := json.Valid(data) && utf8.Valid(data)
		if err == nil && !stdValid {
			t.Fatalf("scanner accepts what encoding/json rejects: %q", data)
		}
		if err == nil && stdValid && hasDuplicateName(data) {
			t.Fatalf("scanner accepts a repeated member name: %q", data)
		}
		if err != nil && stdValid {
			// The scanner is stricter on purpose in three ways only: lone
			// UTF-16 surrogates, nesting deeper than maxDepth, and
			// duplicate member names.
			var se *syntaxError
			if !errors.As(err, &se) || (se.msg != "lone UTF-16 surrogate" && se.msg != "nesting too deep" && !strings.HasPrefix(se.msg, "duplicate member name")) {
				t.Fatalf("scanner rejects valid JSON %q: %v", data, err)
			}
			if strings.HasPrefix(se.msg, "duplicate member name") && !hasDuplicateName(data) {
				t.Fatalf("scanner reports a repeated name in %q, which has none", data)
			}
		}
	})
}

// hasDuplicateName reports whether any object in the valid JSON text data
// names a member twice, by way of encoding/json's tokens.
func hasDuplicateName(data []byte) bool {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	type frame struct {
		object  bool
		names   map[string]bool
		wantKey bool
	}
	var stack []*frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.object && top.wantKey {
			if name, ok := tok.(string); ok {
				if top.names[name] {
					return true
				}
				top.names[name] = true
				top.wantKey = false
				continue
			}
		}
		switch tok {
		case json.Delim('{'):
			if top != nil && top.object {
				top.wantKey = true
			}
			stack = append(stack, &frame{object: true, names: map[string]bool{}, wantKey: true})
			continue
		case json.Delim('['):
			if top != nil && top.object {
				top.wantKey = true
			}
			stack = append(stack, &frame{})
			continue
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
			continue
		}
		if top != nil && top.object {
			top.wantKey = true
		}
	}
}

func FuzzBlockDecrypt(f *testing.F) {
	c, err := NewBlockCipher(EncSM4, []byte("0123456789abcdef"))
	if err != nil {
		f.Fatal(err)
	}
	good, _ := c.Encrypt([]byte(paymentBusiness))
	f.Add(good)
	f.Add(good[:16])
	f.Add(make([]byte, 32))
	f.Fuzz(func(t *testing.T, ciphertext []byte) {
		input := append([]byte(nil), ciphertext...)
		plain, err := c.Decrypt(ciphertext)
		if err != nil {
			return
		}
		// Only canonical PKCS #7 padding decrypts, so encrypting the result
		// must give the input back.
		again, _ := c.Encrypt(plain)
		if !bytes.Equal(again, input) {
			t.Fatalf("padding accepted but not canonical: %x", input)
		}
	})
}

func FuzzBase64AgreesWithEncodingBase64(f *testing.F) {
	plain := []byte(paymentBusiness)
	for _, s := range []string{"", "QQ==", "QR==", base64.StdEncoding.EncodeToString(plain), "\r\n" + base64.StdEncoding.EncodeToString(plain[:100])} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		checkBase64(t, text)
	})
}
