package server_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"chsgate/api"
	"chsgate/internal/servertest"
	"chsgate/internal/store"
	"chsgate/internal/store/storetest"
	"chsgate/protocol"
	"chsgate/sdk"
)

// household is a family imported for payment tests, with exact balances.
type household struct {
	head, spouse, child, outsider store.PersonRecord
}

// importHousehold adds a family of three, a head who is an employee with
// 1,000.00 yuan, a spouse with 50.00, a child without an account, and an
// employee of another family with 500.00.
func (e *testEnv) importHousehold(t *testing.T) household {
	t.Helper()
	person := func(name, id17, insutype string, balance int64, family, relation string) store.PersonRecord {
		return store.PersonRecord{
			Name: name, IDCard: servertest.WithCheckDigit(id17), CertType: "01", Region: "350100",
			InsuType: insutype, InsuStatus: "1", Balance: balance, HasAccount: insutype == "310",
			FamilyID: family, Relation: relation, Phone: "13900000000",
		}
	}
	h := household{
		head:     person("测户主", "35010219800101001", "310", 100000, "PAYTEST1", "0"),
		spouse:   person("测配偶", "35010219820202002", "310", 5000, "PAYTEST1", "1"),
		child:    person("测子女", "35010220100303003", "390", 0, "PAYTEST1", "6"),
		outsider: person("测外人", "35010219750404004", "310", 50000, "PAYTEST2", "0"),
	}
	h.child.CompanyName = "鼓楼区东街街道"
	servertest.ImportPersons(t, e.Backend.Store, []store.PersonRecord{h.head, h.spouse, h.child, h.outsider}, e.Clock.Now())
	return h
}

func (e *testEnv) authorizePersons(t *testing.T, client *sdk.Client, applicant store.PersonRecord, others ...store.PersonRecord) string {
	t.Helper()
	req := &api.AuthPageRequest{
		AppID: keyAppID, ServiceID: servertest.ServiceID, OrgCode: servertest.OrgCode, UserID: "hmb-user-2",
		Name: applicant.Name, IDCard: applicant.IDCard, CertType: applicant.CertType, Phone: "13800138000",
		RedirectURL: e.redirects + "/auth/done", FailURL: e.redirects + "/auth/failed", URLType: "1",
		PayList: []api.AuthPerson{{Name: applicant.Name, IDCard: applicant.IDCard, CertType: "01", Relation: relationOr(applicant.Relation)}},
	}
	for _, p := range others {
		req.PayList = append(req.PayList, api.AuthPerson{Name: p.Name, IDCard: p.IDCard, CertType: "01", Relation: relationOr(p.Relation)})
	}
	return e.authorize(t, client, req)
}

// payRequest builds a CI00.02.00.01 of the given amounts, in fen, per person.
func (e *testEnv) payRequest(code, hiPayNo, payKind string, persons []store.PersonRecord, amounts []int64) *api.PayPageRequest {
	req := &api.PayPageRequest{
		AppID: keyAppID, ServiceID: servertest.ServiceID, OrgCode: servertest.OrgCode, UserID: "hmb-user-2",
		AuthCode: code, HiPayNo: hiPayNo, HiPayDate: e.Clock.Now().In(protocol.Shanghai()).Format("2006-01-02 15:04:05"),
		PayKind: payKind, RedirectURL: e.redirects + "/pay/done", FailURL: e.redirects + "/pay/failed",
		NotifyURL: e.redirects + "/notify", URLType: "1",
	}
	var total int64
	for i, p := range persons {
		req.PayList = append(req.PayList, api.PayPerson{
			Name: p.Name, IDCard: p.IDCard, CertType: "01", Region: p.Region,
			PayAmt: yuan(amounts[i]), SubHisPayNo: hiPayNo + "-" + strconv.Itoa(i+1),
		})
		total += amounts[i]
	}
	req.MedfeeSumamt = yuan(total)
	return req
}

func yuan(fen int64) string { return fmt.Sprintf("%d.%02d", fen/100, fen%100) }

// confirmPay confirms a payment page through the sandbox endpoint and
// returns the address the browser is sent to.
func (e *testEnv) confirmPay(t *testing.T, linkURL string, confirm bool) (*url.URL, int) {
	t.Helper()
	return servertest.SandboxRedirect(t, e.URL, linkURL, "confirm", fmt.Sprintf(`{"confirm":%t}`, confirm))
}

func (e *testEnv) balance(t *testing.T, p store.PersonRecord) int64 {
	t.Helper()
	return servertest.Balance(t, e.Backend.Store, p)
}

func TestPaymentMutualAidAndRefunds(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			env := startEnv(t, b)
			client := env.Client(t, keyAppID)
			ctx := context.Background()
			h := env.importHousehold(t)
			code := env.authorizePersons(t, client, h.head, h.spouse, h.child)

			req := env.payRequest(code, "HMBPAY0001", "2", []store.PersonRecord{h.head, h.spouse, h.child}, []int64{10000, 10000, 10000})
			page, err := client.PayPage(ctx, req)
			if err != nil {
				t.Fatalf("CI00.02.00.01: %v", err)
			}
			if !strings.HasPrefix(page.LinkURL, env.URL+"/h5/pay/") {
				t.Fatalf("link_url %s is not a payment page of this server", page.LinkURL)
			}
			again, err := client.PayPage(ctx, req)
			if err != nil || again.LinkURL != page.LinkURL {
				t.Errorf("same hi_pay_no and fields: %v, %v; want the same link_url", again, err)
			}
			changed := env.payRequest(code, "HMBPAY0001", "2", []store.PersonRecord{h.head, h.spouse, h.child}, []int64{10000, 10000, 20000})
			if _, err := client.PayPage(ctx, changed); sdk.Code(err) != protocol.CodeIdempotencyConflict {
				t.Errorf("same hi_pay_no, other fields: %v, want %d", err, protocol.CodeIdempotencyConflict)
			}

			before := env.balance(t, h.head)
			done, status := env.confirmPay(t, page.LinkURL, true)
			if done == nil || done.Path != "/pay/done" || done.Query().Get("code") == "" {
				t.Fatalf("confirmation: HTTP %d, sent to %v", status, done)
			}
			if got := env.balance(t, h.head); got != before-30000 {
				t.Errorf("head's balance %d after paying 300.00 from %d", got, before)
			}
			if _, status := env.confirmPay(t, page.LinkURL, true); status != http.StatusConflict {
				t.Errorf("second confirmation: HTTP %d, want 409", status)
			}

			result, err := client.SettleResult(ctx, &api.SettleResultRequest{Code: done.Query().Get("code")})
			if err != nil {
				t.Fatalf("CI00.02.00.02: %v", err)
			}
			if result.HiPayNo != "HMBPAY0001" || result.PayNo == "" || result.PayDate == "" || result.AuthCode != code || result.MedfeeSumamt != "300.00" {
				t.Errorf("settlement %+v", result)
			}
			for i, line := range result.PayList {
				if line.PayResult != "1" || line.AcctMulaidPay != "100.00" || line.AcctPay != "0.00" || line.SetID == "" {
					t.Errorf("line %d: %+v", i, line)
				}
			}

			// The code now refunds only.
			next := env.payRequest(code, "HMBPAY0002", "2", []store.PersonRecord{h.head}, []int64{100})
			if _, err := client.PayPage(ctx, next); sdk.Code(err) != protocol.CodeAuthExpired {
				t.Errorf("paying again with a spent code: %v, want %d", err, protocol.CodeAuthExpired)
			}
			if _, err := client.UserInfo(ctx, &api.UserInfoRequest{AuthCode: code}); sdk.Code(err) != protocol.CodeAuthExpired {
				t.Errorf("CI00.01.00.02 with a spent code: %v, want %d", err, protocol.CodeAuthExpired)
			}

			refund := func(hiRefundNo string, persons []store.PersonRecord, amounts []int64) (*api.RefundResponse, error) {
				r := &api.RefundRequest{AuthCode: code, PayNo: result.PayNo, HiRefundNo: hiRefundNo,
					HiRefundDate: env.Clock.Now().In(protocol.Shanghai()).Format("2006-01-02 15:04:05")}
				var total int64
				for i, p := range persons {
					r.PayList = append(r.PayList, api.RefundPerson{Name: p.Name, IDCard: p.IDCard, CertType: "01", Region: p.Region, RefundAmt: yuan(amounts[i])})
					total += amounts[i]
				}
				r.RefundAmt = yuan(total)
				return client.Refund(ctx, r)
			}
			r1, err := refund("HMBREF0001", []store.PersonRecord{h.spouse, h.child}, []int64{5000, 10000})
			if err != nil {
				t.Fatalf("CI00.02.00.03: %v", err)
			}
			if r1.RefundAmt != "150.00" || len(r1.PayList) != 2 || r1.RefundNo == "" {
				t.Errorf("refund %+v", r1)
			}
			if got := env.balance(t, h.head); got != before-30000+15000 {
				t.Errorf("head's balance %d after a refund of 150.00", got)
			}
			if again, err := refund("HMBREF0001", []store.PersonRecord{h.spouse, h.child}, []int64{5000, 10000}); err != nil || again.RefundNo != r1.RefundNo {
				t.Errorf("same hi_refund_no: %v, %v; want the same refund", again, err)
			}
			if _, err := refund("HMBREF0001", []store.PersonRecord{h.head}, []int64{100}); sdk.Code(err) != protocol.CodeIdempotencyConflict {
				t.Errorf("same hi_refund_no, other fields: %v", err)
			}
			if _, err := refund("HMBREF0002", []store.PersonRecord{h.spouse}, []int64{100}); sdk.Code(err) != protocol.CodeRefundRepeated {
				t.Errorf("second refund of a person: %v, want %d", err, protocol.CodeRefundRepeated)
			}
			if _, err := refund("HMBREF0003", []store.PersonRecord{h.head}, []int64{10001}); sdk.Code(err) != protocol.CodeRefundTooLarge {
				t.Errorf("refund above the payment: %v, want %d", err, protocol.CodeRefundTooLarge)
			}

			query, err := client.Query(ctx, &api.QueryRequest{AppID: keyAppID, ServiceID: servertest.ServiceID, OrgCode: servertest.OrgCode, HiPayNo: "HMBPAY0001"})
			if err != nil {
				t.Fatalf("CI00.02.00.04: %v", err)
			}
			wantStat := []string{"1", "2", "2"}
			wantRefund := []string{"0.00", "50.00", "100.00"}
			for i, line := range query.PayList {
				if line.IsUsePay != "1" || line.PayStat != wantStat[i] || line.RefundAmt != wantRefund[i] {
					t.Errorf("query line %d: %+v", i, line)
				}
			}
			if _, err := client.Query(ctx, &api.QueryRequest{AppID: keyAppID, ServiceID: servertest.ServiceID, OrgCode: servertest.OrgCode}); sdk.Code(err) != protocol.CodePayNoBothEmpty {
				t.Errorf("query without numbers: %v", err)
			}
			if _, err := client.Query(ctx, &api.QueryRequest{AppID: keyAppID, ServiceID: servertest.ServiceID, OrgCode: servertest.OrgCode, PayNo: "nope"}); sdk.Code(err) != protocol.CodeOrderNotFound {
				t.Errorf("query of an unknown order: %v", err)
			}
			if err := b.Store.LedgerCheck(ctx); err != nil {
				t.Errorf("ledger: %v", err)
			}
		})
	}
}

func TestPaymentShortfallAtConfirmation(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			env := startEnv(t, b)
			client := env.Client(t, keyAppID)
			ctx := context.Background()
			h := env.importHousehold(t)
			code := env.authorizePersons(t, client, h.spouse)

			// Each order alone fits the spouse's 50.00; the code pays one.
			a, err := client.PayPage(ctx, env.payRequest(code, "HMBSHORTA", "1", []store.PersonRecord{h.spouse}, []int64{3000}))
			if err != nil {
				t.Fatal(err)
			}
			bPage, err := client.PayPage(ctx, env.payRequest(code, "HMBSHORTB", "1", []store.PersonRecord{h.spouse}, []int64{3000}))
			if err != nil {
				t.Fatal(err)
			}
			if done, _ := env.confirmPay(t, a.LinkURL, true); done == nil || done.Path != "/pay/done" {
				t.Fatalf("first order: %v", done)
			}
			failed, _ := env.confirmPay(t, bPage.LinkURL, true)
			if failed == nil || failed.Path != "/pay/failed" || failed.Query().Get("code") == "" {
				t.Fatalf("second order sent the browser to %v, want fail_url with the settlement code", failed)
			}
			result, err := client.SettleResult(ctx, &api.SettleResultRequest{Code: failed.Query().Get("code")})
			if err != nil {
				t.Fatal(err)
			}
			if line := result.PayList[0]; line.PayResult != "0" || line.FailCode == "" {
				t.Errorf("failed settlement %+v", line)
			}
			if got := env.balance(t, h.spouse); got != 2000 {
				t.Errorf("spouse's balance %d, want 2000 after one payment of 30.00", got)
			}
		})
	}
}

func TestPayPageRejections(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			env := startEnv(t, b)
			client := env.Client(t, keyAppID)
			ctx := context.Background()
			h := env.importHousehold(t)
			headCode := env.authorizePersons(t, client, h.head, h.spouse, h.child)
			family := []store.PersonRecord{h.head, h.spouse, h.child}

			cases := []struct {
				name string
				req  *api.PayPageRequest
				code int
			}{
				{"empty paylist", env.payRequest(headCode, "R01", "2", nil, nil), protocol.CodePaylistEmpty},
				{"sum differs", func() *api.PayPageRequest {
					r := env.payRequest(headCode, "R02", "2", family, []int64{100, 100, 100})
					r.MedfeeSumamt = "3.01"
					return r
				}(), protocol.CodeTotalMismatch},
				{"no hi_pay_no", env.payRequest(headCode, "", "2", family, []int64{100, 100, 100}), protocol.CodeHiPayNoEmpty},
				{"no total", func() *api.PayPageRequest {
					r := env.payRequest(headCode, "R03", "2", family, []int64{100, 100, 100})
					r.MedfeeSumamt = ""
					return r
				}(), protocol.CodeSumAmountEmpty},
				{"no auth code", env.payRequest("", "R04", "2", family, []int64{100, 100, 100}), protocol.CodeAuthCodeEmpty},
				{"unknown auth code", env.payRequest("no-such-code", "R05", "2", family, []int64{100, 100, 100}), protocol.CodeAuthCodeInvalid},
				{"not authorized", env.payRequest(headCode, "R06", "2", []store.PersonRecord{h.outsider}, []int64{100}), protocol.CodeNotAuthorized},
				{"family short", env.payRequest(headCode, "R07", "2", family, []int64{100000, 100, 100}), protocol.CodeFamilyBalanceShort},
				{"personal short", env.payRequest(headCode, "R08", "1", []store.PersonRecord{h.spouse}, []int64{5001}), protocol.CodePersonalBalanceShort},
				{"no account", env.payRequest(headCode, "R09", "1", []store.PersonRecord{h.child}, []int64{100}), protocol.CodePersonalBalanceShort},
				{"zero amount", env.payRequest(headCode, "R10", "2", []store.PersonRecord{h.head}, []int64{0}), protocol.CodeBadField},
				{"hi_pay_no too long", env.payRequest(headCode, strings.Repeat("9", 33), "2", []store.PersonRecord{h.head}, []int64{100}), protocol.CodeBadField},
				{"foreign notify host", func() *api.PayPageRequest {
					r := env.payRequest(headCode, "R11", "2", []store.PersonRecord{h.head}, []int64{100})
					r.NotifyURL = "https://evil.example/notify"
					return r
				}(), protocol.CodeHostNotAllowed},
				{"other org", func() *api.PayPageRequest {
					r := env.payRequest(headCode, "R12", "2", []store.PersonRecord{h.head}, []int64{100})
					r.OrgCode = "ORG999"
					return r
				}(), protocol.CodeChannelMismatch},
			}
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					_, err := client.PayPage(ctx, c.req)
					var be *sdk.BusinessError
					if !errors.As(err, &be) || be.Code != c.code {
						t.Errorf("error %v, want business code %d", err, c.code)
					}
				})
			}

			// A non-head applicant cannot pay by mutual aid.
			spouseCode := env.authorizePersons(t, client, h.spouse)
			if _, err := client.PayPage(ctx, env.payRequest(spouseCode, "R13", "2", []store.PersonRecord{h.spouse}, []int64{100})); sdk.Code(err) != protocol.CodeNotHouseholdHead {
				t.Errorf("mutual aid by a non-head: %v, want %d", err, protocol.CodeNotHouseholdHead)
			}
			// A rejected request did not use its number up.
			if _, err := client.PayPage(ctx, env.payRequest(spouseCode, "R07", "1", []store.PersonRecord{h.spouse}, []int64{100})); err != nil {
				t.Errorf("reusing the number of a rejected request: %v", err)
			}
			if before := env.balance(t, h.head); before != 100000 {
				t.Errorf("rejections moved money: head's balance %d", before)
			}
		})
	}
}

func TestPaymentFamilyAndRefundRejections(t *testing.T) {
	for _, b := range storetest.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			env := startEnv(t, b)
			client := env.Client(t, keyAppID)
			ctx := context.Background()
			h := env.importHousehold(t)

			// A family whose head is a resident, without a personal account.
			residentHead := store.PersonRecord{Name: "测居民户主", IDCard: servertest.WithCheckDigit("35010219700505005"), CertType: "01", Region: "350100",
				InsuType: "390", InsuStatus: "1", FamilyID: "PAYTEST3", Relation: "0", CompanyName: "鼓楼区东街街道"}
			worker := store.PersonRecord{Name: "测职工成员", IDCard: servertest.WithCheckDigit("35010219950606006"), CertType: "01", Region: "350100",
				InsuType: "310", InsuStatus: "1", Balance: 10000, HasAccount: true, FamilyID: "PAYTEST3", Relation: "6"}
			if _, err := b.Store.ImportPersons(ctx, []store.PersonRecord{residentHead, worker}, env.Clock.Now()); err != nil {
				t.Fatal(err)
			}
			residentCode := env.authorizePersons(t, client, residentHead, worker)
			if _, err := client.PayPage(ctx, env.payRequest(residentCode, "F01", "2", []store.PersonRecord{worker}, []int64{100})); sdk.Code(err) != protocol.CodeNoFamily {
				t.Errorf("mutual aid from a head without an account: %v, want %d", err, protocol.CodeNoFamily)
			}

			// The spouse leaves the family after the authorization.
			headCode := env.authorizePersons(t, client, h.head, h.spouse)
			moved := h.spouse
			moved.FamilyID, moved.Relation = "PAYTEST4", "0"
			if _, err := b.Store.ImportPersons(ctx, []store.PersonRecord{moved}, env.Clock.Now()); err != nil {
				t.Fatal(err)
			}
			if _, err := client.PayPage(ctx, env.payRequest(headCode, "F02", "2", []store.PersonRecord{h.head, h.spouse}, []int64{100, 100})); sdk.Code(err) != protocol.CodeNotOneFamily {
				t.Errorf("mutual aid for a person of another network: %v, want %d", err, protocol.CodeNotOneFamily)
			}

			// A personal-account order, refused refunds while it waits, then
			// refunds with the wrong numbers and codes once it is paid.
			code := env.authorizePersons(t, client, h.outsider)
			page, err := client.PayPage(ctx, env.payRequest(code, "F03", "1", []store.PersonRecord{h.outsider}, []int64{1000}))
			if err != nil {
				t.Fatal(err)
			}
			pending, err := client.Query(ctx, &api.QueryRequest{AppID: keyAppID, ServiceID: servertest.ServiceID, OrgCode: servertest.OrgCode, HiPayNo: "F03"})
			if err != nil {
				t.Fatal(err)
			}
			refundReq := func(authCode, payNo, hiRefundNo string, persons ...store.PersonRecord) *api.RefundRequest {
				r := &api.RefundRequest{AuthCode: authCode, PayNo: payNo, HiRefundNo: hiRefundNo,
					HiRefundDate: env.Clock.Now().In(protocol.Shanghai()).Format("2006-01-02 15:04:05")}
				for _, p := range persons {
					r.PayList = append(r.PayList, api.RefundPerson{Name: p.Name, IDCard: p.IDCard, CertType: "01", Region: p.Region, RefundAmt: "1.00"})
				}
				r.RefundAmt = yuan(int64(100 * len(persons)))
				return r
			}
			if _, err := client.Refund(ctx, refundReq(code, pending.PayNo, "FR1", h.outsider)); sdk.Code(err) != protocol.CodeOrderStateConflict {
				t.Errorf("refund of an unpaid order: %v, want %d", err, protocol.CodeOrderStateConflict)
			}
			if done, _ := env.confirmPay(t, page.LinkURL, true); done == nil || done.Path != "/pay/done" {
				t.Fatalf("confirmation sent the browser to %v", done)
			}
			if _, err := client.Refund(ctx, refundReq(code, "P-NO-SUCH-ORDER", "FR2", h.outsider)); sdk.Code(err) != protocol.CodeOrderNotFound {
				t.Errorf("refund of an unknown order: %v, want %d", err, protocol.CodeOrderNotFound)
			}
			if _, err := client.Refund(ctx, refundReq("no-such-code", pending.PayNo, "FR3", h.outsider)); sdk.Code(err) != protocol.CodeAuthCodeInvalid {
				t.Errorf("refund with an unknown code: %v, want %d", err, protocol.CodeAuthCodeInvalid)
			}
			if _, err := client.Refund(ctx, refundReq(residentCode, pending.PayNo, "FR4", h.outsider)); sdk.Code(err) != protocol.CodeNotAuthorized {
				t.Errorf("refund with another applicant's code: %v, want %d", err, protocol.CodeNotAuthorized)
			}
			if _, err := client.Refund(ctx, refundReq(code, pending.PayNo, "FR5", h.outsider, h.head)); sdk.Code(err) != protocol.CodeRefundSinglePerson {
				t.Errorf("personal-account refund of two persons: %v, want %d", err, protocol.CodeRefundSinglePerson)
			}
			// The order's own code refunds even after a newer authorization
			// superseded it.
			env.authorizePersons(t, client, h.outsider)
			if _, err := client.Refund(ctx, refundReq(code, pending.PayNo, "FR6", h.outsider)); err != nil {
				t.Errorf("refund with the order's superseded code: %v", err)
			}
		})
	}
}
