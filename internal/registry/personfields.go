package registry

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"chsgate/internal/money"
	"chsgate/internal/store"
)

// lineCheck is the state of checking the fields of one line.
type lineCheck struct {
	p      *personParser
	line   int
	fields lineFields
}

func (c *lineCheck) fail(field, value, reason string) {
	c.p.addError(c.line, field, value, reason)
}

// required returns a field's value and true, or reports the field as
// missing or empty and returns false. A field whose type error is already
// reported returns false without another report.
func (c *lineCheck) required(field string) (string, bool) {
	if c.fields.reported[field] {
		return "", false
	}
	value, present := c.fields.values[field]
	switch {
	case !present:
		c.fail(field, "", "required field is missing")
		return "", false
	case value == "":
		c.fail(field, "", "must not be empty")
		return "", false
	}
	return value, true
}

// optional returns a field's value, or "" when it is absent, empty or
// already reported. The import format treats an empty optional field as
// absent.
func (c *lineCheck) optional(field string) string {
	return c.fields.values[field]
}

// buildRecord checks the fields of one line and returns its record. The
// record is complete only when no error was added.
func (p *personParser) buildRecord(fields lineFields) store.PersonRecord {
	c := &lineCheck{p: p, line: p.line, fields: fields}
	rec := store.PersonRecord{Line: p.line}

	if name, ok := c.required(fieldName); ok {
		if reason := checkText(name, maxNameLength, true); reason != "" {
			c.fail(fieldName, name, reason)
		}
		rec.Name = name
	}

	certType, certOK := c.required(fieldCertType)
	if certOK && !CertTypes().Contains(certType) {
		c.fail(fieldCertType, certType, "unknown cert type; use a code of the cert type table, such as \"01\" for a mainland ID card")
		certOK = false
	}
	rec.CertType = certType

	// The rules for an ID number depend on the cert type, so a number with
	// a wrong cert type is not checked further.
	if idcard, ok := c.required(fieldIDCard); ok && certOK {
		normalized, err := ValidateIDCard(certType, idcard)
		if err != nil {
			c.fail(fieldIDCard, idcard, err.Error())
		} else {
			rec.IDCard = normalized
			p.checkDuplicateID(c.line, normalized)
		}
	}

	if phone := c.optional(fieldPhone); phone != "" {
		if reason := checkPhone(phone); reason != "" {
			c.fail(fieldPhone, phone, reason)
		}
		rec.Phone = phone
	}

	if region, ok := c.required(fieldRegion); ok {
		if !Regions().Contains(region) {
			c.fail(fieldRegion, region, "unknown region; use a 6-digit Fujian region code such as \"350100\" for 福州市")
		}
		rec.Region = region
	}

	insuType, insuTypeOK := c.required(fieldInsuType)
	if insuTypeOK && !InsuTypes().Contains(insuType) {
		c.fail(fieldInsuType, insuType, "unknown insurance type; use \"310\" (employee) or \"390\" (resident)")
		insuTypeOK = false
	}
	rec.InsuType = insuType

	if status, ok := c.required(fieldInsuStatus); ok {
		if !InsuStatuses().Contains(status) {
			c.fail(fieldInsuStatus, status, "unknown insured status; use \"1\" (normal), \"2\" (suspended) or \"4\" (terminated)")
		}
		rec.InsuStatus = status
	}

	if company := c.optional(fieldCompanyName); company != "" {
		if reason := checkText(company, maxCompanyNameLength, true); reason != "" {
			c.fail(fieldCompanyName, company, reason)
		}
		rec.CompanyName = company
	}

	switch {
	case !insuTypeOK:
		// Whether a balance belongs here depends on the insurance type, so
		// only its format is checked.
		if balance := c.optional(fieldBalance); balance != "" {
			c.parseBalance(&rec, balance)
		}
	case insuType == InsuTypeEmployee:
		const need = "employees (insutype \"310\") need their personal account balance, such as \"0.00\""
		_, present := fields.values[fieldBalance]
		balance := c.optional(fieldBalance)
		switch {
		case fields.reported[fieldBalance]:
		case !present:
			c.fail(fieldBalance, "", "required field is missing; "+need)
		case balance == "":
			c.fail(fieldBalance, "", "must not be empty; "+need)
		default:
			c.parseBalance(&rec, balance)
		}
	default:
		if balance := c.optional(fieldBalance); balance != "" {
			c.fail(fieldBalance, balance, "only employees (insutype \"310\") have a personal account; remove the field")
		}
	}

	c.parseFamily(&rec)
	return rec
}

// parseBalance sets rec's personal account to a balance in yuan.
func (c *lineCheck) parseBalance(rec *store.PersonRecord, balance string) {
	fen, err := money.ParseYuan(balance, money.NonNegative)
	if err != nil {
		var pe *money.ParseError
		if errors.As(err, &pe) {
			c.fail(fieldBalance, balance, "invalid amount: "+pe.Reason)
		} else {
			c.fail(fieldBalance, balance, err.Error())
		}
		return
	}
	rec.Balance = fen
	rec.HasAccount = true
}

// parseFamily sets the family network of rec. hser_rlts is required with a
// family_id and ignored without one, as the import format defines.
func (c *lineCheck) parseFamily(rec *store.PersonRecord) {
	familyID := c.optional(fieldFamilyID)
	if familyID == "" {
		return
	}
	if reason := checkText(familyID, maxFamilyIDLength, false); reason != "" {
		c.fail(fieldFamilyID, familyID, reason)
		return
	}
	rec.FamilyID = familyID

	const need = "a person with a family_id needs the relationship to the head, \"0\" for the head"
	relation, present := c.fields.values[fieldRelation]
	switch {
	case c.fields.reported[fieldRelation]:
		relation = ""
	case !present:
		c.fail(fieldRelation, "", "required field is missing; "+need)
		relation = ""
	case relation == "":
		c.fail(fieldRelation, "", "must not be empty; "+need)
	case !Relations().Contains(relation):
		c.fail(fieldRelation, relation, "unknown relationship code; use \"0\" to \"21\" of the relationship table, \"0\" for the head")
		relation = ""
	default:
		rec.Relation = relation
	}
	c.p.addFamilyLine(c.line, familyID, relation)
}

// checkText checks a free-text field and returns what is wrong, or "".
// Leading and trailing spaces are rejected because they make equal values
// look different. Spaces inside are allowed only when inner is true.
func checkText(s string, maxLength int, inner bool) string {
	if n := utf8.RuneCountInString(s); n > maxLength {
		return fmt.Sprintf("must be at most %d characters, not %d", maxLength, n)
	}
	if strings.TrimSpace(s) != s {
		return "has leading or trailing spaces"
	}
	position := 0
	for _, r := range s {
		position++
		switch {
		case r == ' ' && inner:
		case unicode.IsSpace(r):
			return fmt.Sprintf("character %d is a space, which this field must not contain", position)
		case !unicode.IsPrint(r):
			return fmt.Sprintf("character %d (%U) is not printable", position, r)
		}
	}
	return ""
}

// checkPhone checks a mainland mobile number and returns what is wrong, or
// "". The number receives the account-movement messages, so it must be a
// mobile number: 11 digits starting 13 to 19.
func checkPhone(phone string) string {
	if len(phone) != 11 || utf8.RuneCountInString(phone) != 11 {
		return fmt.Sprintf("must be an 11-digit mobile number, not %d characters", utf8.RuneCountInString(phone))
	}
	for i := 0; i < len(phone); i++ {
		if phone[i] < '0' || phone[i] > '9' {
			return fmt.Sprintf("character %d must be a digit, not %q", i+1, phone[i])
		}
	}
	if phone[0] != '1' || phone[1] < '3' {
		return "must be a mobile number starting 13 to 19"
	}
	return ""
}
