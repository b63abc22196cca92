package registry

import (
	"errors"
	"fmt"
	"time"
	"unicode"
	"unicode/utf8"

	"chsgate/internal/textcut"
	"chsgate/protocol"
)

// maxOtherIDLength is the longest ID number accepted for cert types other
// than 01. Passports and permits are far shorter, so the limit only stops
// a pasted paragraph.
const maxOtherIDLength = 32

// idWeights are the weights of the first 17 digits of a mainland ID number
// in the check digit of GB 11643-1999 (2^(18-i) mod 11 for position i).
var idWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}

// idCheckChars maps the weighted sum mod 11 to the check character.
const idCheckChars = "10X98765432"

// ValidateIDCard checks an ID number of the given cert type and returns it
// as stored. For cert type 01 the number is the 18-character mainland ID
// number of GB 11643-1999: 17 digits with a real birth date in positions 7
// to 14, then the check character. A lower-case x is accepted and stored as
// X. For other cert types the number must be non-empty, printable, free of
// spaces and at most 32 characters long, and is stored as given. The
// error message describes the fault without repeating the number, so
// callers can add the number or mask it.
func ValidateIDCard(certType, idcard string) (string, error) {
	return validateIDCard(certType, idcard, time.Now().In(protocol.Shanghai()))
}

// validateIDCard is ValidateIDCard with today's date given, so tests can
// check the future-date rule without depending on the clock.
func validateIDCard(certType, idcard string, today time.Time) (string, error) {
	if !CertTypes().Contains(certType) {
		return "", fmt.Errorf("cert type %s is not in the cert type table", textcut.Quote(certType, 40))
	}
	if idcard == "" {
		return "", errors.New("must not be empty")
	}
	if !utf8.ValidString(idcard) {
		return "", errors.New("is not valid UTF-8")
	}
	if certType == CertTypeResidentID {
		return validateResidentID(idcard, today)
	}

	if n := utf8.RuneCountInString(idcard); n > maxOtherIDLength {
		return "", fmt.Errorf("must be at most %d characters, not %d", maxOtherIDLength, n)
	}
	position := 0
	for _, r := range idcard {
		position++
		if unicode.IsSpace(r) {
			return "", fmt.Errorf("character %d is a space; ID numbers contain no spaces", position)
		}
		if !unicode.IsPrint(r) {
			return "", fmt.Errorf("character %d (%U) is not printable", position, r)
		}
	}
	return idcard, nil
}

// validateResidentID checks an 18-character mainland ID number and returns
// it with an upper-case check character.
func validateResidentID(idcard string, today time.Time) (string, error) {
	runes := []rune(idcard)
	if len(runes) != 18 {
		return "", fmt.Errorf("must be 18 characters, not %d", len(runes))
	}
	for i, r := range runes[:17] {
		if r < '0' || r > '9' {
			return "", fmt.Errorf("character %d must be a digit, not %q", i+1, r)
		}
	}
	last := runes[17]
	if last == 'x' {
		last = 'X'
	}
	if (last < '0' || last > '9') && last != 'X' {
		return "", fmt.Errorf("character 18 must be a digit or X, not %q", runes[17])
	}
	// Every character is ASCII from here on, so bytes and characters agree.

	if err := checkBirthDate(idcard[6:14], today); err != nil {
		return "", err
	}

	want := checkDigit(idcard[:17])
	if byte(last) != want {
		return "", fmt.Errorf("check digit is %c, not %c", want, last)
	}
	return idcard[:17] + string(last), nil
}

// checkDigit returns the GB 11643-1999 check character of 17 ASCII digits.
func checkDigit(digits string) byte {
	sum := 0
	for i := 0; i < 17; i++ {
		sum += int(digits[i]-'0') * idWeights[i]
	}
	return idCheckChars[sum%11]
}

// checkBirthDate checks the yyyyMMdd birth date of an ID number: a real
// calendar date from 1900 up to today.
func checkBirthDate(yyyymmdd string, today time.Time) error {
	birth, err := time.Parse("20060102", yyyymmdd)
	if err != nil {
		return fmt.Errorf("birth date %s is not a valid date", yyyymmdd)
	}
	if birth.Year() < 1900 {
		return fmt.Errorf("birth date %s is before 1900", yyyymmdd)
	}
	if yyyymmdd > today.Format("20060102") {
		return fmt.Errorf("birth date %s is in the future", yyyymmdd)
	}
	return nil
}
