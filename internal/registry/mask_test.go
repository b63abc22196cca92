package registry

import "testing"

func TestMaskIDCard(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"mainland", "350102198003151234", "350102********1234"},
		{"check X", "35010219800315123X", "350102********123X"},
		{"14 characters", "12345678901234", "123456****1234"},
		{"13 characters short form", "1234567890123", "123*******123"},
		{"passport", "E12345678", "E1*****78"},
		{"four characters", "ABCD", "A**D"},
		{"three characters", "ABC", "***"},
		{"one character", "A", "*"},
		{"empty", "", ""},
		{"Chinese permit", "闽榕字2024001号", "闽榕*******1号"},
		{"invalid UTF-8", "\xff\xfe12345678901234567", "\uFFFD\uFFFD1234*********4567"},
		{"newline kept end", "350102198003151\n34", "350102********1*34"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MaskIDCard(tt.in); got != tt.want {
				t.Errorf("MaskIDCard(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestMaskName(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"three characters", "林小明", "林**"},
		{"two characters", "林明", "林*"},
		{"one character", "林", "*"},
		{"empty", "", ""},
		{"compound surname", "欧阳娜娜", "欧***"},
		{"Latin", "Anna", "A***"},
		{"leading newline", "\n林明", "***"},
		{"invalid UTF-8", "\xe6\x9e", "\uFFFD*"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MaskName(tt.in); got != tt.want {
				t.Errorf("MaskName(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestMaskPhone(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"mobile", "13812345678", "138****5678"},
		{"with country code", "+8613812345678", "+86*******5678"},
		{"landline", "0591876543", "05******43"},
		{"short", "12345", "1***5"},
		{"two digits", "12", "**"},
		{"empty", "", ""},
		{"fullwidth", "１３８１２３４５６７８", "１３８****５６７８"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MaskPhone(tt.in); got != tt.want {
				t.Errorf("MaskPhone(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
