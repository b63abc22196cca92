package registry

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func FuzzParsePersons(f *testing.F) {
	var synthetic bytes.Buffer
	if err := WritePersons(&synthetic, Synthetic(1)[:12]); err != nil {
		f.Fatal(err)
	}
	f.Add(synthetic.Bytes())
	for _, seed := range []string{
		"",
		"\n\n",
		`{}`,
		`[]`,
		`{"name":"林小明","idcard":"35010219800315123x","cert_type":"01","region":"350100","insutype":"390","insu_stas":"1","family_id":"F1","hser_rlts":"0"}`,
		`{"name":"林小明","idcard":"E1","cert_type":"08","region":"350100","insutype":"310","insu_stas":"1","acct_balance":"0.5"}` + "\r\n",
		`{"name":"a","name":"b"}`,
		`{"insutype":310,"x":{"y":[1,{"z":null}]}}`,
		"\uFEFF{\"name\":\"\xff\"}",
		`{"name":"林小明"} {"name":"林小明"}`,
	} {
		f.Add([]byte(seed))
	}

	f.Fuzz(func(t *testing.T, input []byte) {
		records, err := ParsePersons(bytes.NewReader(input))
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %T is not a *ParseError: %v", err, err)
			}
			if records != nil {
				t.Fatalf("%d records returned with an error", len(records))
			}
			if len(pe.Errors) == 0 || len(pe.Errors) > MaxErrors {
				t.Fatalf("%d errors, want 1 to %d", len(pe.Errors), MaxErrors)
			}
			for _, le := range pe.Errors {
				if le.Line < 1 {
					t.Fatalf("error on line %d: %v", le.Line, le)
				}
				if strings.Contains(le.Error(), "\n") {
					t.Fatalf("error message spans lines: %q", le.Error())
				}
			}
			return
		}

		// Accepted records must pass validation again: written out and
		// read back, they come back unchanged, at their own line numbers.
		for i := range records {
			records[i].Line = i + 1
		}
		var b bytes.Buffer
		if err := WritePersons(&b, records); err != nil {
			t.Fatal(err)
		}
		again, err := ParsePersons(&b)
		if err != nil {
			t.Fatalf("accepted records fail validation when read again: %v", err)
		}
		if len(records) == 0 && len(again) == 0 {
			return
		}
		if !reflect.DeepEqual(again, records) {
			t.Fatalf("records read again differ:\n%+v\nwant\n%+v", again, records)
		}
	})
}
