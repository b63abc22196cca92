package protocol

import (
	"errors"
	"fmt"
	"strconv"
	"time"
)

// DefaultTimestampWindow is how far a message's timestamp may be from the
// receiver's clock, either way, inclusive.
const DefaultTimestampWindow = 600 * time.Second

// shanghai is Asia/Shanghai, fixed at UTC+8 (no daylight saving since 1991),
// so a machine without tzdata computes the same.
var shanghai = time.FixedZone("CST", 8*3600)

// Shanghai returns the zone the platform's dates and times are written in.
func Shanghai() *time.Location { return shanghai }

// ParseTimestamp parses a message timestamp as sent.
//
// fjs: Unix milliseconds, exactly 13 digits; a 10-digit value is rejected
// as seconds. hsa: yyyyMMddHHmmss or yyyyMMddHHmmssSSS in Asia/Shanghai, or
// Unix seconds (10 digits) or milliseconds (13 digits).
func (p Profile) ParseTimestamp(text string) (time.Time, error) {
	for i := 0; i < len(text); i++ {
		if text[i] < '0' || text[i] > '9' {
			return time.Time{}, fmt.Errorf("timestamp %q is not all digits", text)
		}
	}
	switch {
	case len(text) == 13:
		ms, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			return time.Time{}, err
		}
		return time.UnixMilli(ms), nil
	case p == ProfileFJS && len(text) == 10:
		return time.Time{}, fmt.Errorf("timestamp %q looks like seconds; send Unix milliseconds", text)
	case p == ProfileFJS:
		return time.Time{}, fmt.Errorf("timestamp %q is not 13 digits of Unix milliseconds", text)
	case len(text) == 10:
		s, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			return time.Time{}, err
		}
		return time.Unix(s, 0), nil
	case len(text) == 14:
		return time.ParseInLocation("20060102150405", text, shanghai)
	case len(text) == 17:
		return time.ParseInLocation("20060102150405.000", text[:14]+"."+text[14:], shanghai)
	}
	return time.Time{}, fmt.Errorf("timestamp %q has %d digits; want 10, 13, 14 or 17", text, len(text))
}

// FormatTimestamp writes t as profile p sends it: Unix milliseconds for fjs,
// yyyyMMddHHmmssSSS in Asia/Shanghai for hsa.
func (p Profile) FormatTimestamp(t time.Time) string {
	if p == ProfileHSA {
		s := t.In(shanghai).Format("20060102150405.000")
		return s[:14] + s[15:]
	}
	return strconv.FormatInt(t.UnixMilli(), 10)
}

// CheckTimestamp returns a CodeBadTimestamp error unless text parses and
// lies within window of now, either way; exactly window apart is accepted.
func (p Profile) CheckTimestamp(text string, now time.Time, window time.Duration) error {
	if text == "" {
		return Wrap(CodeBadTimestamp, errors.New("timestamp is empty"))
	}
	t, err := p.ParseTimestamp(text)
	if err != nil {
		return Wrap(CodeBadTimestamp, err)
	}
	skew := now.Sub(t)
	if skew > window || skew < -window {
		return Wrap(CodeBadTimestamp, fmt.Errorf("timestamp %s is %v from the server clock, outside ±%v", text, skew.Round(time.Millisecond), window))
	}
	return nil
}
