package service

import (
	"strings"
	"testing"

	"chsgate/api"
	"chsgate/internal/channel"
	"chsgate/internal/store"
	"chsgate/protocol"
)

func testChannel() *channel.Channel {
	return &channel.Channel{Channel: store.Channel{
		AppID: "hmb01", OrgCode: "ORG001", ServiceID: "SVC001",
		AllowedHosts: []string{"hmb.example.cn", "127.0.0.1:8443"},
	}}
}

func validPayRequest() *api.PayPageRequest {
	return &api.PayPageRequest{
		AppID: "hmb01", ServiceID: "SVC001", OrgCode: "ORG001", UserID: "u1", AuthCode: "code",
		HiPayNo: "HMB0001", HiPayDate: "2026-12-04 10:15:30", MedfeeSumamt: "30.50", PayKind: "2",
		RedirectURL: "https://hmb.example.cn/done", FailURL: "https://hmb.example.cn/failed",
		NotifyURL: "https://127.0.0.1:8443/notify", URLType: "1",
		PayList: []api.PayPerson{
			{Name: "林建华", IDCard: "35010219800315123X", CertType: "01", Region: "350100", PayAmt: "20.50", SubHisPayNo: "HMB0001-1"},
			{Name: "陈秀英", IDCard: "350102198207221244", CertType: "01", Region: "350100", PayAmt: "10", SubHisPayNo: "HMB0001-2"},
		},
	}
}

func TestValidatePayRequestCodes(t *testing.T) {
	cases := []struct {
		name   string
		change func(r *api.PayPageRequest)
		code   int
	}{
		{"no appid", func(r *api.PayPageRequest) { r.AppID = "" }, protocol.CodeAppIDEmpty},
		{"no service_id", func(r *api.PayPageRequest) { r.ServiceID = "" }, protocol.CodeServiceIDEmpty},
		{"no org_code", func(r *api.PayPageRequest) { r.OrgCode = "" }, protocol.CodeOrgCodeEmpty},
		{"other appid", func(r *api.PayPageRequest) { r.AppID = "hmb02" }, protocol.CodeChannelMismatch},
		{"other service_id", func(r *api.PayPageRequest) { r.ServiceID = "SVC002" }, protocol.CodeServiceIDUnknown},
		{"no hi_pay_no", func(r *api.PayPageRequest) { r.HiPayNo = "" }, protocol.CodeHiPayNoEmpty},
		{"long hi_pay_no", func(r *api.PayPageRequest) { r.HiPayNo = strings.Repeat("1", 33) }, protocol.CodeBadField},
		{"no total", func(r *api.PayPageRequest) { r.MedfeeSumamt = "" }, protocol.CodeSumAmountEmpty},
		{"no auth code", func(r *api.PayPageRequest) { r.AuthCode = "" }, protocol.CodeAuthCodeEmpty},
		{"empty paylist", func(r *api.PayPageRequest) { r.PayList = nil }, protocol.CodePaylistEmpty},
		{"exponent total", func(r *api.PayPageRequest) { r.MedfeeSumamt = "3.05e1" }, protocol.CodeBadField},
		{"bad date", func(r *api.PayPageRequest) { r.HiPayDate = "2026-12-04T10:15:30" }, protocol.CodeBadField},
		{"pay kind 3", func(r *api.PayPageRequest) { r.PayKind = "3" }, protocol.CodeBadField},
		{"url type 09", func(r *api.PayPageRequest) { r.URLType = "09" }, protocol.CodeBadField},
		{"no fail_url", func(r *api.PayPageRequest) { r.FailURL = "" }, protocol.CodeBadField},
		{"foreign redirect", func(r *api.PayPageRequest) { r.RedirectURL = "https://evil.example/done" }, protocol.CodeHostNotAllowed},
		{"notify wrong port", func(r *api.PayPageRequest) { r.NotifyURL = "https://127.0.0.1:9443/notify" }, protocol.CodeHostNotAllowed},
		{"notify with password", func(r *api.PayPageRequest) { r.NotifyURL = "https://u:p@hmb.example.cn/n" }, protocol.CodeBadField},
		{"ftp redirect", func(r *api.PayPageRequest) { r.RedirectURL = "ftp://hmb.example.cn/done" }, protocol.CodeBadField},
		{"no cert type", func(r *api.PayPageRequest) { r.PayList[0].CertType = "" }, protocol.CodeCertTypeEmpty},
		{"no name", func(r *api.PayPageRequest) { r.PayList[0].Name = "" }, protocol.CodeNameEmpty},
		{"no idcard", func(r *api.PayPageRequest) { r.PayList[0].IDCard = "" }, protocol.CodeIDNumberEmpty},
		{"bad check digit", func(r *api.PayPageRequest) { r.PayList[0].IDCard = "350102198003151231" }, protocol.CodeBadField},
		{"unknown region", func(r *api.PayPageRequest) { r.PayList[0].Region = "110100" }, protocol.CodeBadField},
		{"negative amount", func(r *api.PayPageRequest) { r.PayList[0].PayAmt = "-20.50" }, protocol.CodeBadField},
		{"three decimals", func(r *api.PayPageRequest) { r.PayList[0].PayAmt = "20.505" }, protocol.CodeBadField},
		{"zero amount", func(r *api.PayPageRequest) { r.PayList[1].PayAmt = "0.00" }, protocol.CodeBadField},
		{"no sub number", func(r *api.PayPageRequest) { r.PayList[1].SubHisPayNo = "" }, protocol.CodeBadField},
		{"same sub number", func(r *api.PayPageRequest) { r.PayList[1].SubHisPayNo = "HMB0001-1" }, protocol.CodeBadField},
		{"person twice", func(r *api.PayPageRequest) { r.PayList[1] = r.PayList[0]; r.PayList[1].SubHisPayNo = "x" }, protocol.CodeBadField},
		{"sum differs", func(r *api.PayPageRequest) { r.MedfeeSumamt = "30.51" }, protocol.CodeTotalMismatch},
	}
	s := &Services{}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := validPayRequest()
			c.change(req)
			_, _, err := s.validatePayRequest(testChannel(), req)
			if got := protocol.CodeOf(err); got != c.code {
				t.Errorf("code %d (%v), want %d", got, err, c.code)
			}
		})
	}
}

func TestValidatePayRequestAccepts(t *testing.T) {
	lines, total, err := (&Services{}).validatePayRequest(testChannel(), validPayRequest())
	if err != nil {
		t.Fatal(err)
	}
	if total != 3050 {
		t.Errorf("total %d fen, want 3050", total)
	}
	if len(lines) != 2 || lines[0].amount != 2050 || lines[1].amount != 1000 {
		t.Errorf("line amounts %+v", lines)
	}
}

func TestRequestHashIgnoresWireOrder(t *testing.T) {
	a, err := requestHash(validPayRequest())
	if err != nil {
		t.Fatal(err)
	}
	changed := validPayRequest()
	changed.PayList[1].PayAmt = "10.00"
	b, err := requestHash(changed)
	if err != nil {
		t.Fatal(err)
	}
	same, _ := requestHash(validPayRequest())
	if string(a) != string(same) {
		t.Error("the same request hashes differently")
	}
	if string(a) == string(b) {
		t.Error("a changed amount text keeps the hash")
	}
}

func TestFailureRedirectKeepsQuery(t *testing.T) {
	got := failureRedirect("https://hmb.example.cn/done?state=1", "", protocol.CodeAuthFailedOther, "其他授权异常")
	if !strings.HasPrefix(got, "https://hmb.example.cn/done?") || !strings.Contains(got, "state=1") || !strings.Contains(got, "code=20022") {
		t.Errorf("redirect %q", got)
	}
	if got := failureRedirect("https://a.example/done", "https://a.example/fail", 20022, "x"); !strings.HasPrefix(got, "https://a.example/fail?") {
		t.Errorf("redirect %q does not use fail_url", got)
	}
}

func TestOrderNumberShape(t *testing.T) {
	n, err := newOrderNumber("P", testNow)
	if err != nil {
		t.Fatal(err)
	}
	if len(n) != 27 || n[0] != 'P' || !strings.HasPrefix(n[1:], "20261204181530") {
		t.Errorf("order number %q", n)
	}
}
