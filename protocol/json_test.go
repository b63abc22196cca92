package protocol

import "testing"

func TestParseDuplicateNames(t *testing.T) {
	cases := map[string]string{
		"plain":          `{"a":1,"b":2,"a":3}`,
		"escaped first":  `{"\u0061":1,"a":2}`,
		"escaped second": `{"a":1,"\u0061":2}`,
		"both escaped":   `{"\u0061":1,"\u0061":2}`,
		"nested":         `{"x":[{"k":1,"k":2}]}`,
		"empty names":    `{"":1,"":2}`,
		"many members":   `{"m01":1,"m02":1,"m03":1,"m04":1,"m05":1,"m06":1,"m07":1,"m08":1,"m09":1,"m10":1,"m11":1,"m12":1,"m13":1,"m14":1,"m15":1,"m16":1,"m17":1,"m05":2}`,
	}
	for name, input := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := parseDocument([]byte(input)); err == nil {
				t.Errorf("parse accepts duplicate names in %s", input)
			}
		})
	}
	distinct := `{"ab":1,"ba":1,"aa":1,"a":1,"A":1,"\u0062":1,"m01":1,"m02":1,"m03":1,"m04":1,"m05":1,"m06":1,"m07":1,"m08":1,"m09":1,"m10":1,"m11":1}`
	if _, err := parseDocument([]byte(distinct)); err != nil {
		t.Errorf("parse rejects distinct names: %v", err)
	}
}
