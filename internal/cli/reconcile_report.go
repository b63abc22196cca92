package cli

import (
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode"

	"chsgate/api"
	"chsgate/internal/money"
)

// difference is a record whose detail result is not balanced.
type difference struct {
	setlID string
	result string // stmtRslt: 101, 102, 103, or a code this program does not know
	memo   string
	// record is the file's record, or nil when the institution has none,
	// as for result 101.
	record *settlementRecord
}

// differences returns the results of a detail reconciliation that are not
// balanced, in the platform's order, each with the file's record of the
// same setlId.
func differences(results api.ReconDetailResponse, records []settlementRecord) []difference {
	bySetlID := make(map[string]*settlementRecord, len(records))
	for i := range records {
		bySetlID[records[i].wire.SetlID] = &records[i]
	}
	var out []difference
	for _, r := range results {
		if r.StmtRslt == api.StmtBalanced {
			continue
		}
		d := difference{setlID: r.SetlID, result: r.StmtRslt, memo: r.Memo}
		// The platform's own records, 101, may share a setlId with none of
		// the file's, so a match is used only where the institution has
		// the record.
		if r.StmtRslt != api.StmtOnlyCenter {
			d.record = bySetlID[r.SetlID]
		}
		out = append(out, d)
	}
	return out
}

// resultName translates a detail result code for the report.
func resultName(code string) string {
	switch code {
	case api.StmtOnlyCenter:
		return "中心多"
	case api.StmtOnlyInstitute:
		return "机构多"
	case api.StmtFieldsDiffer:
		return "数据不一致"
	}
	return "未知结果 " + code
}

// The columns of the terminal table, and of the difference file after
// the result code.
var (
	tableHeader = []string{"医保结算ID", "结果", "说明", "姓名", "证件号码", "第三方流水号", "金额"}
	diffHeader  = []string{"医保结算ID", "结果代码", "结果", "说明", "姓名", "证件号码", "第三方流水号",
		"划扣金额", "个人账户支付金额", "家庭共济账户支付金额", "个人现金支出", "对账文件行号"}
)

// printDifferences prints diffs as a table with aligned columns. ID numbers
// are masked, because a terminal is often seen or recorded by others, and
// text from the platform loses its control characters, so it cannot move
// the cursor or change colors.
func printDifferences(w io.Writer, diffs []difference) error {
	rows := [][]string{tableHeader}
	for _, d := range diffs {
		row := []string{terminalText(d.setlID), resultName(d.result), terminalText(d.memo), "-", "-", "-", "-"}
		if d.record != nil {
			row[3] = d.record.wire.Name
			row[4] = maskIDCard(d.record.wire.IDCard)
			row[5] = d.record.wire.HiPayNo
			row[6] = d.record.wire.PayAmt
		}
		rows = append(rows, row)
	}

	widths := make([]int, len(tableHeader))
	for _, row := range rows {
		for i, cell := range row {
			widths[i] = max(widths[i], displayWidth(cell))
		}
	}
	// The amount, the last column, is aligned right so that the decimal
	// points line up.
	amountColumn := len(tableHeader) - 1
	var b strings.Builder
	for _, row := range rows {
		for i, cell := range row {
			padding := strings.Repeat(" ", widths[i]-displayWidth(cell))
			if i > 0 {
				b.WriteString("  ")
			}
			switch i {
			case amountColumn:
				b.WriteString(padding + cell)
			default:
				b.WriteString(cell + padding)
			}
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeDifferences writes diffs to path as CSV for a spreadsheet: UTF-8
// with a byte order mark, so that Excel does not read it as the local
// code page, and CRLF line ends. ID numbers are not masked, because the
// file is the operator's own data. The file is written under a temporary
// name and renamed, so an interrupted run leaves no partial report, and it
// is readable by its owner only, because it holds personal data.
func writeDifferences(path string, diffs []difference) error {
	dir := filepath.Dir(path)
	temp, err := os.CreateTemp(dir, ".reconcile-*.csv.tmp")
	if err != nil {
		return fmt.Errorf("create the difference file: %w", err)
	}
	defer os.Remove(temp.Name()) // fails harmlessly once renamed

	if _, err := temp.WriteString("\uFEFF"); err != nil {
		temp.Close()
		return fmt.Errorf("write the difference file: %w", err)
	}
	w := csv.NewWriter(temp)
	w.UseCRLF = true
	w.Write(diffHeader)
	for _, d := range diffs {
		row := make([]string, len(diffHeader))
		row[0], row[1], row[2], row[3] = d.setlID, d.result, resultName(d.result), d.memo
		if r := d.record; r != nil {
			row[4], row[5], row[6] = r.wire.Name, r.wire.IDCard, r.wire.HiPayNo
			row[7], row[8], row[9], row[10] = r.wire.PayAmt, r.wire.AcctPay, r.wire.AcctMulaidPay, r.wire.PsnCashPay
			row[11] = strconv.Itoa(r.line)
		}
		w.Write(row)
	}
	w.Flush()
	if err := w.Error(); err != nil {
		temp.Close()
		return fmt.Errorf("write the difference file: %w", err)
	}
	if err := temp.Close(); err != nil {
		return fmt.Errorf("write the difference file: %w", err)
	}
	if err := os.Rename(temp.Name(), path); err != nil {
		return fmt.Errorf("save the difference file: %w", err)
	}
	return nil
}

// formatTotals describes the figures of a total reconciliation, such as
// "3 笔，划扣金额 250.00 元".
func formatTotals(t recordTotals) string {
	return fmt.Sprintf("%d 笔，划扣金额 %s 元", t.count, money.FormatFen(t.amounts[amountPayAmt]))
}

// maskIDCard masks an ID number for the terminal with the rule of the
// platform's logs: it keeps the first 6 and the last 4 characters, so
// 350102198003151234 becomes 350102********1234. A value too short to
// hide 4 characters that way keeps a quarter of its length at each end.
func maskIDCard(idcard string) string {
	runes := []rune(terminalText(idcard))
	head, tail := 6, 4
	if len(runes)-head-tail < 4 {
		head, tail = len(runes)/4, len(runes)/4
	}
	return string(runes[:head]) + strings.Repeat("*", len(runes)-head-tail) + string(runes[len(runes)-tail:])
}

// terminalText replaces the control characters of s with spaces.
func terminalText(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
}

// displayWidth returns the number of terminal columns s takes: two for
// each East Asian wide or fullwidth character, such as a Chinese character
// or the fullwidth colon, and one for any other.
func displayWidth(s string) int {
	width := 0
	for _, r := range s {
		width++
		if isWide(r) {
			width++
		}
	}
	return width
}

// isWide reports whether a terminal shows r two columns wide. The ranges
// are the wide ranges of Markus Kuhn's mk_wcwidth. Combining characters,
// zero columns wide there, count as one here. Chinese names and memos do
// not use them.
func isWide(r rune) bool {
	switch {
	case r < 0x1100:
		return false
	case r <= 0x115f, // Hangul Jamo initial consonants
		r == 0x2329, r == 0x232a, // angle brackets
		r >= 0x2e80 && r <= 0xa4cf && r != 0x303f, // CJK radicals to Yi
		r >= 0xac00 && r <= 0xd7a3,                // Hangul syllables
		r >= 0xf900 && r <= 0xfaff,                // CJK compatibility ideographs
		r >= 0xfe10 && r <= 0xfe19,                // vertical forms
		r >= 0xfe30 && r <= 0xfe6f,                // CJK compatibility forms
		r >= 0xff00 && r <= 0xff60,                // fullwidth forms
		r >= 0xffe0 && r <= 0xffe6,
		r >= 0x20000 && r <= 0x2fffd, // supplementary ideographic plane
		r >= 0x30000 && r <= 0x3fffd: // tertiary ideographic plane
		return true
	}
	return false
}
