package cli

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"chsgate/api"
	"chsgate/internal/money"
	"chsgate/internal/textcut"
)

// The columns of a records file, named as the fields of a CI00.02.00.08
// setlDDTOList record.
const (
	columnSetlID        = "setlId"
	columnPayAmt        = "pay_amt"
	columnAcctPay       = "acct_pay"
	columnAcctMulaidPay = "acct_mulaid_pay"
	columnPsnCashPay    = "psn_cash_pay"
	columnName          = "name"
	columnIDCard        = "idcard"
	columnHiPayNo       = "hi_pay_no"
)

// recordColumns are the columns a records file must have, in the order the
// usage and the errors list them.
var recordColumns = []string{
	columnSetlID, columnPayAmt, columnAcctPay, columnAcctMulaidPay, columnPsnCashPay,
	columnName, columnIDCard, columnHiPayNo,
}

// The amounts of a record, in the order of the request fields.
const (
	amountPayAmt = iota
	amountAcctPay
	amountAcctMulaidPay
	amountPsnCashPay
	amountCount
)

var amountColumns = [amountCount]string{columnPayAmt, columnAcctPay, columnAcctMulaidPay, columnPsnCashPay}

// maxRecordProblems is the number of problems after which reading a
// records file stops. A file in the wrong format has a problem on every
// line, and the first ones already show what to fix.
const maxRecordProblems = 20

// scientificNotation matches a value that Excel turned into a number in
// scientific notation, which happens to long digit strings such as ID
// numbers unless the column is formatted as text.
var scientificNotation = regexp.MustCompile(`^[0-9](\.[0-9]+)?[eE]\+[0-9]+$`)

// settlementRecord is one valid row of a records file.
type settlementRecord struct {
	line    int // 1-based line of the file where the row starts
	amounts [amountCount]int64
	// wire is the record as CI00.02.00.08 sends it, with the amounts in
	// the canonical two-decimal form.
	wire api.SetlRecord
}

// recordTotals are the figures of CI00.02.00.09 computed from a records
// file: the sum of each amount in fen and the number of records.
type recordTotals struct {
	amounts [amountCount]int64
	count   int
}

// recordProblem is one invalid row or header of a records file.
type recordProblem struct {
	line   int    // 1-based line, or 0 when the problem is the file's as a whole
	column string // the column at fault, or "" when the row as a whole is
	reason string
}

func (p *recordProblem) String() string {
	switch {
	case p.line == 0:
		return p.reason
	case p.column == "":
		return fmt.Sprintf("line %d: %s", p.line, p.reason)
	}
	return fmt.Sprintf("line %d: %s: %s", p.line, p.column, p.reason)
}

// recordsError lists the problems of a records file, in line order.
type recordsError struct {
	problems  []*recordProblem
	truncated bool // reading stopped at maxRecordProblems
}

func (e *recordsError) Error() string {
	noun := "problems"
	if len(e.problems) == 1 {
		noun = "problem"
	}
	more := ""
	if e.truncated {
		more = " (stopped there; the file may have more)"
	}
	return fmt.Sprintf("%d %s%s", len(e.problems), noun, more)
}

// recordsReader is the state of one readRecords call.
type recordsReader struct {
	csv      *csv.Reader
	columns  map[string]int // index of each required column in a row
	width    int            // number of fields of the header
	records  []settlementRecord
	setlIDs  map[string]int // line of each setlId seen
	problems []*recordProblem
	full     bool
}

// readRecords reads and checks a records file: UTF-8 CSV with an optional
// byte order mark, a header row that names every column of recordColumns
// in any order, and one settlement record per row. Other columns are
// ignored, and so are rows whose fields are all empty, which spreadsheet
// programs leave below the data. Either every row is valid and the
// records are returned in file order, or the error is a *recordsError and
// no record is returned, so no part of an invalid file is sent.
func readRecords(r io.Reader) ([]settlementRecord, error) {
	buffered := bufio.NewReader(r)
	// Excel starts a file saved as "CSV UTF-8" with a byte order mark.
	if bom, err := buffered.Peek(3); err == nil && string(bom) == "\uFEFF" {
		buffered.Discard(3)
	}
	rr := &recordsReader{csv: csv.NewReader(buffered), setlIDs: make(map[string]int)}
	// Rows are checked against the header here, with a clearer message
	// than encoding/csv's.
	rr.csv.FieldsPerRecord = -1

	if err := rr.readHeader(); err != nil {
		return nil, err
	}
	if !rr.full && len(rr.problems) == 0 {
		if err := rr.readRows(); err != nil {
			return nil, err
		}
	}
	if len(rr.problems) > 0 {
		return nil, &recordsError{problems: rr.problems, truncated: rr.full}
	}
	return rr.records, nil
}

// addProblem records a problem and reports whether there is room for more.
func (rr *recordsReader) addProblem(line int, column, reason string) bool {
	if len(rr.problems) >= maxRecordProblems {
		rr.full = true
		return false
	}
	rr.problems = append(rr.problems, &recordProblem{line: line, column: column, reason: reason})
	return true
}

// readHeader reads the first row and finds the required columns in it.
func (rr *recordsReader) readHeader() error {
	header, err := rr.csv.Read()
	if errors.Is(err, io.EOF) {
		rr.addProblem(1, "", "the file is empty; the first line must be the header naming "+strings.Join(recordColumns, ", "))
		return nil
	}
	if err != nil {
		return rr.syntaxProblem(err)
	}

	line, _ := rr.csv.FieldPos(0)
	rr.width = len(header)
	rr.columns = make(map[string]int, len(recordColumns))
	seen := make(map[string]int, len(header))
	for i, name := range header {
		if !utf8.ValidString(name) {
			rr.addProblem(line, "", "the header is not valid UTF-8; save the file as \"CSV UTF-8\"")
			return nil
		}
		name = strings.TrimSpace(name)
		// A repeated column that the command ignores does no harm.
		if first, ok := seen[name]; ok && slices.Contains(recordColumns, name) {
			rr.addProblem(line, "", fmt.Sprintf("column %s appears twice, as columns %d and %d", name, first+1, i+1))
			continue
		}
		seen[name] = i
		rr.columns[name] = i
	}
	// A header of one column containing semicolons or tabs is a file saved
	// with another separator, reported as one problem, not one per column.
	if len(header) == 1 && strings.ContainsAny(header[0], ";\t") {
		rr.addProblem(line, "", "the header is one column with semicolons or tabs in it; save the file as CSV separated by commas")
		return nil
	}
	for _, name := range recordColumns {
		if _, ok := rr.columns[name]; !ok {
			rr.addProblem(line, "", fmt.Sprintf("missing column %s; the header must name %s, in any order",
				name, strings.Join(recordColumns, ", ")))
		}
	}
	return nil
}

// syntaxProblem turns an error of encoding/csv into a problem of its line.
// Reading stops there, because the rows after a broken quote cannot be
// separated reliably. Other errors, such as a failed read, are returned.
func (rr *recordsReader) syntaxProblem(err error) error {
	var parseErr *csv.ParseError
	if !errors.As(err, &parseErr) {
		return fmt.Errorf("read: %w", err)
	}
	if parseErr.StartLine == parseErr.Line {
		rr.addProblem(parseErr.Line, "", fmt.Sprintf("invalid CSV at column %d: %v", parseErr.Column, parseErr.Err))
	} else {
		rr.addProblem(parseErr.StartLine, "", fmt.Sprintf("invalid CSV in the row that starts here, at line %d, column %d: %v",
			parseErr.Line, parseErr.Column, parseErr.Err))
	}
	rr.full = true
	return nil
}

// readRows reads and checks the rows after the header.
func (rr *recordsReader) readRows() error {
	for len(rr.problems) < maxRecordProblems {
		row, err := rr.csv.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return rr.syntaxProblem(err)
		}
		line, _ := rr.csv.FieldPos(0)
		if isBlankRow(row) {
			continue
		}
		if len(row) != rr.width {
			rr.addProblem(line, "", fmt.Sprintf("has %d fields, but the header has %d", len(row), rr.width))
			continue
		}
		rr.checkRow(line, row)
	}
	// Reading stopped at the maximum: tell whether anything follows.
	if _, err := rr.csv.Read(); !errors.Is(err, io.EOF) {
		rr.full = true
	}
	return nil
}

func isBlankRow(row []string) bool {
	for _, field := range row {
		if strings.TrimSpace(field) != "" {
			return false
		}
	}
	return true
}

// checkRow checks one row and keeps its record when it is valid.
func (rr *recordsReader) checkRow(line int, row []string) {
	valid := true
	fail := func(column, reason string) {
		valid = false
		rr.addProblem(line, column, reason)
	}
	value := func(column string) string {
		v := row[rr.columns[column]]
		switch {
		case !utf8.ValidString(v):
			fail(column, "not valid UTF-8; save the file as \"CSV UTF-8\"")
		case v == "":
			fail(column, "missing value")
		case strings.TrimSpace(v) != v:
			fail(column, "has leading or trailing spaces; remove them")
		case hasControl(v):
			fail(column, "contains a control character such as a tab or line break; remove it")
		default:
			return v
		}
		return ""
	}
	// textValue also rejects what Excel makes of a long digit string in a
	// column that is not formatted as text.
	textValue := func(column string) string {
		v := value(column)
		if scientificNotation.MatchString(v) {
			fail(column, "is in scientific notation, so digits are lost; format the column as text in the spreadsheet and export it again")
			return ""
		}
		return v
	}

	record := settlementRecord{line: line}
	record.wire.SetlID = textValue(columnSetlID)
	if record.wire.SetlID != "" {
		if first, ok := rr.setlIDs[record.wire.SetlID]; ok {
			fail(columnSetlID, fmt.Sprintf("%s appears twice, also on line %d; list each record once", quoteValue(record.wire.SetlID), first))
		} else {
			rr.setlIDs[record.wire.SetlID] = line
		}
	}

	var formatted [amountCount]string
	for i, column := range amountColumns {
		v := value(column)
		if v == "" {
			continue
		}
		fen, err := money.ParseYuan(v, money.Signed)
		if err != nil {
			reason := err.Error()
			var parseErr *money.ParseError
			if errors.As(err, &parseErr) {
				reason = fmt.Sprintf("invalid amount %s: %s; write yuan with at most two decimals, such as 120.50, and refunds negative", quoteValue(v), parseErr.Reason)
			}
			fail(column, reason)
			continue
		}
		record.amounts[i] = fen
		formatted[i] = money.FormatFen(fen)
	}
	record.wire.PayAmt = formatted[amountPayAmt]
	record.wire.AcctPay = formatted[amountAcctPay]
	record.wire.AcctMulaidPay = formatted[amountAcctMulaidPay]
	record.wire.PsnCashPay = formatted[amountPsnCashPay]

	// Names and ID numbers are personal data, so no message repeats them.
	record.wire.Name = value(columnName)
	record.wire.IDCard = textValue(columnIDCard)
	record.wire.HiPayNo = textValue(columnHiPayNo)

	if valid {
		rr.records = append(rr.records, record)
	}
}

func hasControl(s string) bool {
	return strings.ContainsFunc(s, unicode.IsControl)
}

// sumRecords returns the totals of records. It fails when a sum is beyond
// money.MaxFen, the largest amount the platform accepts. Because every
// record's amount is within money.MaxFen too, checking after each addition
// also keeps the sum far from int64 overflow.
func sumRecords(records []settlementRecord) (recordTotals, error) {
	var totals recordTotals
	for _, r := range records {
		for i := range totals.amounts {
			totals.amounts[i] += r.amounts[i]
			if totals.amounts[i] > money.MaxFen || totals.amounts[i] < -money.MaxFen {
				return totals, fmt.Errorf("the sum of %s exceeds %s yuan in absolute value, the largest amount the platform accepts; reconcile a shorter date range",
					amountColumns[i], money.FormatFen(money.MaxFen))
			}
		}
		totals.count++
	}
	return totals, nil
}

// readRecordsFile reads the records file at path with readRecords. It
// prints each problem on stderr, prefixed with path, and returns an error
// that counts them.
func readRecordsFile(stderr io.Writer, path string) ([]settlementRecord, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open the records file: %w", err)
	}
	defer f.Close()

	records, err := readRecords(f)
	var invalid *recordsError
	if errors.As(err, &invalid) {
		for _, p := range invalid.problems {
			fmt.Fprintf(stderr, "%s: %s\n", path, p)
		}
		return nil, fmt.Errorf("%s: %v; nothing was sent to the platform. Correct the file and run the command again", path, invalid)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return records, nil
}

// quoteValue quotes a value for a message, shortened to its first 40
// bytes, because a wrong column may hold a whole paragraph.
func quoteValue(s string) string { return textcut.Quote(s, 40) }
