package protocol

import (
	"testing"
	"time"
)

// In Asia/Shanghai, testNow (1700000000000 ms) is 2023-11-15 06:13:20.

func TestCheckTimestampFJS(t *testing.T) {
	tests := []struct {
		name string
		text string
		ok   bool
	}{
		{"now", "1700000000000", true},
		{"window old", "1699999400000", true},
		{"window ahead", "1700000600000", true},
		{"one ms too old", "1699999399999", false},
		{"one ms too far ahead", "1700000600001", false},
		{"seconds", "1700000000", false},
		{"12 digits", "170000000000", false},
		{"14 digits", "17000000000000", false},
		{"hsa layout", "20231115061320", false},
		{"hsa layout ms", "20231115061320000", false},
		{"empty", "", false},
		{"garbage", "abc", false},
		{"negative", "-1700000000000", false},
		{"plus sign", "+1700000000000", false},
		{"leading space", " 1700000000000", false},
		{"trailing space", "1700000000000 ", false},
		{"exponent", "1.7e12", false},
		{"fraction", "1700000000000.0", false},
		{"hex", "0x18BCFE56800", false},
		{"fullwidth digits", "１７００００００００００００", false},
		{"zero", "0000000000000", false},
		{"max", "9999999999999", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ProfileFJS.CheckTimestamp(tt.text, testNow, DefaultTimestampWindow)
			if tt.ok {
				if err != nil {
					t.Errorf("CheckTimestamp(%q) = %v, want nil", tt.text, err)
				}
				return
			}
			wantCode(t, err, CodeBadTimestamp)
		})
	}
}

func TestCheckTimestampHSA(t *testing.T) {
	tests := []struct {
		name string
		text string
		ok   bool
	}{
		{"seconds", "1700000000", true},
		{"seconds window old", "1699999400", true},
		{"seconds window ahead", "1700000600", true},
		{"seconds too old", "1699999399", false},
		{"seconds too far ahead", "1700000601", false},
		{"ms", "1700000000000", true},
		{"ms too old", "1699999399999", false},
		{"ms too far ahead", "1700000600001", false},
		{"layout", "20231115061320", true},
		{"layout window old", "20231115060320", true},
		{"layout window ahead", "20231115062320", true},
		{"layout too old", "20231115060319", false},
		{"layout too far ahead", "20231115062321", false},
		{"layout read as utc", "20231114221320", false},
		{"layout ms", "20231115061320000", true},
		{"layout ms window old", "20231115060320000", true},
		{"layout ms window ahead", "20231115062320000", true},
		{"layout ms too old", "20231115060319999", false},
		{"layout ms too far ahead", "20231115062320001", false},
		{"invalid day", "20231132061320", false},
		{"invalid second", "20231115061360", false},
		{"12 digits", "202311150613", false},
		{"15 digits", "202311150613200", false},
		{"16 digits", "2023111506132000", false},
		{"separators", "2023-11-15 06:13:20", false},
		{"empty", "", false},
		{"negative", "-1700000000", false},
		{"garbage", "now", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ProfileHSA.CheckTimestamp(tt.text, testNow, DefaultTimestampWindow)
			if tt.ok {
				if err != nil {
					t.Errorf("CheckTimestamp(%q) = %v, want nil", tt.text, err)
				}
				return
			}
			wantCode(t, err, CodeBadTimestamp)
		})
	}
}

// TestCheckTimestampClockInZone gives now in another zone: only the instant
// counts.
func TestCheckTimestampClockInZone(t *testing.T) {
	now := testNow.In(time.FixedZone("UTC-5", -5*3600))
	if err := ProfileHSA.CheckTimestamp("20231115061320", now, DefaultTimestampWindow); err != nil {
		t.Errorf("hsa: %v", err)
	}
	if err := ProfileFJS.CheckTimestamp("1700000000000", now, DefaultTimestampWindow); err != nil {
		t.Errorf("fjs: %v", err)
	}
}

func TestCheckTimestampWindow(t *testing.T) {
	if DefaultTimestampWindow != 600*time.Second {
		t.Errorf("DefaultTimestampWindow = %v, want 10m0s", DefaultTimestampWindow)
	}
	if err := ProfileFJS.CheckTimestamp("1700000060000", testNow, time.Minute); err != nil {
		t.Errorf("one minute ahead in a one-minute window: %v", err)
	}
	wantCode(t, ProfileFJS.CheckTimestamp("1700000060001", testNow, time.Minute), CodeBadTimestamp)
}

func TestParseTimestamp(t *testing.T) {
	tests := []struct {
		name    string
		profile Profile
		text    string
		want    time.Time
	}{
		{"fjs ms", ProfileFJS, "1631685457000", time.Date(2021, 9, 15, 5, 57, 37, 0, time.UTC)},
		{"hsa ms", ProfileHSA, "1631685457123", time.Date(2021, 9, 15, 5, 57, 37, 123e6, time.UTC)},
		{"hsa seconds", ProfileHSA, "1631685457", time.Date(2021, 9, 15, 5, 57, 37, 0, time.UTC)},
		{"hsa layout", ProfileHSA, "20200207175759", time.Date(2020, 2, 7, 9, 57, 59, 0, time.UTC)},
		{"hsa layout ms", ProfileHSA, "20200207175759123", time.Date(2020, 2, 7, 9, 57, 59, 123e6, time.UTC)},
		{"hsa new year", ProfileHSA, "20240101070000", time.Date(2023, 12, 31, 23, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.profile.ParseTimestamp(tt.text)
			if err != nil {
				t.Fatalf("ParseTimestamp(%q): %v", tt.text, err)
			}
			if !got.Equal(tt.want) {
				t.Errorf("ParseTimestamp(%q) = %v, want %v", tt.text, got.UTC(), tt.want)
			}
		})
	}
}

func TestFormatTimestamp(t *testing.T) {
	at := time.Date(2020, 2, 7, 9, 57, 59, 123456789, time.UTC)
	if got := ProfileFJS.FormatTimestamp(at); got != "1581069479123" {
		t.Errorf("fjs = %q, want 1581069479123", got)
	}
	if got := ProfileHSA.FormatTimestamp(at); got != "20200207175759123" {
		t.Errorf("hsa = %q, want 20200207175759123", got)
	}
	for _, p := range allProfiles {
		back, err := p.ParseTimestamp(p.FormatTimestamp(at))
		if err != nil {
			t.Fatalf("%s: parse the formatted timestamp: %v", p, err)
		}
		if want := at.Truncate(time.Millisecond); !back.Equal(want) {
			t.Errorf("%s: round trip = %v, want %v", p, back.UTC(), want)
		}
	}
}

// TestTimestampForms decodes the timestamp sent as a JSON number and as a
// string. Both forms give the same text to check.
func TestTimestampForms(t *testing.T) {
	tests := []struct {
		name    string
		profile Profile
		base    string
		field   string
		value   string
		want    string
	}{
		{"fjs string", ProfileFJS, fjsBody, FieldFJSTimestamp, `"1700000000000"`, "1700000000000"},
		{"fjs number", ProfileFJS, fjsBody, FieldFJSTimestamp, `1700000000000`, "1700000000000"},
		{"hsa layout string", ProfileHSA, hsaBody, FieldHSATimestamp, `"20231115061320"`, "20231115061320"},
		{"hsa layout number", ProfileHSA, hsaBody, FieldHSATimestamp, `20231115061320`, "20231115061320"},
		{"hsa seconds number", ProfileHSA, hsaBody, FieldHSATimestamp, `1700000000`, "1700000000"},
		{"hsa ms string", ProfileHSA, hsaBody, FieldHSATimestamp, `"1700000000000"`, "1700000000000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, err := tt.profile.DecodeRequest(withField(t, []byte(tt.base), tt.field, tt.value))
			if err != nil {
				t.Fatal(err)
			}
			if env.Timestamp != tt.want {
				t.Errorf("Timestamp = %q, want %q", env.Timestamp, tt.want)
			}
			if err := tt.profile.CheckTimestamp(env.Timestamp, testNow, DefaultTimestampWindow); err != nil {
				t.Errorf("CheckTimestamp: %v", err)
			}
		})
	}
}

// TestTimestampNumberForms sends numbers whose text is not plain digits.
// CheckTimestamp rejects them.
func TestTimestampNumberForms(t *testing.T) {
	for _, value := range []string{`1.7e12`, `1700000000000.0`, `-1700000000000`} {
		t.Run(value, func(t *testing.T) {
			env, err := ProfileFJS.DecodeRequest(withField(t, []byte(fjsBody), FieldFJSTimestamp, value))
			if err != nil {
				t.Fatal(err)
			}
			wantCode(t, ProfileFJS.CheckTimestamp(env.Timestamp, testNow, DefaultTimestampWindow), CodeBadTimestamp)
		})
	}
}
