package service

import (
	"errors"
	"testing"

	"chsgate/api"
	"chsgate/protocol"
)

// TestDecodePayloadTypeErrorPath checks that a mistyped field is named with
// its array indexes, as the other field errors name it.
func TestDecodePayloadTypeErrorPath(t *testing.T) {
	cases := []struct {
		payload string
		field   string
	}{
		{`{"userlist":[{"name":1}]}`, "userlist[0].name"},
		{`{"userlist":[{"name":"a","idcard":"1"},{"name":"b","cert_type":{"x":1}}]}`, "userlist[1].cert_type"},
		{`{"userlist":[{"name":"a"},{"name":"b"},{"idcard":true}]}`, "userlist[2].idcard"},
		{`{"userlist":{"name":"a"}}`, "userlist"},
	}
	for _, c := range cases {
		var request api.InsuredRequest
		err := decodePayload([]byte(c.payload), &request)
		if protocol.CodeOf(err) != protocol.CodeBadField {
			t.Errorf("%s: error %v, want code %d", c.payload, err, protocol.CodeBadField)
			continue
		}
		var pe *protocol.Error
		if !errors.As(err, &pe) || pe.Message != protocol.FormatMessage(protocol.CodeBadField, c.field) {
			t.Errorf("%s: error %v, want the field named %s", c.payload, err, c.field)
		}
	}
}
