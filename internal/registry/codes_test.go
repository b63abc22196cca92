package registry

import (
	"strconv"
	"testing"
)

func TestTableNames(t *testing.T) {
	tests := []struct {
		name  string
		table Table
		code  string
		want  string
	}{
		{"resident ID card", CertTypes(), "01", "居民身份证（户口簿）"},
		{"residence permit", CertTypes(), "17", "港澳台居民居住证"},
		{"temporary residence", CertTypes(), "9901", "暂住证"},
		{"Fuzhou", Regions(), "350100", "福州市"},
		{"Ningde", Regions(), "350900", "宁德市"},
		{"Pingtan", Regions(), "350128", "平潭实验区"},
		{"head", Relations(), "0", "户主"},
		{"spouse", Relations(), "1", "配偶"},
		{"son", Relations(), "6", "儿子"},
		{"daughter-in-law", Relations(), "21", "儿媳"},
		{"employee", InsuTypes(), "310", "职工基本医疗保险"},
		{"resident", InsuTypes(), "390", "城乡居民基本医疗保险"},
		{"normal", InsuStatuses(), "1", "正常参保"},
		{"suspended", InsuStatuses(), "2", "暂停参保"},
		{"terminated", InsuStatuses(), "4", "终止参保"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := tt.table.Name(tt.code)
			if !ok {
				t.Fatalf("Name(%q) not found", tt.code)
			}
			if got != tt.want {
				t.Errorf("Name(%q) = %q, want %q", tt.code, got, tt.want)
			}
		})
	}
}

func TestTableRejectsUnknownCodes(t *testing.T) {
	tests := []struct {
		name  string
		table Table
		code  string
	}{
		{"cert type 18", CertTypes(), "18"},
		{"cert type without zero", CertTypes(), "1"},
		{"province code", Regions(), "350000"},
		{"Fuzhou district", Regions(), "350102"},
		{"relation 22", Relations(), "22"},
		{"relation with zero", Relations(), "00"},
		{"insurance type 391", InsuTypes(), "391"},
		{"status 3", InsuStatuses(), "3"},
		{"empty", InsuStatuses(), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if name, ok := tt.table.Name(tt.code); ok {
				t.Errorf("Name(%q) = %q, want not found", tt.code, name)
			}
			if tt.table.Contains(tt.code) {
				t.Errorf("Contains(%q) = true", tt.code)
			}
		})
	}
}

func TestTableSizes(t *testing.T) {
	tests := []struct {
		name  string
		table Table
		want  int
	}{
		{"cert types", CertTypes(), 18},
		{"regions", Regions(), 10},
		{"relations", Relations(), 22},
		{"insurance types", InsuTypes(), 2},
		{"insured statuses", InsuStatuses(), 3},
	}
	for _, tt := range tests {
		if got := len(tt.table.Codes()); got != tt.want {
			t.Errorf("%s: %d codes, want %d", tt.name, got, tt.want)
		}
	}
}

func TestRelationsInNumericOrder(t *testing.T) {
	for i, row := range Relations().Codes() {
		if want := strconv.Itoa(i); row.Code != want {
			t.Fatalf("row %d has code %q, want %q", i, row.Code, want)
		}
	}
}

func TestTableCodesIsACopy(t *testing.T) {
	rows := Regions().Codes()
	rows[0].Name = "changed"
	if got, _ := Regions().Name(rows[0].Code); got != "福州市" {
		t.Errorf("changing the copy changed the table: %q", got)
	}
}
