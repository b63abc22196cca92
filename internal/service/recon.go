package service

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"chsgate/api"
	"chsgate/internal/channel"
	"chsgate/internal/money"
	"chsgate/internal/store"
	"chsgate/protocol"
)

// DefaultMaxDetailRecords is the default maximum number of records in one
// CI00.02.00.08 request. It matches the gateway's default body limit for
// that function, which has room for about 200,000 records.
const DefaultMaxDetailRecords = 200_000

const (
	// reconDateLayout is the spec's yyyy-MM-dd of stmt_begndate and
	// stmt_enddate.
	reconDateLayout = "2006-01-02"
	// maxReconDays bounds the days a reconciliation covers, both dates
	// included, so that one request reads at most a month of records.
	maxReconDays = 31
)

// Memos of the reconciliation results. The spec gives no texts, so these
// are the platform's own.
const (
	memoTotalBalanced   = "对账平"
	memoRecordBalanced  = "一致"
	memoOnlyCenter      = "机构无此记录"
	memoOnlyInstitution = "中心无此记录"
	memoDuplicateRecord = "机构重复上传此记录，中心仅一条"
	memoSeparator       = "；"

	// Each difference of a memo is written with one of these formats: the
	// figure's label, the institution's value, the center's value and, for
	// totals, the difference.
	totalDifferenceFormat  = "%s不一致：机构 %s，中心 %s，相差 %s"
	recordDifferenceFormat = "%s不一致：机构 %s，中心 %s"
	fieldDifferenceFormat  = "%s不一致"

	recordCountLabel      = "结算笔数"
	thirdPartyNumberLabel = "第三方平台支付/退款流水号"
	nameLabel             = "姓名"
	idcardLabel           = "证件号"
)

// The amounts of a settlement record, in the order of the spec's tables.
const (
	payAmt = iota
	acctPay
	acctMulaidPay
	psnCashPay
	amountCount
)

// recordAmounts are a record's or a total's amounts in fen, indexed by
// payAmt, acctPay, acctMulaidPay and psnCashPay.
type recordAmounts [amountCount]int64

var (
	amountFieldNames  = [amountCount]string{"pay_amt", "acct_pay", "acct_mulaid_pay", "psn_cash_pay"}
	amountFieldLabels = [amountCount]string{"划扣金额", "个人账户支付金额", "家庭共济账户支付金额", "个人现金支出"}
)

// platformAmounts splits a platform record's amount as the platform pays
// it: pay kind 1 from the person's own account (acct_pay), pay kind 2 from
// the household head's (acct_mulaid_pay), and never in cash, because the
// platform has no cash fallback. A refund's negative amount splits the same
// way.
func platformAmounts(amount int64, mutual bool) recordAmounts {
	var a recordAmounts
	a[payAmt] = amount
	if mutual {
		a[acctMulaidPay] = amount
	} else {
		a[acctPay] = amount
	}
	return a
}

// parseAmounts parses the four amount strings of a request, signed because
// refunds are negative. On failure it also returns the index of the amount
// that failed, so the caller can name the field.
func parseAmounts(values [amountCount]string) (recordAmounts, int, error) {
	var a recordAmounts
	for i, v := range values {
		fen, err := money.ParseYuan(v, money.Signed)
		if err != nil {
			return a, i, err
		}
		a[i] = fen
	}
	return a, 0, nil
}

// recordField names field of request record i in errors.
func recordField(i int, field string) string {
	return "setlDDTOList[" + strconv.Itoa(i) + "]." + field
}

// parseReconRange returns the platform times [from, to) of a date range:
// from midnight in Asia/Shanghai of begin to midnight after end.
func parseReconRange(begin, end string) (from, to time.Time, err error) {
	from, err = time.ParseInLocation(reconDateLayout, begin, protocol.Shanghai())
	if err != nil {
		return from, to, protocol.Wrap(protocol.CodeBadField, err, "stmt_begndate")
	}
	last, err := time.ParseInLocation(reconDateLayout, end, protocol.Shanghai())
	if err != nil {
		return from, to, protocol.Wrap(protocol.CodeBadField, err, "stmt_enddate")
	}
	if last.Before(from) {
		return from, to, protocol.Wrap(protocol.CodeBadField, fmt.Errorf("stmt_enddate %s is before stmt_begndate %s", end, begin), "stmt_enddate")
	}
	to = last.AddDate(0, 0, 1)
	// Shanghai has no daylight saving time, so every day has 24 hours.
	if days := int(to.Sub(from) / (24 * time.Hour)); days > maxReconDays {
		return from, to, protocol.Wrap(protocol.CodeBadField, fmt.Errorf("the range covers %d days, at most %d", days, maxReconDays), "stmt_enddate")
	}
	return from, to, nil
}

// parseRecordCount parses fixmedins_setl_cnt: a count written in ASCII
// digits, without sign or leading zeros.
func parseRecordCount(s string) (int64, error) {
	fail := func(reason string) (int64, error) {
		return 0, protocol.Wrap(protocol.CodeBadField, fmt.Errorf("record count %q %s", s, reason), "fixmedins_setl_cnt")
	}
	if s == "" {
		return fail("is empty")
	}
	if len(s) > 1 && s[0] == '0' {
		return fail("has a leading zero")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return fail("is not a whole number of ASCII digits")
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return fail("is too large")
	}
	return n, nil
}

// normalizeIDCard writes the check character of an 18-character mainland
// ID number in upper case, as the registry stores it. A request record has
// no cert type, so other ID numbers are compared as sent.
func normalizeIDCard(idcard string) string {
	if len(idcard) == 18 && idcard[17] == 'x' {
		return idcard[:17] + "X"
	}
	return idcard
}

// ReconTotal handles CI00.02.00.09 (总对账): it compares the institution's
// sums and record count over a date range with the platform's settlement
// records of the calling org. Refunds count as negative amounts and as one
// record each. stmtRslt is "0" when every figure agrees, and "1" otherwise,
// with a memo that names each differing figure, both values and the
// difference (institution minus center).
func (s *Services) ReconTotal(ctx context.Context, ch *channel.Channel, req *api.ReconTotalRequest) (*api.ReconTotalResponse, error) {
	if err := checkChannelFields(ch, req.AppID, req.ServiceID, req.OrgCode); err != nil {
		return nil, err
	}
	from, to, err := parseReconRange(req.StmtBegndate, req.StmtEnddate)
	if err != nil {
		return nil, err
	}
	institution, failed, err := parseAmounts([amountCount]string{req.PayAmt, req.AcctPay, req.AcctMulaidPay, req.PsnCashPay})
	if err != nil {
		return nil, protocol.Wrap(protocol.CodeBadField, err, amountFieldNames[failed])
	}
	institutionCount, err := parseRecordCount(req.FixmedinsSetlCnt)
	if err != nil {
		return nil, err
	}

	var center recordAmounts
	var centerCount int64
	err = s.Store.SettlementRecords(ctx, ch.OrgCode, from, to, "", func(r *store.SettlementRecord) error {
		a := platformAmounts(r.Amount, r.PayKind == store.PayKindMutual)
		for i := range a {
			center[i] += a[i]
		}
		centerCount++
		return nil
	})
	if err != nil {
		return nil, err
	}

	var differences []string
	for i := range institution {
		if institution[i] != center[i] {
			differences = append(differences, fmt.Sprintf(totalDifferenceFormat, amountFieldLabels[i],
				money.FormatFen(institution[i]), money.FormatFen(center[i]), money.FormatFen(institution[i]-center[i])))
		}
	}
	if institutionCount != centerCount {
		differences = append(differences, fmt.Sprintf(totalDifferenceFormat, recordCountLabel,
			strconv.FormatInt(institutionCount, 10), strconv.FormatInt(centerCount, 10), strconv.FormatInt(institutionCount-centerCount, 10)))
	}
	s.logger().InfoContext(ctx, "total reconciliation", "appid", ch.AppID, "begin", req.StmtBegndate, "end", req.StmtEnddate,
		"center_records", centerCount, "differing_figures", len(differences))
	if len(differences) > 0 {
		return &api.ReconTotalResponse{StmtRslt: api.StmtUnbalanced, Memo: strings.Join(differences, memoSeparator)}, nil
	}
	return &api.ReconTotalResponse{StmtRslt: api.StmtBalanced, Memo: memoTotalBalanced}, nil
}

// centerRecord is a platform record held for detail reconciliation, kept
// small because a request may compare hundreds of thousands of them.
type centerRecord struct {
	setID   string
	name    string
	idcard  string
	hiNo    string
	amount  int64 // fen, negative for a refund
	mutual  bool  // pay kind 2
	matched bool  // a request record with this setID was compared with it
}

// ReconDetail handles CI00.02.00.08 (明细对账): it compares each record of
// the request with the platform's record of the same setlId, over the date
// range and the calling org, and only the person with ID number idcard
// when the request names one. The response lists the request's records in
// their order, each "0" when balanced, "102" when the platform has no such
// record, or "103" when a field differs, and then the platform's records
// the request lacks as "101", in setlId order. A setlId listed twice gets
// "102" the second time, because the platform has the record once.
//
// The platform's records are read into a slice sorted by setlId and
// searched by binary search, which costs less memory than a map. The
// request's records are walked once, and the response shares their setlId
// strings.
func (s *Services) ReconDetail(ctx context.Context, ch *channel.Channel, req *api.ReconDetailRequest) (api.ReconDetailResponse, error) {
	if err := checkChannelFields(ch, req.AppID, req.ServiceID, req.OrgCode); err != nil {
		return nil, err
	}
	from, to, err := parseReconRange(req.StmtBegndate, req.StmtEnddate)
	if err != nil {
		return nil, err
	}
	if limit := s.maxDetailRecords(); len(req.SetlDDTOList) > limit {
		return nil, protocol.Wrap(protocol.CodeTooManyRecords, fmt.Errorf("%d records, at most %d", len(req.SetlDDTOList), limit))
	}

	// A reconciled day has as many records on both sides, so the request's
	// count is a good first capacity for the platform's.
	center, err := s.centerRecords(ctx, ch.OrgCode, from, to, normalizeIDCard(req.IDCard), len(req.SetlDDTOList))
	if err != nil {
		return nil, err
	}

	resp := make(api.ReconDetailResponse, 0, len(req.SetlDDTOList))
	var balanced, differing, onlyInstitution int
	for i := range req.SetlDDTOList {
		record := &req.SetlDDTOList[i]
		if record.SetlID == "" {
			return nil, protocol.Wrap(protocol.CodeBadField, errors.New("setlId is empty"), recordField(i, "setlId"))
		}
		amounts, failed, err := parseAmounts([amountCount]string{record.PayAmt, record.AcctPay, record.AcctMulaidPay, record.PsnCashPay})
		if err != nil {
			return nil, protocol.Wrap(protocol.CodeBadField, err, recordField(i, amountFieldNames[failed]))
		}

		result := api.ReconDetailResult{SetlID: record.SetlID}
		j, found := slices.BinarySearchFunc(center, record.SetlID, func(c centerRecord, setID string) int {
			return strings.Compare(c.setID, setID)
		})
		switch {
		case !found:
			result.StmtRslt, result.Memo = api.StmtOnlyInstitute, memoOnlyInstitution
			onlyInstitution++
		case center[j].matched:
			result.StmtRslt, result.Memo = api.StmtOnlyInstitute, memoDuplicateRecord
			onlyInstitution++
		default:
			center[j].matched = true
			if memo := compareRecord(record, amounts, &center[j]); memo != "" {
				result.StmtRslt, result.Memo = api.StmtFieldsDiffer, memo
				differing++
			} else {
				result.StmtRslt, result.Memo = api.StmtBalanced, memoRecordBalanced
				balanced++
			}
		}
		resp = append(resp, result)
	}

	onlyCenter := 0
	for i := range center {
		if !center[i].matched {
			resp = append(resp, api.ReconDetailResult{SetlID: center[i].setID, StmtRslt: api.StmtOnlyCenter, Memo: memoOnlyCenter})
			onlyCenter++
		}
	}
	s.logger().InfoContext(ctx, "detail reconciliation", "appid", ch.AppID, "begin", req.StmtBegndate, "end", req.StmtEnddate,
		"records", len(req.SetlDDTOList), "center_records", len(center), "balanced", balanced, "differing", differing,
		"only_institution", onlyInstitution, "only_center", onlyCenter)
	return resp, nil
}

// centerRecords reads the platform's records of a detail reconciliation,
// sorted by setID, into a slice of capacity sizeHint to start with. Names,
// ID numbers and third-party numbers repeat across the lines of an order
// and a person's orders, so each distinct value is kept once.
func (s *Services) centerRecords(ctx context.Context, orgCode string, from, to time.Time, idcard string, sizeHint int) ([]centerRecord, error) {
	records := make([]centerRecord, 0, sizeHint)
	interned := make(map[string]string)
	intern := func(v string) string {
		if canonical, ok := interned[v]; ok {
			return canonical
		}
		interned[v] = v
		return v
	}
	err := s.Store.SettlementRecords(ctx, orgCode, from, to, idcard, func(r *store.SettlementRecord) error {
		records = append(records, centerRecord{
			setID:  r.SetID,
			name:   intern(r.Name),
			idcard: intern(r.IDCard),
			hiNo:   intern(r.HiNo),
			amount: r.Amount,
			mutual: r.PayKind == store.PayKindMutual,
		})
		return nil
	})
	if err != nil {
		return nil, err
	}
	// The store orders by set id in the database's collation, which may
	// differ from Go's byte order that the binary search relies on.
	compare := func(a, b centerRecord) int { return strings.Compare(a.setID, b.setID) }
	if !slices.IsSortedFunc(records, compare) {
		slices.SortFunc(records, compare)
	}
	return records, nil
}

// compareRecord returns the memo of a request record that differs from the
// platform's record of the same setlId, naming each differing field, or ""
// when they agree. Amounts and the third-party number are shown from both
// sides. Names and ID numbers are not, so the memo carries no personal
// data into the third party's reports and logs.
func compareRecord(record *api.SetlRecord, amounts recordAmounts, c *centerRecord) string {
	var differences []string
	expected := platformAmounts(c.amount, c.mutual)
	for i := range amounts {
		if amounts[i] != expected[i] {
			differences = append(differences, fmt.Sprintf(recordDifferenceFormat, amountFieldLabels[i],
				money.FormatFen(amounts[i]), money.FormatFen(expected[i])))
		}
	}
	if normalizeIDCard(record.IDCard) != c.idcard {
		differences = append(differences, fmt.Sprintf(fieldDifferenceFormat, idcardLabel))
	}
	if record.Name != c.name {
		differences = append(differences, fmt.Sprintf(fieldDifferenceFormat, nameLabel))
	}
	if record.HiPayNo != c.hiNo {
		differences = append(differences, fmt.Sprintf(recordDifferenceFormat, thirdPartyNumberLabel, record.HiPayNo, c.hiNo))
	}
	return strings.Join(differences, memoSeparator)
}

func (s *Services) maxDetailRecords() int {
	if s.MaxDetailRecords <= 0 {
		return DefaultMaxDetailRecords
	}
	return s.MaxDetailRecords
}

// detailPayload is the CI00.02.00.08 payload as decoded: the request with
// its list decoded through boundedRecords, whose field hides the embedded
// request's list of the same JSON name.
type detailPayload struct {
	api.ReconDetailRequest
	SetlDDTOList boundedRecords `json:"setlDDTOList"`
}

// boundedRecords decodes a setlDDTOList of at most limit records. It
// counts the records before decoding any, so a longer list gets 20106 at
// once, and a shorter one is decoded into a slice of the exact size. The
// body limit alone does not bound the decoded size, because a record of a
// few bytes on the wire, such as {}, takes over a hundred bytes decoded.
type boundedRecords struct {
	limit   int
	records []api.SetlRecord
}

func (b *boundedRecords) UnmarshalJSON(data []byte) error {
	if string(data) == "null" {
		return nil
	}
	if len(data) == 0 || data[0] != '[' {
		return protocol.Wrap(protocol.CodeBadField, errors.New("setlDDTOList is not an array"), "setlDDTOList")
	}
	n := countArrayElements(data)
	if n > b.limit {
		return protocol.Wrap(protocol.CodeTooManyRecords, fmt.Errorf("%d records, at most %d", n, b.limit))
	}

	// Each record is decoded on its own, so that a format error names its
	// index.
	b.records = make([]api.SetlRecord, n)
	dec := json.NewDecoder(bytes.NewReader(data))
	if _, err := dec.Token(); err != nil {
		return protocol.Wrap(protocol.CodeBadField, err, "setlDDTOList")
	}
	for i := range b.records {
		if err := dec.Decode(&b.records[i]); err != nil {
			field := "setlDDTOList[" + strconv.Itoa(i) + "]"
			var typeErr *json.UnmarshalTypeError
			if errors.As(err, &typeErr) && typeErr.Field != "" {
				field += "." + typeErr.Field
			}
			return protocol.Wrap(protocol.CodeBadField, err, field)
		}
	}
	return nil
}

// countArrayElements returns the number of elements of the JSON array
// data. It relies on data being valid JSON, as encoding/json checks before
// it calls an UnmarshalJSON method, and so only needs to track nesting and
// strings.
func countArrayElements(data []byte) int {
	depth, commas := 0, 0
	empty := true
	inString, escaped := false, false
	for _, c := range data {
		if inString {
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
			continue
		}
		switch c {
		case ' ', '\t', '\n', '\r':
			continue
		case ',':
			if depth == 1 {
				commas++
			}
			continue
		case ']', '}':
			depth--
			continue
		}
		if depth == 1 {
			empty = false
		}
		switch c {
		case '"':
			inString = true
		case '[', '{':
			depth++
		}
	}
	if empty {
		return 0
	}
	return commas + 1
}

// handleReconDetail decodes a CI00.02.00.08 payload with the list bounded
// by MaxDetailRecords and runs ReconDetail. Other decoding errors get 20100
// as in decodePayload.
func (s *Services) handleReconDetail(ctx context.Context, ch *channel.Channel, payload []byte) (any, error) {
	p := detailPayload{SetlDDTOList: boundedRecords{limit: s.maxDetailRecords()}}
	if len(payload) == 0 {
		payload = []byte("{}")
	}
	// Unmarshal reads the payload in place, where a Decoder would first
	// copy all of it into its buffer.
	if err := json.Unmarshal(payload, &p); err != nil {
		var pe *protocol.Error
		var typeErr *json.UnmarshalTypeError
		switch {
		case errors.As(err, &pe):
			return nil, pe
		case errors.As(err, &typeErr):
			return nil, protocol.Wrap(protocol.CodeBadField, err, typeErr.Field)
		default:
			return nil, protocol.Wrap(protocol.CodeBadField, fmt.Errorf("business fields: %w", err), "body")
		}
	}
	req := &p.ReconDetailRequest
	req.SetlDDTOList = p.SetlDDTOList.records
	return s.ReconDetail(ctx, ch, req)
}
