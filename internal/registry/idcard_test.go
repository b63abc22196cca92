package registry

import (
	"strings"
	"testing"
	"time"
)

// idToday is the date the ID number tests run on.
var idToday = time.Date(2025, time.June, 30, 12, 0, 0, 0, time.UTC)

func TestValidateIDCardAccepts(t *testing.T) {
	tests := []struct {
		name     string
		certType string
		idcard   string
		want     string
	}{
		{"standard example", "01", "11010519491231002X", "11010519491231002X"},
		{"digit check", "01", "350102198003151248", "350102198003151248"},
		{"upper-case X", "01", "35010219800315123X", "35010219800315123X"},
		{"lower-case x stored upper", "01", "35010219800315123x", "35010219800315123X"},
		{"leap day", "01", "350128200002290012", "350128200002290012"},
		{"first day of 1900", "01", "350102190001010015", "350102190001010015"},
		{"born today", "01", "350102202506300013", "350102202506300013"},
		{"passport", "08", "E12345678", "E12345678"},
		{"lower case kept for others", "16", "e12345678", "e12345678"},
		{"permit with Chinese", "9901", "闽榕字2024001号", "闽榕字2024001号"},
		{"32 characters", "07", strings.Repeat("A", 32), strings.Repeat("A", 32)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := validateIDCard(tt.certType, tt.idcard, idToday)
			if err != nil {
				t.Fatalf("validateIDCard(%q, %q): %v", tt.certType, tt.idcard, err)
			}
			if got != tt.want {
				t.Errorf("validateIDCard(%q, %q) = %q, want %q", tt.certType, tt.idcard, got, tt.want)
			}
		})
	}
}

func TestValidateIDCardRejects(t *testing.T) {
	tests := []struct {
		name     string
		certType string
		idcard   string
		want     string
	}{
		{"check digit", "01", "350102198003151235", "check digit is X, not 5"},
		{"check digit X expected digit", "01", "35010219800315124X", "check digit is 8, not X"},
		{"17 characters", "01", "35010219800315124", "must be 18 characters, not 17"},
		{"19 characters", "01", "3501021980031512480", "must be 18 characters, not 19"},
		{"old 15 digits", "01", "350102800315124", "must be 18 characters, not 15"},
		{"letter inside", "01", "35010A198003151248", "character 6 must be a digit, not 'A'"},
		{"fullwidth digit", "01", "３50102198003151248", "character 1 must be a digit, not '３'"},
		{"space", "01", "350102 98003151248", "character 7 must be a digit, not ' '"},
		{"last character Y", "01", "35010219800315124Y", "character 18 must be a digit or X, not 'Y'"},
		{"February 30", "01", "350102198002301230", "birth date 19800230 is not a valid date"},
		{"no leap day 1900", "01", "350102190002290010", "birth date 19000229 is not a valid date"},
		{"month 13", "01", "350102198013011230", "birth date 19801301 is not a valid date"},
		{"before 1900", "01", "350102189912311230", "birth date 18991231 is before 1900"},
		{"tomorrow", "01", "350102202507010018", "birth date 20250701 is in the future"},
		{"empty", "01", "", "must not be empty"},
		{"empty passport", "08", "", "must not be empty"},
		{"invalid UTF-8", "08", "E123\xff", "is not valid UTF-8"},
		{"33 characters", "07", strings.Repeat("A", 33), "must be at most 32 characters, not 33"},
		{"inner space", "08", "E123 456", "character 5 is a space; ID numbers contain no spaces"},
		{"ideographic space", "08", "E123\u3000456", "character 5 is a space; ID numbers contain no spaces"},
		{"control character", "08", "E123\x01456", "character 5 (U+0001) is not printable"},
		{"unknown cert type", "99", "E12345678", `cert type "99" is not in the cert type table`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := validateIDCard(tt.certType, tt.idcard, idToday)
			if err == nil {
				t.Fatalf("validateIDCard(%q, %q) = %q, want an error", tt.certType, tt.idcard, got)
			}
			if err.Error() != tt.want {
				t.Errorf("error = %q, want %q", err, tt.want)
			}
		})
	}
}

// TestValidateIDCardUsesClock checks that the exported function compares
// birth dates with the real date.
func TestValidateIDCardUsesClock(t *testing.T) {
	if _, err := ValidateIDCard("01", "11010519491231002X"); err != nil {
		t.Errorf("ValidateIDCard of a 1949 birth date: %v", err)
	}
	if _, err := ValidateIDCard("01", "350102299901010010"); err == nil {
		t.Error("ValidateIDCard accepted a birth date in 2999")
	}
}

func TestCheckDigitEveryRemainder(t *testing.T) {
	// Each 17-digit prefix gives a different weighted sum mod 11, so every
	// check character appears once.
	tests := []struct {
		digits string
		want   byte
	}{
		{"00000000000000000", '1'}, // sum 0
		{"00000001000000000", '0'}, // weight 1: sum 1
		{"00000010000000000", 'X'}, // weight 2: sum 2
		{"00000000010000000", '9'}, // weight 3: sum 3
		{"00000100000000000", '8'}, // weight 4: sum 4
		{"00010000000000000", '7'}, // weight 5: sum 5
		{"00000000100000000", '6'}, // weight 6: sum 6
		{"10000000000000000", '5'}, // weight 7: sum 7
		{"00001000000000000", '4'}, // weight 8: sum 8
		{"01000000000000000", '3'}, // weight 9: sum 9
		{"00100000000000000", '2'}, // weight 10: sum 10
	}
	for _, tt := range tests {
		if got := checkDigit(tt.digits); got != tt.want {
			t.Errorf("checkDigit(%s) = %c, want %c", tt.digits, got, tt.want)
		}
	}
}
