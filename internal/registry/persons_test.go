package registry

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"

	"chsgate/internal/money"
	"chsgate/internal/store"
)

// Valid ID numbers for the tests, with their check digits.
const (
	idA = "350102198003151248"
	idB = "350203199001010018"
	idC = "35010219800315123X"
	idD = "350128200002290012"
)

// personLineJSON returns a valid employee line with ID number idA, with
// fields changed by set (a nil value deletes the field). Values are
// written as given, so a test can put a number where a string belongs.
func personLineJSON(t *testing.T, set map[string]any) string {
	t.Helper()
	fields := map[string]any{
		"name":         "林小明",
		"idcard":       idA,
		"cert_type":    "01",
		"phone":        "13812345678",
		"region":       "350100",
		"insutype":     "310",
		"insu_stas":    "1",
		"acct_balance": "1234.50",
	}
	for k, v := range set {
		if v == nil {
			delete(fields, k)
		} else {
			fields[k] = v
		}
	}
	b, err := json.Marshal(fields)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// parseError parses input and returns its *ParseError, failing the test
// when the input is accepted.
func parseError(t *testing.T, input string) *ParseError {
	t.Helper()
	records, err := ParsePersons(strings.NewReader(input))
	if err == nil {
		t.Fatalf("ParsePersons accepted %d records, want an error", len(records))
	}
	if records != nil {
		t.Errorf("ParsePersons returned %d records with its error", len(records))
	}
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("error %T (%v) is not a *ParseError", err, err)
	}
	return pe
}

func TestParsePersonsEmployee(t *testing.T) {
	input := personLineJSON(t, map[string]any{"company_name": "福州某某科技有限公司"}) + "\n"
	records, err := ParsePersons(strings.NewReader(input))
	if err != nil {
		t.Fatal(err)
	}
	want := []store.PersonRecord{{
		Line:        1,
		Name:        "林小明",
		IDCard:      idA,
		CertType:    "01",
		Phone:       "13812345678",
		Region:      "350100",
		InsuType:    "310",
		InsuStatus:  "1",
		CompanyName: "福州某某科技有限公司",
		Balance:     123450,
		HasAccount:  true,
	}}
	if !reflect.DeepEqual(records, want) {
		t.Errorf("records = %+v\nwant      %+v", records, want)
	}
}

func TestParsePersonsResident(t *testing.T) {
	input := personLineJSON(t, map[string]any{
		"insutype": "390", "acct_balance": nil, "company_name": "鼓楼区东街街道",
		"family_id": "F001", "hser_rlts": "0",
	})
	records, err := ParsePersons(strings.NewReader(input))
	if err != nil {
		t.Fatal(err)
	}
	want := []store.PersonRecord{{
		Line:        1,
		Name:        "林小明",
		IDCard:      idA,
		CertType:    "01",
		Phone:       "13812345678",
		Region:      "350100",
		InsuType:    "390",
		InsuStatus:  "1",
		CompanyName: "鼓楼区东街街道",
		FamilyID:    "F001",
		Relation:    "0",
	}}
	if !reflect.DeepEqual(records, want) {
		t.Errorf("records = %+v\nwant      %+v", records, want)
	}
}

// TestParsePersonsNormalizes covers inputs that are accepted in a form
// other than the stored one.
func TestParsePersonsNormalizes(t *testing.T) {
	tests := []struct {
		name  string
		set   map[string]any
		check func(t *testing.T, r store.PersonRecord)
	}{
		{"lower-case x", map[string]any{"idcard": "35010219800315123x"}, func(t *testing.T, r store.PersonRecord) {
			if r.IDCard != idC {
				t.Errorf("IDCard = %q, want %q", r.IDCard, idC)
			}
		}},
		{"relation without family cleared", map[string]any{"hser_rlts": "6"}, func(t *testing.T, r store.PersonRecord) {
			if r.Relation != "" {
				t.Errorf("Relation = %q, want empty", r.Relation)
			}
		}},
		{"invalid relation without family ignored", map[string]any{"hser_rlts": "99", "family_id": ""}, func(t *testing.T, r store.PersonRecord) {
			if r.Relation != "" {
				t.Errorf("Relation = %q, want empty", r.Relation)
			}
		}},
		{"empty balance of resident", map[string]any{"insutype": "390", "acct_balance": ""}, func(t *testing.T, r store.PersonRecord) {
			if r.HasAccount {
				t.Error("HasAccount = true for a resident")
			}
		}},
		{"no phone", map[string]any{"phone": nil}, func(t *testing.T, r store.PersonRecord) {
			if r.Phone != "" {
				t.Errorf("Phone = %q, want empty", r.Phone)
			}
		}},
		{"zero balance", map[string]any{"acct_balance": "0"}, func(t *testing.T, r store.PersonRecord) {
			if !r.HasAccount {
				t.Error("HasAccount = false for an employee")
			}
			if r.Balance != 0 {
				t.Errorf("Balance = %d, want 0", r.Balance)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			records, err := ParsePersons(strings.NewReader(personLineJSON(t, tt.set)))
			if err != nil {
				t.Fatal(err)
			}
			if len(records) != 1 {
				t.Fatalf("%d records, want 1", len(records))
			}
			tt.check(t, records[0])
		})
	}
}

func TestParsePersonsLineNumbers(t *testing.T) {
	input := "\uFEFF" + personLineJSON(t, nil) + "\r\n" +
		"\n" +
		"   \t\r\n" +
		personLineJSON(t, map[string]any{"idcard": idB}) + "\r\n" +
		"\n" +
		personLineJSON(t, map[string]any{"idcard": idD}) // no final newline
	records, err := ParsePersons(strings.NewReader(input))
	if err != nil {
		t.Fatal(err)
	}
	var lines []int
	for _, r := range records {
		lines = append(lines, r.Line)
	}
	if want := []int{1, 4, 6}; !reflect.DeepEqual(lines, want) {
		t.Errorf("lines = %v, want %v", lines, want)
	}
}

func TestParsePersonsEmptyInput(t *testing.T) {
	for _, input := range []string{"", "\n\n", " \r\n"} {
		records, err := ParsePersons(strings.NewReader(input))
		if err != nil {
			t.Errorf("ParsePersons(%q): %v", input, err)
		}
		if len(records) != 0 {
			t.Errorf("ParsePersons(%q) = %d records, want 0", input, len(records))
		}
	}
}

func TestParsePersonsFieldErrors(t *testing.T) {
	tests := []struct {
		name string
		set  map[string]any
		want string
	}{
		{"check digit", map[string]any{"idcard": "350102198003151235"},
			`line 1: idcard "350102********1235": check digit is X, not 5`},
		{"idcard missing", map[string]any{"idcard": nil},
			`line 1: idcard: required field is missing`},
		{"idcard empty", map[string]any{"idcard": ""},
			`line 1: idcard: must not be empty`},
		{"birth date", map[string]any{"idcard": "350102198002301230"},
			`line 1: idcard "350102********1230": birth date 19800230 is not a valid date`},
		{"passport with space", map[string]any{"cert_type": "08", "idcard": "E123 456"},
			`line 1: idcard "E1****56": character 5 is a space; ID numbers contain no spaces`},
		{"name missing", map[string]any{"name": nil},
			`line 1: name: required field is missing`},
		{"name empty", map[string]any{"name": ""},
			`line 1: name: must not be empty`},
		{"name trailing space", map[string]any{"name": "林小明 "},
			`line 1: name "林***": has leading or trailing spaces`},
		{"name tab", map[string]any{"name": "林\t明"},
			`line 1: name "林**": character 2 is a space, which this field must not contain`},
		{"name too long", map[string]any{"name": strings.Repeat("林", 65)},
			`line 1: name "林` + strings.Repeat("*", 37) + `"…: must be at most 64 characters, not 65`},
		{"cert type unknown", map[string]any{"cert_type": "1"},
			`line 1: cert_type "1": unknown cert type; use a code of the cert type table, such as "01" for a mainland ID card`},
		{"cert type number", map[string]any{"cert_type": 1},
			`line 1: cert_type: must be a JSON string, not the number 1; quote it: "1"`},
		{"phone letters", map[string]any{"phone": "1381234567a"},
			`line 1: phone "138****567a": character 11 must be a digit, not 'a'`},
		{"phone short", map[string]any{"phone": "1381234567"},
			`line 1: phone "13******67": must be an 11-digit mobile number, not 10 characters`},
		{"phone landline", map[string]any{"phone": "05918765432"},
			`line 1: phone "059****5432": must be a mobile number starting 13 to 19`},
		{"phone 12x", map[string]any{"phone": "12812345678"},
			`line 1: phone "128****5678": must be a mobile number starting 13 to 19`},
		{"region district", map[string]any{"region": "350102"},
			`line 1: region "350102": unknown region; use a 6-digit Fujian region code such as "350100" for 福州市`},
		{"region missing", map[string]any{"region": nil},
			`line 1: region: required field is missing`},
		{"insutype number", map[string]any{"insutype": 310},
			`line 1: insutype: must be a JSON string, not the number 310; quote it: "310"`},
		{"insutype unknown", map[string]any{"insutype": "391"},
			`line 1: insutype "391": unknown insurance type; use "310" (employee) or "390" (resident)`},
		{"status unknown", map[string]any{"insu_stas": "3"},
			`line 1: insu_stas "3": unknown insured status; use "1" (normal), "2" (suspended) or "4" (terminated)`},
		{"status null", map[string]any{"insu_stas": json.RawMessage("null")},
			`line 1: insu_stas: must be a JSON string, not null`},
		{"status boolean", map[string]any{"insu_stas": true},
			`line 1: insu_stas: must be a JSON string, not true`},
		{"status array", map[string]any{"insu_stas": []string{"1"}},
			`line 1: insu_stas: must be a JSON string, not an array`},
		{"status object", map[string]any{"insu_stas": map[string]any{"code": []int{1}}},
			`line 1: insu_stas: must be a JSON string, not an object`},
		{"company control character", map[string]any{"company_name": "东街\u0007街道"},
			`line 1: company_name "东街\a街道": character 3 (U+0007) is not printable`},
		{"employee without balance", map[string]any{"acct_balance": nil},
			`line 1: acct_balance: required field is missing; employees (insutype "310") need their personal account balance, such as "0.00"`},
		{"employee empty balance", map[string]any{"acct_balance": ""},
			`line 1: acct_balance: must not be empty; employees (insutype "310") need their personal account balance, such as "0.00"`},
		{"balance number", map[string]any{"acct_balance": 12.5},
			`line 1: acct_balance: must be a JSON string, not the number 12.5; quote it: "12.5"`},
		{"balance three decimals", map[string]any{"acct_balance": "1.005"},
			`line 1: acct_balance "1.005": invalid amount: has more than two decimals`},
		{"balance negative", map[string]any{"acct_balance": "-1"},
			`line 1: acct_balance "-1": invalid amount: must not be negative`},
		{"balance exponent", map[string]any{"acct_balance": "1e3"},
			`line 1: acct_balance "1e3": invalid amount: unexpected character 'e'; use digits 0-9 and one '.'`},
		{"resident with balance", map[string]any{"insutype": "390"},
			`line 1: acct_balance "1234.50": only employees (insutype "310") have a personal account; remove the field`},
		{"family without relation", map[string]any{"family_id": "F001"},
			`line 1: hser_rlts: required field is missing; a person with a family_id needs the relationship to the head, "0" for the head`},
		{"family empty relation", map[string]any{"family_id": "F001", "hser_rlts": ""},
			`line 1: hser_rlts: must not be empty; a person with a family_id needs the relationship to the head, "0" for the head`},
		{"relation unknown", map[string]any{"family_id": "F001", "hser_rlts": "22"},
			`line 1: hser_rlts "22": unknown relationship code; use "0" to "21" of the relationship table, "0" for the head`},
		{"relation number", map[string]any{"family_id": "F001", "hser_rlts": 0},
			`line 1: hser_rlts: must be a JSON string, not the number 0; quote it: "0"`},
		{"relation number without family", map[string]any{"hser_rlts": 6},
			`line 1: hser_rlts: must be a JSON string, not the number 6; quote it: "6"`},
		{"family id space", map[string]any{"family_id": "F 001", "hser_rlts": "0"},
			`line 1: family_id "F 001": character 2 is a space, which this field must not contain`},
		{"unknown field", map[string]any{"acct_bal": "1.00"},
			`line 1: acct_bal: unknown field; the fields are name, idcard, cert_type, phone, region, insutype, insu_stas, company_name, acct_balance, family_id, hser_rlts`},
		{"field in other case", map[string]any{"Name": "林小明"},
			`line 1: Name: unknown field; the fields are name, idcard, cert_type, phone, region, insutype, insu_stas, company_name, acct_balance, family_id, hser_rlts`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pe := parseError(t, personLineJSON(t, tt.set))
			if len(pe.Errors) != 1 {
				t.Fatalf("%d errors, want 1:\n%v", len(pe.Errors), pe)
			}
			if got := pe.Errors[0].Error(); got != tt.want {
				t.Errorf("error = %s\nwant    %s", got, tt.want)
			}
		})
	}
}

func TestParsePersonsLineErrors(t *testing.T) {
	valid := personLineJSON(t, nil)
	tests := []struct {
		name  string
		input string
		want  string
	}{
		{"invalid JSON", `{"name":`, `line 1: invalid JSON: the line ends before the object is complete`},
		{"missing comma", `{"name":"a" "idcard":"b"}`, `line 1: invalid JSON: invalid character '"' after object key:value pair`},
		{"array", `["林小明"]`, `line 1: expected a JSON object, found an array`},
		{"string", `"林小明"`, `line 1: expected a JSON object, found a string`},
		{"number", `310`, `line 1: expected a JSON object, found the number 310; quote it: "310"`},
		{"two objects", valid + valid, `line 1: unexpected data after the JSON object; put one object on each line`},
		{"trailing text", valid + " x", `line 1: unexpected data after the JSON object; put one object on each line`},
		{"invalid UTF-8", `{"name":"` + "\xff" + `"}`, `line 1: line is not valid UTF-8`},
		{"duplicate field", strings.TrimSuffix(valid, "}") + `,"name":"林大明"}`, `line 1: name: field appears more than once`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pe := parseError(t, tt.input)
			if len(pe.Errors) != 1 {
				t.Fatalf("%d errors, want 1:\n%v", len(pe.Errors), pe)
			}
			if got := pe.Errors[0].Error(); got != tt.want {
				t.Errorf("error = %s\nwant    %s", got, tt.want)
			}
		})
	}
}

func TestParsePersonsSeveralErrorsOnOneLine(t *testing.T) {
	pe := parseError(t, `{}`)
	want := []string{
		"line 1: name: required field is missing",
		"line 1: cert_type: required field is missing",
		"line 1: idcard: required field is missing",
		"line 1: region: required field is missing",
		"line 1: insutype: required field is missing",
		"line 1: insu_stas: required field is missing",
	}
	var got []string
	for _, e := range pe.Errors {
		got = append(got, e.Error())
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("errors =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestParsePersonsDuplicateIDCard(t *testing.T) {
	input := personLineJSON(t, nil) + "\n" +
		personLineJSON(t, map[string]any{"idcard": idB}) + "\n" +
		personLineJSON(t, map[string]any{"idcard": idC}) + "\n" +
		personLineJSON(t, map[string]any{"idcard": "35010219800315123x"}) + "\n"
	pe := parseError(t, input)
	if len(pe.Errors) != 1 {
		t.Fatalf("%d errors, want 1:\n%v", len(pe.Errors), pe)
	}
	want := `line 4: idcard "350102********123X": duplicate ID number, also on line 3`
	if got := pe.Errors[0].Error(); got != want {
		t.Errorf("error = %s\nwant    %s", got, want)
	}
}

func TestParsePersonsFamilyHeads(t *testing.T) {
	member := func(id, familyID, relation string) string {
		return personLineJSON(t, map[string]any{"idcard": id, "family_id": familyID, "hser_rlts": relation}) + "\n"
	}
	tests := []struct {
		name  string
		input string
		want  []string
	}{
		{"no head",
			member(idA, "F1", "1") + member(idB, "F1", "6"),
			[]string{`line 1: family_id "F1": family has no head (hser_rlts "0") on lines 1, 2`}},
		{"single member no head",
			member(idA, "F1", "6"),
			[]string{`line 1: family_id "F1": family has no head (hser_rlts "0") on line 1`}},
		{"two heads",
			member(idA, "F1", "0") + member(idB, "F1", "1") + member(idC, "F1", "0"),
			[]string{`line 3: family_id "F1": family already has its head on line 1; a family has exactly one head`}},
		{"sorted by line",
			member(idA, "F1", "1") + member(idB, "F2", "0") + personLineJSON(t, map[string]any{"idcard": idC, "region": "1"}) + "\n",
			[]string{
				`line 1: family_id "F1": family has no head (hser_rlts "0") on line 1`,
				`line 3: region "1": unknown region; use a 6-digit Fujian region code such as "350100" for 福州市`,
			}},
		{"invalid relation not also headless",
			member(idA, "F1", "00") + member(idB, "F1", "1"),
			[]string{`line 1: hser_rlts "00": unknown relationship code; use "0" to "21" of the relationship table, "0" for the head`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pe := parseError(t, tt.input)
			var got []string
			for _, e := range pe.Errors {
				got = append(got, e.Error())
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("errors =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestParsePersonsFamilyAccepted(t *testing.T) {
	member := func(id, familyID, relation string) string {
		return personLineJSON(t, map[string]any{"idcard": id, "family_id": familyID, "hser_rlts": relation}) + "\n"
	}
	input := member(idA, "F1", "1") + member(idB, "F1", "0") + member(idC, "F2", "0") + member(idD, "F1", "7")
	records, err := ParsePersons(strings.NewReader(input))
	if err != nil {
		t.Fatal(err)
	}
	if len(records) != 4 {
		t.Fatalf("%d records, want 4", len(records))
	}
}

func TestParsePersonsLongLine(t *testing.T) {
	valid := personLineJSON(t, nil)
	// JSON allows spaces before the closing brace, which pads a valid line
	// to any length.
	padded := func(length int) string {
		return strings.TrimSuffix(valid, "}") + strings.Repeat(" ", length-len(valid)) + "}"
	}

	t.Run("at the limit", func(t *testing.T) {
		records, err := ParsePersons(strings.NewReader(padded(MaxLineBytes) + "\r\n"))
		if err != nil {
			t.Fatal(err)
		}
		if len(records) != 1 {
			t.Errorf("%d records, want 1", len(records))
		}
	})

	tests := []struct {
		name  string
		input string
	}{
		{"one byte over", padded(MaxLineBytes+1) + "\n"},
		{"one byte over at the end", padded(MaxLineBytes + 1)},
		{"megabyte", padded(1<<20) + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The line after the long one must still be read and checked.
			input := tt.input + personLineJSON(t, map[string]any{"region": "1"})
			pe := parseError(t, input)
			var got []string
			for _, e := range pe.Errors {
				got = append(got, e.Error())
			}
			want := []string{"line 1: line is longer than 65536 bytes"}
			if strings.HasSuffix(tt.input, "\n") {
				want = append(want, `line 2: region "1": unknown region; use a 6-digit Fujian region code such as "350100" for 福州市`)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("errors =\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
		})
	}
}

func TestParsePersonsStopsAtMaxErrors(t *testing.T) {
	var b strings.Builder
	for i := 0; i < MaxErrors+5; i++ {
		b.WriteString(`{"name":"林小明"` + "\n")
	}
	pe := parseError(t, b.String())
	if len(pe.Errors) != MaxErrors {
		t.Errorf("%d errors, want %d", len(pe.Errors), MaxErrors)
	}
	if !pe.Truncated {
		t.Error("Truncated = false")
	}
	if last := pe.Errors[len(pe.Errors)-1].Line; last != MaxErrors {
		t.Errorf("last error on line %d, want %d", last, MaxErrors)
	}
	if !strings.Contains(pe.Error(), "20 errors (stopped after 20; the file may have more)") {
		t.Errorf("message does not say it stopped:\n%s", pe.Error())
	}
}

func TestParsePersonsExactlyMaxErrorsNotTruncated(t *testing.T) {
	var b strings.Builder
	for i := 0; i < MaxErrors; i++ {
		b.WriteString(`[]` + "\n")
	}
	pe := parseError(t, b.String())
	if len(pe.Errors) != MaxErrors {
		t.Errorf("%d errors, want %d", len(pe.Errors), MaxErrors)
	}
	if pe.Truncated {
		t.Error("Truncated = true, but the file has no more errors")
	}
}

func TestParseErrorMessage(t *testing.T) {
	input := "[]\n" + personLineJSON(t, map[string]any{"region": "1"})
	pe := parseError(t, input)
	want := "invalid import: 2 errors\n" +
		"line 1: expected a JSON object, found an array\n" +
		`line 2: region "1": unknown region; use a 6-digit Fujian region code such as "350100" for 福州市`
	if got := pe.Error(); got != want {
		t.Errorf("Error() =\n%s\nwant\n%s", got, want)
	}
}

func TestParseErrorOneError(t *testing.T) {
	pe := parseError(t, "[]")
	want := "invalid import: 1 error\nline 1: expected a JSON object, found an array"
	if got := pe.Error(); got != want {
		t.Errorf("Error() =\n%s\nwant\n%s", got, want)
	}
}

func TestParseErrorIsInvalidImport(t *testing.T) {
	pe := parseError(t, "[]")
	if !errors.Is(pe, store.ErrInvalidImport) {
		t.Error("errors.Is(err, store.ErrInvalidImport) = false")
	}
	if errors.Is(pe, store.ErrNotFound) {
		t.Error("errors.Is(err, store.ErrNotFound) = true")
	}
	var le *LineError
	if !errors.As(pe, &le) {
		t.Fatal("errors.As(err, *LineError) = false")
	}
	if le.Line != 1 {
		t.Errorf("LineError.Line = %d, want 1", le.Line)
	}
}

func TestParsePersonsReadError(t *testing.T) {
	readErr := errors.New("disk on fire")
	r := io.MultiReader(strings.NewReader(personLineJSON(t, nil)+"\n"), iotest.ErrReader(readErr))
	records, err := ParsePersons(r)
	if !errors.Is(err, readErr) {
		t.Fatalf("error = %v, want the read error", err)
	}
	if records != nil {
		t.Errorf("%d records returned with a read error", len(records))
	}
	if want := "read line 2: disk on fire"; err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
}

func TestWritePersonsFormat(t *testing.T) {
	records := []store.PersonRecord{
		{Name: "林小明", IDCard: idA, CertType: "01", Phone: "13812345678", Region: "350100",
			InsuType: "310", InsuStatus: "1", Balance: 123450, HasAccount: true, FamilyID: "F1", Relation: "0"},
		{Name: "陈小红", IDCard: idB, CertType: "01", Region: "350200",
			InsuType: "390", InsuStatus: "2", CompanyName: "思明区中华街道<&>", Relation: "6"},
	}
	var b bytes.Buffer
	if err := WritePersons(&b, records); err != nil {
		t.Fatal(err)
	}
	want := `{"name":"林小明","idcard":"350102198003151248","cert_type":"01","phone":"13812345678","region":"350100","insutype":"310","insu_stas":"1","acct_balance":"1234.50","family_id":"F1","hser_rlts":"0"}` + "\n" +
		`{"name":"陈小红","idcard":"350203199001010018","cert_type":"01","region":"350200","insutype":"390","insu_stas":"2","company_name":"思明区中华街道<&>"}` + "\n"
	if got := b.String(); got != want {
		t.Errorf("output =\n%s\nwant\n%s", got, want)
	}
}

func TestWritePersonsRoundTrip(t *testing.T) {
	records := []store.PersonRecord{
		{Line: 1, Name: "林小明", IDCard: idA, CertType: "01", Phone: "13812345678", Region: "350100",
			InsuType: "310", InsuStatus: "1", Balance: 0, HasAccount: true, FamilyID: "F1", Relation: "0"},
		{Line: 2, Name: "陈小红", IDCard: idC, CertType: "01", Region: "350128",
			InsuType: "390", InsuStatus: "4", CompanyName: "平潭县潭城镇", FamilyID: "F1", Relation: "1"},
		{Line: 3, Name: "John Smith", IDCard: "E12345678", CertType: "08", Region: "350200",
			InsuType: "310", InsuStatus: "2", Balance: money.MaxFen, HasAccount: true},
	}
	var b bytes.Buffer
	if err := WritePersons(&b, records); err != nil {
		t.Fatal(err)
	}
	got, err := ParsePersons(&b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, records) {
		t.Errorf("read back =\n%+v\nwant\n%+v", got, records)
	}
}

func TestWritePersonsWriteError(t *testing.T) {
	records := Synthetic(1)
	writeErr := errors.New("disk full")
	err := WritePersons(&failingWriter{err: writeErr}, records)
	if !errors.Is(err, writeErr) {
		t.Errorf("error = %v, want the write error", err)
	}
}

// failingWriter fails every write.
type failingWriter struct{ err error }

func (w *failingWriter) Write([]byte) (int, error) { return 0, w.err }
