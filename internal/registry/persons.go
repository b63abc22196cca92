package registry

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"unicode/utf8"

	"chsgate/internal/store"
)

// MaxLineBytes is the longest line of a person import file, without its
// line ending. A person's line is a few hundred bytes, so a longer line is
// a wrong file, and the limit bounds the memory one line takes.
const MaxLineBytes = 64 << 10

// MaxErrors is how many errors ParsePersons collects before it stops
// reading: enough to show a pattern, few enough to read.
const MaxErrors = 20

// Length limits of free-text fields, in characters.
//
// NOTE: the interface spec sets no lengths for these fields. The limits are
// the product's guess, generous for real names and street offices.
const (
	maxNameLength        = 64
	maxCompanyNameLength = 100
	maxFamilyIDLength    = 64
)

// Field names of a person line.
const (
	fieldName        = "name"
	fieldIDCard      = "idcard"
	fieldCertType    = "cert_type"
	fieldPhone       = "phone"
	fieldRegion      = "region"
	fieldInsuType    = "insutype"
	fieldInsuStatus  = "insu_stas"
	fieldCompanyName = "company_name"
	fieldBalance     = "acct_balance"
	fieldFamilyID    = "family_id"
	fieldRelation    = "hser_rlts"
)

// personFields lists the fields of a person line in the order WritePersons
// writes them.
var personFields = []string{
	fieldName, fieldIDCard, fieldCertType, fieldPhone, fieldRegion, fieldInsuType,
	fieldInsuStatus, fieldCompanyName, fieldBalance, fieldFamilyID, fieldRelation,
}

// ParsePersons reads a person import file: JSON Lines, one JSON object per
// line, with the fields of the person line format. Blank lines are skipped.
// It checks every field, that no ID number appears twice, and that every
// family_id has exactly one head (hser_rlts "0") among the file's lines.
// The store checks families again against the persons it already holds.
//
// Either every line is valid and all records are returned, or the error is
// a *ParseError with up to MaxErrors problems and no records, so a caller
// cannot store part of a file. A failure to read r is returned wrapped,
// with the number of the line being read.
func ParsePersons(r io.Reader) ([]store.PersonRecord, error) {
	p := &personParser{
		reader:    bufio.NewReaderSize(r, MaxLineBytes+2), // room for "\r\n"
		idLines:   make(map[string]int),
		familyIDs: make(map[string]*family),
	}
	if err := p.readLines(); err != nil {
		return nil, err
	}
	if len(p.errs) < MaxErrors {
		p.checkFamilies()
	}
	if len(p.errs) > 0 {
		slices.SortStableFunc(p.errs, func(a, b *LineError) int { return a.Line - b.Line })
		return nil, &ParseError{Errors: p.errs, Truncated: p.truncated}
	}
	return p.records, nil
}

// family collects the lines of one family_id, to check its head.
type family struct {
	id        string
	lines     []int // lines that name the family, in file order
	headLines []int // lines whose hser_rlts is "0"
	// invalidRelation is true when a line of the family has an invalid
	// hser_rlts, which is reported already.
	invalidRelation bool
}

// personParser is the state of one ParsePersons call.
type personParser struct {
	reader    *bufio.Reader
	line      int // number of the line being read
	records   []store.PersonRecord
	errs      []*LineError
	truncated bool
	idLines   map[string]int // line of each ID number seen
	families  []*family      // in order of first appearance
	familyIDs map[string]*family
}

// addError records a problem and reports whether there is room for more.
func (p *personParser) addError(line int, field, value, reason string) bool {
	if len(p.errs) >= MaxErrors {
		p.truncated = true
		return false
	}
	p.errs = append(p.errs, &LineError{Line: line, Field: field, Value: value, Reason: reason})
	return true
}

func (p *personParser) full() bool { return len(p.errs) >= MaxErrors }

// readLines reads and checks every line until the end of input or until
// MaxErrors errors are collected.
func (p *personParser) readLines() error {
	for !p.full() {
		line, err := p.reader.ReadSlice('\n')
		p.line++
		if errors.Is(err, bufio.ErrBufferFull) {
			if err := p.skipRestOfLine(); err != nil {
				return err
			}
			p.addError(p.line, "", "", fmt.Sprintf("line is longer than %d bytes", MaxLineBytes))
			continue
		}
		if err != nil && err != io.EOF {
			return fmt.Errorf("read line %d: %w", p.line, err)
		}
		if len(line) == 0 && err == io.EOF {
			return nil
		}

		line = bytes.TrimSuffix(line, []byte("\n"))
		line = bytes.TrimSuffix(line, []byte("\r"))
		if p.line == 1 {
			// Editors on Windows start UTF-8 files with a byte order mark.
			line = bytes.TrimPrefix(line, []byte("\uFEFF"))
		}
		if len(line) > MaxLineBytes {
			p.addError(p.line, "", "", fmt.Sprintf("line is longer than %d bytes", MaxLineBytes))
		} else if len(bytes.TrimSpace(line)) > 0 {
			p.parseLine(line)
		}
		if err == io.EOF {
			return nil
		}
	}
	if _, err := p.reader.Peek(1); err == nil {
		p.truncated = true
	}
	return nil
}

// skipRestOfLine discards input up to and including the next newline.
func (p *personParser) skipRestOfLine() error {
	for {
		_, err := p.reader.ReadSlice('\n')
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err == nil || err == io.EOF:
			return nil
		default:
			return fmt.Errorf("read line %d: %w", p.line, err)
		}
	}
}

// parseLine checks one non-blank line and keeps its record when it is
// valid. Its ID number and family take part in the file-wide checks even
// when another field is wrong, so a head's line with a bad phone number
// does not also make its family headless.
func (p *personParser) parseLine(line []byte) {
	errorsBefore := len(p.errs)
	fields, ok := p.decodeObject(line)
	if !ok {
		return
	}
	rec := p.buildRecord(fields)
	if len(p.errs) == errorsBefore && !p.truncated {
		p.records = append(p.records, rec)
	}
}

// lineFields are the fields of one line. A field with a reported type
// error, such as a number, is in reported and not in values, so the later
// checks neither report it as missing nor check it again.
type lineFields struct {
	values   map[string]string
	reported map[string]bool
}

// decodeObject decodes a line into its fields, each a JSON string. It
// reports unknown, repeated and non-string fields and reports whether the
// line was a JSON object that could be read to its end.
func (p *personParser) decodeObject(line []byte) (lineFields, bool) {
	fields := lineFields{values: make(map[string]string), reported: make(map[string]bool)}
	if !utf8.Valid(line) {
		p.addError(p.line, "", "", "line is not valid UTF-8")
		return fields, false
	}
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()

	tok, err := dec.Token()
	if err != nil {
		p.addError(p.line, "", "", invalidJSON(err))
		return fields, false
	}
	if tok != json.Delim('{') {
		p.addError(p.line, "", "", "expected a JSON object, found "+describeToken(tok))
		return fields, false
	}

	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			p.addError(p.line, "", "", invalidJSON(err))
			return fields, false
		}
		name := tok.(string) // json.Decoder returns object keys as strings
		value, err := dec.Token()
		if err != nil {
			p.addError(p.line, "", "", invalidJSON(err))
			return fields, false
		}
		if delim, ok := value.(json.Delim); ok {
			if err := skipNested(dec, delim); err != nil {
				p.addError(p.line, "", "", invalidJSON(err))
				return fields, false
			}
		}

		_, seen := fields.values[name]
		text, isString := value.(string)
		switch {
		case !slices.Contains(personFields, name):
			p.addError(p.line, name, "", "unknown field; the fields are "+strings.Join(personFields, ", "))
		case seen || fields.reported[name]:
			p.addError(p.line, name, "", "field appears more than once")
			fields.reported[name] = true
		case !isString:
			p.addError(p.line, name, "", "must be a JSON string, not "+describeToken(value))
			fields.reported[name] = true
		default:
			fields.values[name] = text
		}
	}
	if _, err := dec.Token(); err != nil { // the closing '}'
		p.addError(p.line, "", "", invalidJSON(err))
		return fields, false
	}
	if _, err := dec.Token(); err != io.EOF {
		p.addError(p.line, "", "", "unexpected data after the JSON object; put one object on each line")
		return fields, false
	}
	return fields, true
}

// invalidJSON describes a JSON syntax error. The decoder reports a line
// that ends too early as a bare EOF, which would read as a problem with
// the file.
func invalidJSON(err error) string {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return "invalid JSON: the line ends before the object is complete"
	}
	return "invalid JSON: " + err.Error()
}

// skipNested reads the rest of the array or object that delim opened.
func skipNested(dec *json.Decoder, delim json.Delim) error {
	if delim == '}' || delim == ']' {
		return nil
	}
	for depth := 1; depth > 0; {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
	return nil
}

// describeToken names a JSON value for an error message.
func describeToken(tok json.Token) string {
	switch v := tok.(type) {
	case json.Delim:
		if v == '[' {
			return "an array"
		}
		return "an object"
	case json.Number:
		return fmt.Sprintf("the number %s; quote it: \"%s\"", v, v)
	case bool:
		return fmt.Sprintf("%t", v)
	case nil:
		return "null"
	case string:
		return "a string"
	}
	return fmt.Sprintf("%v", tok)
}

// checkDuplicateID reports an ID number seen on an earlier line.
func (p *personParser) checkDuplicateID(line int, idcard string) {
	if first, seen := p.idLines[idcard]; seen {
		p.addError(line, fieldIDCard, idcard, fmt.Sprintf("duplicate ID number, also on line %d", first))
		return
	}
	p.idLines[idcard] = line
}

// addFamilyLine records that a line belongs to a family. relation is ""
// when the line's hser_rlts is invalid, which is reported already.
func (p *personParser) addFamilyLine(line int, familyID, relation string) {
	f := p.familyIDs[familyID]
	if f == nil {
		f = &family{id: familyID}
		p.familyIDs[familyID] = f
		p.families = append(p.families, f)
	}
	f.lines = append(f.lines, line)
	switch relation {
	case RelationHead:
		f.headLines = append(f.headLines, line)
	case "":
		f.invalidRelation = true
	}
}

// checkFamilies reports every family without a head or with more than one.
// A family without a head is reported on its first line, an extra head on
// its own line. A family with an invalid hser_rlts is not reported as
// headless, because the invalid line may be meant as its head.
func (p *personParser) checkFamilies() {
	for _, f := range p.families {
		switch {
		case len(f.headLines) == 0 && !f.invalidRelation:
			reason := fmt.Sprintf("family has no head (hser_rlts \"0\") on %s", formatLines(f.lines))
			if !p.addError(f.lines[0], fieldFamilyID, f.id, reason) {
				return
			}
		case len(f.headLines) > 1:
			for _, line := range f.headLines[1:] {
				reason := fmt.Sprintf("family already has its head on line %d; a family has exactly one head", f.headLines[0])
				if !p.addError(line, fieldFamilyID, f.id, reason) {
					return
				}
			}
		}
	}
}

// formatLines lists line numbers for a message, at most ten of them.
func formatLines(lines []int) string {
	const max = 10
	if len(lines) == 1 {
		return fmt.Sprintf("line %d", lines[0])
	}
	parts := make([]string, 0, max+1)
	for i, line := range lines {
		if i == max {
			parts = append(parts, fmt.Sprintf("and %d more", len(lines)-max))
			break
		}
		parts = append(parts, fmt.Sprint(line))
	}
	return "lines " + strings.Join(parts, ", ")
}
