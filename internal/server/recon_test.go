package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"chsgate/api"
	"chsgate/internal/servertest"
	"chsgate/internal/service"
	"chsgate/internal/store"
	"chsgate/internal/store/storetest"
	"chsgate/protocol"
	"chsgate/sdk"
)

const reconDateLayout = "2006-01-02"

// shanghaiMidnight returns the start of t's calendar day in Asia/Shanghai.
func shanghaiMidnight(t time.Time) time.Time {
	y, m, d := t.In(protocol.Shanghai()).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, protocol.Shanghai())
}

func reconDate(t time.Time) string { return t.In(protocol.Shanghai()).Format(reconDateLayout) }

func detailRequest(begin, end time.Time, records []api.SetlRecord) *api.ReconDetailRequest {
	return &api.ReconDetailRequest{
		AppID: keyAppID, ServiceID: servertest.ServiceID, OrgCode: servertest.OrgCode,
		StmtBegndate: reconDate(begin), StmtEnddate: reconDate(end), SetlDDTOList: records,
	}
}

// totalRequest sums records into a CI00.02.00.09 request, as an
// institution computes its totals.
func totalRequest(t *testing.T, begin, end time.Time, records []api.SetlRecord) *api.ReconTotalRequest {
	t.Helper()
	var sums [4]int64
	for _, r := range records {
		for i, amount := range []string{r.PayAmt, r.AcctPay, r.AcctMulaidPay, r.PsnCashPay} {
			fen, err := parseSignedYuan(amount)
			if err != nil {
				t.Fatalf("record %s: %v", r.SetlID, err)
			}
			sums[i] += fen
		}
	}
	return &api.ReconTotalRequest{
		AppID: keyAppID, ServiceID: servertest.ServiceID, OrgCode: servertest.OrgCode,
		StmtBegndate: reconDate(begin), StmtEnddate: reconDate(end),
		PayAmt: signedYuan(sums[0]), AcctPay: signedYuan(sums[1]), AcctMulaidPay: signedYuan(sums[2]), PsnCashPay: signedYuan(sums[3]),
		FixmedinsSetlCnt: strconv.Itoa(len(records)),
	}
}

// signedYuan writes fen as yuan with two decimals and a leading '-' when
// negative.
func signedYuan(fen int64) string {
	if fen < 0 {
		return "-" + yuan(-fen)
	}
	return yuan(fen)
}

// parseSignedYuan reads the amounts the platform writes, which always have
// two decimals.
func parseSignedYuan(s string) (int64, error) {
	sign := int64(1)
	if rest, ok := strings.CutPrefix(s, "-"); ok {
		sign, s = -1, rest
	}
	integer, fraction, ok := strings.Cut(s, ".")
	if !ok || len(fraction) != 2 {
		return 0, fmt.Errorf("amount %q has not two decimals", s)
	}
	fen, err := strconv.ParseInt(integer+fraction, 10, 64)
	return sign * fen, err
}

// reconPayment is a confirmed payment and the institution's records of it.
type reconPayment struct {
	code    string
	payNo   string
	payKind string
	persons []store.PersonRecord
	records []api.SetlRecord
}

// payAt pays through the SDK at the given time: it authorizes the
// applicant and the other persons, opens the payment page and confirms it.
// It returns the institution's records built from CI00.02.00.02, as a
// third party would keep them.
func (e *testEnv) payAt(t *testing.T, client *sdk.Client, at time.Time, hiPayNo, payKind string, applicant store.PersonRecord, persons []store.PersonRecord, amounts []int64) *reconPayment {
	t.Helper()
	ctx := context.Background()
	e.Clock.Set(at)
	var others []store.PersonRecord
	for _, p := range persons {
		if p.IDCard != applicant.IDCard {
			others = append(others, p)
		}
	}
	code := e.authorizePersons(t, client, applicant, others...)

	page, err := client.PayPage(ctx, e.payRequest(code, hiPayNo, payKind, persons, amounts))
	if err != nil {
		t.Fatalf("CI00.02.00.01 %s: %v", hiPayNo, err)
	}
	done, status := e.confirmPay(t, page.LinkURL, true)
	if done == nil || done.Path != "/pay/done" {
		t.Fatalf("confirming %s: HTTP %d, sent to %v", hiPayNo, status, done)
	}
	result, err := client.SettleResult(ctx, &api.SettleResultRequest{Code: done.Query().Get("code")})
	if err != nil {
		t.Fatalf("CI00.02.00.02 %s: %v", hiPayNo, err)
	}
	if result.PayDate != at.In(protocol.Shanghai()).Format("2006-01-02 15:04:05") {
		t.Fatalf("%s: pay_date %s, want the clock's %v", hiPayNo, result.PayDate, at)
	}

	p := &reconPayment{code: code, payNo: result.PayNo, payKind: payKind, persons: persons}
	for i, line := range result.PayList {
		p.records = append(p.records, api.SetlRecord{
			SetlID: line.SetID, PayAmt: line.PayAmt, AcctPay: line.AcctPay, AcctMulaidPay: line.AcctMulaidPay,
			PsnCashPay: line.PsnCashPay, Name: persons[i].Name, IDCard: persons[i].IDCard, HiPayNo: hiPayNo,
		})
	}
	return p
}

// refundAt refunds amounts of the persons of p at the given time and
// returns the institution's refund records, negative.
func (e *testEnv) refundAt(t *testing.T, client *sdk.Client, at time.Time, p *reconPayment, hiRefundNo string, persons []store.PersonRecord, amounts []int64) []api.SetlRecord {
	t.Helper()
	e.Clock.Set(at)
	req := &api.RefundRequest{AuthCode: p.code, PayNo: p.payNo, HiRefundNo: hiRefundNo,
		HiRefundDate: at.In(protocol.Shanghai()).Format("2006-01-02 15:04:05")}
	var total int64
	for i, person := range persons {
		req.PayList = append(req.PayList, api.RefundPerson{Name: person.Name, IDCard: person.IDCard, CertType: "01", Region: person.Region, RefundAmt: yuan(amounts[i])})
		total += amounts[i]
	}
	req.RefundAmt = yuan(total)
	resp, err := client.Refund(context.Background(), req)
	if err != nil {
		t.Fatalf("CI00.02.00.03 %s: %v", hiRefundNo, err)
	}
	var records []api.SetlRecord
	for i, line := range resp.PayList {
		amount := "-" + line.PayAmt
		r := api.SetlRecord{SetlID: line.SetID, PayAmt: amount, AcctPay: "0.00", AcctMulaidPay: "0.00", PsnCashPay: "0.00",
			Name: persons[i].Name, IDCard: persons[i].IDCard, HiPayNo: hiRefundNo}
		if p.payKind == "2" {
			r.AcctMulaidPay = amount
		} else {
			r.AcctPay = amount
		}
		records = append(records, r)
	}
	return records
}

// reconWeek is a few days of payments and refunds of one household, with
// the institution's records of each day.
type reconWeek struct {
	env    *testEnv
	client *sdk.Client
	h      household
	// day is the midnight in Shanghai that starts the first day.
	day time.Time
	// records holds the institution's records of day+i at index i.
	records [3][]api.SetlRecord
}

// newReconWeek pays and refunds over three days, two days after the real
// date so the clock only moves forward:
//
//	day 0 10:00        pay kind 2, the head pays 100.00 for the spouse and 50.00 for the child
//	day 0 11:00        pay kind 1, the outsider pays 200.00
//	day 0 12:00        refund of the child's 50.00
//	day 0 13:00        refund of 80.00 of the outsider's 200.00
//	day 0 23:59:59     pay kind 1, the spouse pays 30.00
//	day 1 00:00:00     pay kind 1, the head pays 10.00
//	day 2 10:00        refund of the spouse's 30.00
func newReconWeek(t *testing.T, b storetest.Backend) *reconWeek {
	t.Helper()
	env := startEnv(t, b)
	w := &reconWeek{env: env, client: env.Client(t, keyAppID), day: shanghaiMidnight(time.Now().Add(48 * time.Hour))}
	w.h = env.importHousehold(t)
	h, c := w.h, w.client
	at := func(day int, clock time.Duration) time.Time { return w.day.AddDate(0, 0, day).Add(clock) }

	family := env.payAt(t, c, at(0, 10*time.Hour), "RECON01", "2", h.head, []store.PersonRecord{h.spouse, h.child}, []int64{10000, 5000})
	outsider := env.payAt(t, c, at(0, 11*time.Hour), "RECON02", "1", h.outsider, []store.PersonRecord{h.outsider}, []int64{20000})
	w.records[0] = append(w.records[0], family.records...)
	w.records[0] = append(w.records[0], outsider.records...)
	w.records[0] = append(w.records[0], env.refundAt(t, c, at(0, 12*time.Hour), family, "RECONR01", []store.PersonRecord{h.child}, []int64{5000})...)
	w.records[0] = append(w.records[0], env.refundAt(t, c, at(0, 13*time.Hour), outsider, "RECONR02", []store.PersonRecord{h.outsider}, []int64{8000})...)

	lastSecond := env.payAt(t, c, at(1, -time.Second), "RECON03", "1", h.spouse, []store.PersonRecord{h.spouse}, []int64{3000})
	w.records[0] = append(w.records[0], lastSecond.records...)
	midnight := env.payAt(t, c, at(1, 0), "RECON04", "1", h.head, []store.PersonRecord{h.head}, []int64{1000})
	w.records[1] = midnight.records
	w.records[2] = env.refundAt(t, c, at(2, 10*time.Hour), lastSecond, "RECONR03", []store.PersonRecord{h.spouse}, []int64{3000})
	return w
}

func TestReconTotalMixedDay(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			w := newReconWeek(t, b)
			ctx := context.Background()

			day0 := totalRequest(t, w.day, w.day, w.records[0])
			want := api.ReconTotalRequest{PayAmt: "250.00", AcctPay: "150.00", AcctMulaidPay: "100.00", PsnCashPay: "0.00", FixmedinsSetlCnt: "6"}
			if day0.PayAmt != want.PayAmt || day0.AcctPay != want.AcctPay || day0.AcctMulaidPay != want.AcctMulaidPay ||
				day0.PsnCashPay != want.PsnCashPay || day0.FixmedinsSetlCnt != want.FixmedinsSetlCnt {
				t.Fatalf("the fixture's day 0 sums to %+v, want %+v", day0, want)
			}

			balanced := []struct {
				name string
				req  *api.ReconTotalRequest
			}{
				{"day 0", day0},
				{"day 1 from midnight", totalRequest(t, w.day.AddDate(0, 0, 1), w.day.AddDate(0, 0, 1), w.records[1])},
				{"day 2 refunds only", totalRequest(t, w.day.AddDate(0, 0, 2), w.day.AddDate(0, 0, 2), w.records[2])},
				{"three days", totalRequest(t, w.day, w.day.AddDate(0, 0, 2), append(append(append([]api.SetlRecord(nil), w.records[0]...), w.records[1]...), w.records[2]...))},
				{"empty day", totalRequest(t, w.day.AddDate(0, 0, 5), w.day.AddDate(0, 0, 5), nil)},
			}
			if got := balanced[2].req.PayAmt; got != "-30.00" {
				t.Errorf("day 2 sums to pay_amt %s, want -30.00", got)
			}
			for _, c := range balanced {
				t.Run(c.name, func(t *testing.T) {
					resp, err := w.client.ReconTotal(ctx, c.req)
					if err != nil {
						t.Fatal(err)
					}
					if resp.StmtRslt != api.StmtBalanced || resp.Memo != "对账平" {
						t.Errorf("stmtRslt %q memo %q, want 0 and 对账平", resp.StmtRslt, resp.Memo)
					}
				})
			}

			off := *day0
			off.PayAmt, off.FixmedinsSetlCnt = "300.00", "7"
			resp, err := w.client.ReconTotal(ctx, &off)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StmtRslt != api.StmtUnbalanced {
				t.Errorf("stmtRslt %q for differing totals, want 1", resp.StmtRslt)
			}
			if wantMemo := "划扣金额不一致：机构 300.00，中心 250.00，相差 50.00；结算笔数不一致：机构 7，中心 6，相差 1"; resp.Memo != wantMemo {
				t.Errorf("memo %q,\nwant %q", resp.Memo, wantMemo)
			}

			split := *day0
			split.AcctPay, split.AcctMulaidPay, split.PsnCashPay = "100.00", "150.00", "-0.01"
			resp, err = w.client.ReconTotal(ctx, &split)
			if err != nil {
				t.Fatal(err)
			}
			wantMemo := "个人账户支付金额不一致：机构 100.00，中心 150.00，相差 -50.00；" +
				"家庭共济账户支付金额不一致：机构 150.00，中心 100.00，相差 50.00；" +
				"个人现金支出不一致：机构 -0.01，中心 0.00，相差 -0.01"
			if resp.StmtRslt != api.StmtUnbalanced || resp.Memo != wantMemo {
				t.Errorf("stmtRslt %q memo %q,\nwant 1 and %q", resp.StmtRslt, resp.Memo, wantMemo)
			}
		})
	}
}

func TestReconDetailMixedDay(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			w := newReconWeek(t, b)
			ctx := context.Background()
			for i, records := range w.records {
				day := w.day.AddDate(0, 0, i)
				resp, err := w.client.ReconDetail(ctx, detailRequest(day, day, records))
				if err != nil {
					t.Fatalf("day %d: %v", i, err)
				}
				if len(*resp) != len(records) {
					t.Errorf("day %d: %d results for %d records: %+v", i, len(*resp), len(records), *resp)
				}
				for j, r := range *resp {
					if j < len(records) && r.SetlID != records[j].SetlID {
						t.Errorf("day %d result %d is of %s, want %s", i, j, r.SetlID, records[j].SetlID)
					}
					if r.StmtRslt != api.StmtBalanced || r.Memo != "一致" {
						t.Errorf("day %d record %s: stmtRslt %q memo %q, want 0 and 一致", i, r.SetlID, r.StmtRslt, r.Memo)
					}
				}
			}
		})
	}
}

func TestReconDetailResults(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			w := newReconWeek(t, b)
			ctx := context.Background()
			day := w.records[0]
			if len(day) != 6 {
				t.Fatalf("the fixture's day 0 has %d records, want 6", len(day))
			}

			// The institution lacks day[5], changed two amounts of day[0] and
			// the number of day[1], lists day[2] twice and sends a record the
			// center does not have.
			amounts := day[0]
			amounts.PayAmt, amounts.AcctMulaidPay = "90.00", "90.00"
			number := day[1]
			number.HiPayNo = "RECON99"
			person := day[3]
			person.Name = "测别人"
			person.IDCard = w.h.spouse.IDCard
			unknown := api.SetlRecord{SetlID: "S00000000000000000000", PayAmt: "1.00", AcctPay: "1.00", AcctMulaidPay: "0.00",
				PsnCashPay: "0.00", Name: w.h.head.Name, IDCard: w.h.head.IDCard, HiPayNo: "RECON98"}
			records := []api.SetlRecord{amounts, number, day[2], person, day[4], day[2], unknown}

			resp, err := w.client.ReconDetail(ctx, detailRequest(w.day, w.day, records))
			if err != nil {
				t.Fatal(err)
			}
			want := api.ReconDetailResponse{
				{SetlID: day[0].SetlID, StmtRslt: "103", Memo: "划扣金额不一致：机构 90.00，中心 100.00；家庭共济账户支付金额不一致：机构 90.00，中心 100.00"},
				{SetlID: day[1].SetlID, StmtRslt: "103", Memo: "第三方平台支付/退款流水号不一致：机构 RECON99，中心 RECON01"},
				{SetlID: day[2].SetlID, StmtRslt: "0", Memo: "一致"},
				{SetlID: day[3].SetlID, StmtRslt: "103", Memo: "证件号不一致；姓名不一致"},
				{SetlID: day[4].SetlID, StmtRslt: "0", Memo: "一致"},
				{SetlID: day[2].SetlID, StmtRslt: "102", Memo: "机构重复上传此记录，中心仅一条"},
				{SetlID: unknown.SetlID, StmtRslt: "102", Memo: "中心无此记录"},
				{SetlID: day[5].SetlID, StmtRslt: "101", Memo: "机构无此记录"},
			}
			if len(*resp) != len(want) {
				t.Fatalf("%d results, want %d: %+v", len(*resp), len(want), *resp)
			}
			for i := range want {
				if (*resp)[i] != want[i] {
					t.Errorf("result %d: %+v\nwant      %+v", i, (*resp)[i], want[i])
				}
			}
		})
	}
}

func TestReconDetailOnePerson(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			w := newReconWeek(t, b)
			var spouse []api.SetlRecord
			for _, r := range w.records[0] {
				if r.IDCard == w.h.spouse.IDCard {
					spouse = append(spouse, r)
				}
			}
			if len(spouse) != 2 {
				t.Fatalf("the fixture has %d records of the spouse on day 0, want 2", len(spouse))
			}
			req := detailRequest(w.day, w.day, spouse[:1])
			req.IDCard = w.h.spouse.IDCard
			resp, err := w.client.ReconDetail(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			want := api.ReconDetailResponse{
				{SetlID: spouse[0].SetlID, StmtRslt: "0", Memo: "一致"},
				{SetlID: spouse[1].SetlID, StmtRslt: "101", Memo: "机构无此记录"},
			}
			if len(*resp) != len(want) || (*resp)[0] != want[0] || (*resp)[1] != want[1] {
				t.Errorf("results %+v, want only the spouse's records %+v", *resp, want)
			}
		})
	}
}

func TestReconDetailDayBoundary(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			w := newReconWeek(t, b)
			ctx := context.Background()
			lastSecond := w.records[0][5] // paid at 23:59:59 of day 0
			midnight := w.records[1][0]   // paid at 00:00:00 of day 1

			// Each one claimed on the other's day is missing there and extra
			// on its own.
			resp, err := w.client.ReconDetail(ctx, detailRequest(w.day.AddDate(0, 0, 1), w.day.AddDate(0, 0, 1), []api.SetlRecord{lastSecond}))
			if err != nil {
				t.Fatal(err)
			}
			want := api.ReconDetailResponse{
				{SetlID: lastSecond.SetlID, StmtRslt: "102", Memo: "中心无此记录"},
				{SetlID: midnight.SetlID, StmtRslt: "101", Memo: "机构无此记录"},
			}
			if len(*resp) != 2 || (*resp)[0] != want[0] || (*resp)[1] != want[1] {
				t.Errorf("day 1 with day 0's last record: %+v, want %+v", *resp, want)
			}

			both := append(append([]api.SetlRecord(nil), w.records[0]...), w.records[1]...)
			resp, err = w.client.ReconDetail(ctx, detailRequest(w.day, w.day.AddDate(0, 0, 1), both))
			if err != nil {
				t.Fatal(err)
			}
			if len(*resp) != len(both) {
				t.Errorf("over both days: %d results for %d records", len(*resp), len(both))
			}
			for _, r := range *resp {
				if r.StmtRslt != "0" {
					t.Errorf("over both days, record %s: stmtRslt %s memo %s, want 0", r.SetlID, r.StmtRslt, r.Memo)
				}
			}
		})
	}
}

func TestReconDetailEmptyRange(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			env := startEnv(t, b)
			client := env.Client(t, keyAppID)
			day := shanghaiMidnight(env.Clock.Now())
			resp, err := client.ReconDetail(context.Background(), detailRequest(day, day.AddDate(0, 0, 30), nil))
			if err != nil {
				t.Fatal(err)
			}
			if resp == nil || len(*resp) != 0 {
				t.Errorf("detail of a range without records: %+v, want an empty list", resp)
			}
			total, err := client.ReconTotal(context.Background(), totalRequest(t, day, day, nil))
			if err != nil {
				t.Fatal(err)
			}
			if total.StmtRslt != "0" {
				t.Errorf("totals of a range without records: %+v, want balanced", total)
			}
		})
	}
}

func TestReconRejections(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			env := startEnv(t, b)
			client := env.Client(t, keyAppID)
			ctx := context.Background()
			day := shanghaiMidnight(env.Clock.Now())
			record := api.SetlRecord{SetlID: "S1", PayAmt: "1.00", AcctPay: "1.00", AcctMulaidPay: "0.00", PsnCashPay: "0.00",
				Name: "测户主", IDCard: "350102198001010010", HiPayNo: "H1"}

			details := []struct {
				name    string
				edit    func(r *api.ReconDetailRequest)
				code    int
				message string
			}{
				{"date without zeros", func(r *api.ReconDetailRequest) { r.StmtBegndate = "2026-3-1" }, protocol.CodeBadField, "字段【stmt_begndate】格式错误"},
				{"no end date", func(r *api.ReconDetailRequest) { r.StmtEnddate = "" }, protocol.CodeBadField, "字段【stmt_enddate】格式错误"},
				{"end before begin", func(r *api.ReconDetailRequest) { r.StmtEnddate = reconDate(day.AddDate(0, 0, -1)) }, protocol.CodeBadField, "字段【stmt_enddate】格式错误"},
				{"32 days", func(r *api.ReconDetailRequest) { r.StmtEnddate = reconDate(day.AddDate(0, 0, 31)) }, protocol.CodeBadField, "字段【stmt_enddate】格式错误"},
				{"amount with three decimals", func(r *api.ReconDetailRequest) {
					r.SetlDDTOList = []api.SetlRecord{record, record}
					r.SetlDDTOList[1].SetlID, r.SetlDDTOList[1].AcctPay = "S2", "1.001"
				}, protocol.CodeBadField, "字段【setlDDTOList[1].acct_pay】格式错误"},
				{"empty setlId", func(r *api.ReconDetailRequest) { r.SetlDDTOList[0].SetlID = "" }, protocol.CodeBadField, "字段【setlDDTOList[0].setlId】格式错误"},
				{"other org", func(r *api.ReconDetailRequest) { r.OrgCode = "ORG999" }, protocol.CodeChannelMismatch, ""},
				{"no service id", func(r *api.ReconDetailRequest) { r.ServiceID = "" }, protocol.CodeServiceIDEmpty, ""},
			}
			for _, c := range details {
				t.Run("detail "+c.name, func(t *testing.T) {
					req := detailRequest(day, day, []api.SetlRecord{record})
					c.edit(req)
					_, err := client.ReconDetail(ctx, req)
					var be *sdk.BusinessError
					if !errors.As(err, &be) || be.Code != c.code {
						t.Fatalf("error %v, want business code %d", err, c.code)
					}
					if c.message != "" && be.Message != c.message {
						t.Errorf("message %q, want %q", be.Message, c.message)
					}
				})
			}

			if _, err := client.ReconDetail(ctx, detailRequest(day, day.AddDate(0, 0, 30), nil)); err != nil {
				t.Errorf("31 days: %v, want accepted", err)
			}

			totals := []struct {
				name  string
				edit  func(r *api.ReconTotalRequest)
				field string
			}{
				{"negative count", func(r *api.ReconTotalRequest) { r.FixmedinsSetlCnt = "-1" }, "fixmedins_setl_cnt"},
				{"count with leading zero", func(r *api.ReconTotalRequest) { r.FixmedinsSetlCnt = "01" }, "fixmedins_setl_cnt"},
				{"count not a number", func(r *api.ReconTotalRequest) { r.FixmedinsSetlCnt = "3笔" }, "fixmedins_setl_cnt"},
				{"amount with plus", func(r *api.ReconTotalRequest) { r.PayAmt = "+1.00" }, "pay_amt"},
				{"empty amount", func(r *api.ReconTotalRequest) { r.PsnCashPay = "" }, "psn_cash_pay"},
				{"minus zero", func(r *api.ReconTotalRequest) { r.AcctMulaidPay = "-0.00" }, "acct_mulaid_pay"},
				{"bad date", func(r *api.ReconTotalRequest) { r.StmtBegndate = "2026/03/01" }, "stmt_begndate"},
			}
			for _, c := range totals {
				t.Run("total "+c.name, func(t *testing.T) {
					req := totalRequest(t, day, day, nil)
					c.edit(req)
					_, err := client.ReconTotal(ctx, req)
					var be *sdk.BusinessError
					if !errors.As(err, &be) || be.Code != protocol.CodeBadField {
						t.Fatalf("error %v, want business code %d", err, protocol.CodeBadField)
					}
					if want := "字段【" + c.field + "】格式错误"; be.Message != want {
						t.Errorf("message %q, want %q", be.Message, want)
					}
				})
			}
		})
	}
}

func TestReconDetailTooManyRecords(t *testing.T) {
	if testing.Short() {
		t.Skip("sends 200,001 records")
	}
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			env := startEnv(t, b)
			client := env.Client(t, keyAppID)
			day := shanghaiMidnight(env.Clock.Now())
			records := make([]api.SetlRecord, service.DefaultMaxDetailRecords+1)
			for i := range records {
				records[i].SetlID = strconv.Itoa(i)
			}
			_, err := client.ReconDetail(context.Background(), detailRequest(day, day, records))
			if code := sdk.Code(err); code != protocol.CodeTooManyRecords {
				t.Errorf("%d records: %v, want %d", len(records), err, protocol.CodeTooManyRecords)
			}
		})
	}
}

// bulkRecords is the count of platform records TestReconDetailLarge
// inserts, and of records it sends.
const bulkRecords = 100_000

// insertBulkPayments inserts n paid orders of one line each for person, paid
// at paidAt, straight into the database. Order i has hi_pay_no BULKi and
// set id SPBULKi. It has pay kind 2 when i is even and 1 otherwise, and its
// amount is 1.00 yuan plus i%1000 fen. The orders share the household's
// authorization and have no ledger entries, which reconciliation does not
// read.
func insertBulkPayments(t *testing.T, b storetest.Backend, person store.PersonRecord, paidAt time.Time, n int) {
	t.Helper()
	ctx := context.Background()
	series := fmt.Sprintf("WITH RECURSIVE seq(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < %d) ", n)
	at := fmt.Sprintf("'%s'", paidAt.UTC().Format("2006-01-02T15:04:05.000000Z"))
	blob := func(expr string) string { return "CAST(" + expr + " AS BLOB)" }
	if b.Name == "postgres" {
		at += "::timestamptz"
		blob = func(expr string) string { return "convert_to(" + expr + ", 'UTF8')" }
	}
	statements := []string{
		series + `INSERT INTO movements (kind, reference, created_at) SELECT 'payment', 'BULK' || n, ` + at + ` FROM seq`,
		series + `INSERT INTO orders (appid, org_code, hi_pay_no, pay_no, settle_code, request_hash, request,
			auth_code_hash, auth_code_sealed, pay_kind, total, notify_url, redirect_url, fail_url, ticket_hash,
			ticket_expiry, status, created_at, paid_at)
			SELECT '` + keyAppID + `', '` + servertest.OrgCode + `', 'BULK' || n, 'PBULK' || n, 'CBULK' || n, ` + blob("'request ' || n") + `, '{}',
				(SELECT code_hash FROM authorizations LIMIT 1), ` + blob("'sealed'") + `,
				CASE WHEN n % 2 = 0 THEN '2' ELSE '1' END, 100 + n % 1000, '', '', '', ` + blob("'ticket ' || n") + `,
				` + at + `, 'paid', ` + at + `, ` + at + ` FROM seq`,
		`INSERT INTO order_persons (order_id, position, person_id, name, idcard, cert_type, region, sub_his_pay_no,
			amount, payer_person_id, set_id, movement_id)
			SELECT o.id, 0, p.id, p.name, p.idcard, p.cert_type, p.region, o.hi_pay_no || '-1', o.total, p.id, 'S' || o.pay_no, m.id
			FROM orders o JOIN movements m ON m.reference = o.hi_pay_no
			JOIN persons p ON p.idcard = '` + person.IDCard + `'
			WHERE o.hi_pay_no LIKE 'BULK%'`,
	}
	for _, statement := range statements {
		if _, err := b.DB.ExecContext(ctx, statement); err != nil {
			t.Fatalf("bulk insert: %v\n%s", err, statement)
		}
	}
}

// bulkRecord is the institution's record of bulk order i, balanced.
func bulkRecord(person store.PersonRecord, i int) api.SetlRecord {
	amount := yuan(100 + int64(i%1000))
	r := api.SetlRecord{SetlID: "SPBULK" + strconv.Itoa(i), PayAmt: amount, AcctPay: "0.00", AcctMulaidPay: "0.00", PsnCashPay: "0.00",
		Name: person.Name, IDCard: person.IDCard, HiPayNo: "BULK" + strconv.Itoa(i)}
	if i%2 == 0 {
		r.AcctMulaidPay = amount
	} else {
		r.AcctPay = amount
	}
	return r
}

// heapSampler records the peak of the process's heap while it runs: the
// bytes of heap objects, live or not yet swept, which runtime/metrics reads
// without stopping the world.
type heapSampler struct {
	stop chan struct{}
	done sync.WaitGroup
	peak uint64
}

const heapObjectsMetric = "/memory/classes/heap/objects:bytes"

func heapObjects() uint64 {
	sample := []metrics.Sample{{Name: heapObjectsMetric}}
	metrics.Read(sample)
	return sample[0].Value.Uint64()
}

func startHeapSampler(interval time.Duration) *heapSampler {
	h := &heapSampler{stop: make(chan struct{})}
	h.done.Add(1)
	go func() {
		defer h.done.Done()
		ticker := time.NewTicker(interval)
		defer ticker.Stop()
		for {
			h.peak = max(h.peak, heapObjects())
			select {
			case <-h.stop:
				return
			case <-ticker.C:
			}
		}
	}()
	return h
}

// Stop ends sampling and returns the peak in bytes.
func (h *heapSampler) Stop() uint64 {
	close(h.stop)
	h.done.Wait()
	return h.peak
}

// TestReconDetailLarge compares 100,000 records: the platform's inserted
// in bulk, the request's built to match them except three. It logs the
// peak heap of the test process, which holds the server and the SDK
// client, and the heap before the call, when the request is already built.
// Set CHSGATE_RECON_HEAP_REPORT to a file to also append the figures there.
func TestReconDetailLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("compares 100,000 records")
	}
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			env := startEnv(t, b)
			client := env.Client(t, keyAppID)
			h := env.importHousehold(t)
			env.authorizePersons(t, client, h.head)
			day := shanghaiMidnight(env.Clock.Now()).AddDate(0, 0, 1)
			insertBulkPayments(t, b, h.head, day.Add(10*time.Hour), bulkRecords)
			env.Clock.Set(day.Add(20 * time.Hour))

			// Record 7 differs, the last is missing and one more is unknown.
			records := make([]api.SetlRecord, 0, bulkRecords)
			for i := 1; i < bulkRecords; i++ {
				records = append(records, bulkRecord(h.head, i))
			}
			records[6].PayAmt = "0.01"
			records = append(records, api.SetlRecord{SetlID: "SPBULKX", PayAmt: "1.00", AcctPay: "1.00", AcctMulaidPay: "0.00",
				PsnCashPay: "0.00", Name: h.head.Name, IDCard: h.head.IDCard, HiPayNo: "BULKX"})
			req := detailRequest(day, day, records)
			payload, err := json.Marshal(req)
			if err != nil {
				t.Fatal(err)
			}
			payloadSize := len(payload)
			payload = nil

			// The second collection empties the sync.Pool victim caches, where
			// encoding/json keeps its last buffers, so the baseline holds
			// only live data.
			runtime.GC()
			runtime.GC()
			baseline := heapObjects()
			sampler := startHeapSampler(time.Millisecond)
			start := time.Now()
			resp, err := client.ReconDetail(context.Background(), req)
			elapsed := time.Since(start)
			peak := sampler.Stop()
			if err != nil {
				t.Fatal(err)
			}

			counts := map[string]int{}
			for _, r := range *resp {
				counts[r.StmtRslt]++
			}
			want := map[string]int{"0": bulkRecords - 2, "103": 1, "102": 1, "101": 1}
			for rslt, n := range want {
				if counts[rslt] != n {
					t.Errorf("%d results of stmtRslt %s, want %d (all: %v)", counts[rslt], rslt, n, counts)
				}
			}
			if last := (*resp)[len(*resp)-1]; last.SetlID != "SPBULK"+strconv.Itoa(bulkRecords) || last.StmtRslt != "101" {
				t.Errorf("last result %+v, want the missing record as 101", last)
			}
			if r := (*resp)[6]; r.StmtRslt != "103" || !strings.HasPrefix(r.Memo, "划扣金额不一致：机构 0.01，中心 1.07") {
				t.Errorf("result of the changed record: %+v", r)
			}

			const mib = 1 << 20
			growth := int64(peak) - int64(baseline)
			report := fmt.Sprintf("%s: %d records, %.1f MiB of business JSON, in %v; heap before the call %.1f MiB, peak %.1f MiB, growth %.1f MiB",
				b.Name, len(records), float64(payloadSize)/mib, elapsed.Round(time.Millisecond),
				float64(baseline)/mib, float64(peak)/mib, float64(growth)/mib)
			t.Log(report)
			// A loose guard, about 2.5 times the largest growth recorded in
			// docs/benchmarks.md, that catches a change which keeps extra
			// copies of the records.
			if growth > 1<<30 {
				t.Errorf("heap grew by %.1f MiB during the call, more than 1 GiB", float64(growth)/mib)
			}
			if path := os.Getenv("CHSGATE_RECON_HEAP_REPORT"); path != "" {
				f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				fmt.Fprintln(f, report)
			}
		})
	}
}
