package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"chsgate/api"
	"chsgate/internal/money"
	"chsgate/internal/server"
	"chsgate/internal/store"
	"chsgate/protocol"
)

// The amounts of the demo payment, in fen, one per family member: the
// premium of a family plan.
var premiums = []int64{58800, 40000, 30000}

const refundAmount = 20000 // fen, part of the second member's premium

func (d *demo) insured(ctx context.Context) (string, error) {
	req := &api.InsuredRequest{}
	for _, p := range d.family {
		req.UserList = append(req.UserList, api.InsuredPerson{Name: p.Name, IDCard: p.IDCard, CertType: p.CertType})
	}
	resp, err := d.client.Insured(ctx, req)
	if err != nil {
		return "", err
	}
	var lines []string
	for i, r := range resp.List {
		if r.IsInsu != "1" {
			return "", fmt.Errorf("%s is_insu %q, want 1", describe(d.family[i]), r.IsInsu)
		}
		uid, err := d.client.DecryptUserID(r.UserID)
		if err != nil || uid.IDCard != d.family[i].IDCard {
			return "", fmt.Errorf("user_id of person %d does not decrypt to the person: %v", i+1, err)
		}
		lines = append(lines, fmt.Sprintf("%s 已参保：%s；user_id 已用渠道私钥解密核对", describe(d.family[i]), r.InsuTypeName))
	}
	return strings.Join(lines, "\n"), nil
}

func (d *demo) authorize(ctx context.Context) (string, error) {
	head := d.family[0]
	req := &api.AuthPageRequest{
		AppID: server.DemoAppID, ServiceID: server.DemoServiceID, OrgCode: server.DemoOrgCode, UserID: "demo-user-1",
		Name: head.Name, IDCard: head.IDCard, CertType: head.CertType, Phone: "13800138000",
		RedirectURL: d.redirects + "/auth/done", FailURL: d.redirects + "/auth/failed", URLType: "1",
	}
	for _, p := range d.family {
		req.PayList = append(req.PayList, api.AuthPerson{Name: p.Name, IDCard: p.IDCard, CertType: p.CertType, Relation: p.Relation})
	}
	page, err := d.client.AuthPage(ctx, req)
	if err != nil {
		return "", err
	}
	redirect, err := d.sandboxPost(ctx, page.LinkURL, "/sandbox/auth/%s/complete", `{"face":"pass"}`)
	if err != nil {
		return "", err
	}
	d.authCode = redirect.Query().Get("authcode")
	if d.authCode == "" {
		return "", fmt.Errorf("the page sent the browser to %s without an authcode", redirect.Path)
	}
	return fmt.Sprintf("授权页面 %s…\n户主 %s 完成人脸核验，浏览器回到 redirect_url，获得授权码（有效期 90 天）", page.LinkURL[:len(d.url)+9], describe(head)), nil
}

// sandboxClient posts to the sandbox endpoints; a bounded wait keeps a
// stuck server from hanging the demo.
var sandboxClient = &http.Client{Timeout: 30 * time.Second}

// sandboxPost completes a page through the sandbox API, as a phone would
// by tapping through it, and returns where the browser is sent.
func (d *demo) sandboxPost(ctx context.Context, linkURL, pathFormat, body string) (*url.URL, error) {
	ticket := linkURL[strings.LastIndex(linkURL, "/")+1:]
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.url+fmt.Sprintf(pathFormat, ticket), strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := sandboxClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("sandbox page responded with HTTP %d: %s", resp.StatusCode, data)
	}
	var out struct{ Redirect string }
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, err
	}
	return url.Parse(out.Redirect)
}

func (d *demo) userInfo(ctx context.Context) (string, error) {
	resp, err := d.client.UserInfo(ctx, &api.UserInfoRequest{AuthCode: d.authCode})
	if err != nil {
		return "", err
	}
	if len(resp.UserList) != len(d.family) {
		return "", fmt.Errorf("%d persons authorized, want %d", len(resp.UserList), len(d.family))
	}
	var lines []string
	for i, u := range resp.UserList {
		if u.IsSuccess != "1" {
			return "", fmt.Errorf("%s not authorized: %s %s", describe(d.family[i]), u.FailCode, u.FailMsg)
		}
		role := "家庭成员"
		if u.AuthPsn == "1" {
			role = "申请人"
		}
		lines = append(lines, fmt.Sprintf("%s %s：授权成功，%s", role, describe(d.family[i]), u.InsuranceTypeName))
	}
	return strings.Join(lines, "\n"), nil
}

func (d *demo) pay(ctx context.Context) (string, error) {
	d.hiPayNo = "DEMO" + time.Now().In(protocol.Shanghai()).Format("20060102150405")
	now := time.Now().In(protocol.Shanghai()).Format("2006-01-02 15:04:05")
	req := &api.PayPageRequest{
		AppID: server.DemoAppID, ServiceID: server.DemoServiceID, OrgCode: server.DemoOrgCode, UserID: "demo-user-1",
		AuthCode: d.authCode, HiPayNo: d.hiPayNo, HiPayDate: now, PayKind: store.PayKindMutual,
		RedirectURL: d.redirects + "/pay/done", FailURL: d.redirects + "/pay/failed", NotifyURL: d.notifyURL, URLType: "1",
	}
	var total int64
	for i, p := range d.family {
		req.PayList = append(req.PayList, api.PayPerson{
			Name: p.Name, IDCard: p.IDCard, CertType: p.CertType, Region: p.Region,
			PayAmt: money.FormatFen(premiums[i]), SubHisPayNo: fmt.Sprintf("%s-%d", d.hiPayNo, i+1),
		})
		total += premiums[i]
	}
	req.MedfeeSumamt = money.FormatFen(total)
	page, err := d.client.PayPage(ctx, req)
	if err != nil {
		return "", err
	}
	redirect, err := d.sandboxPost(ctx, page.LinkURL, "/sandbox/pay/%s/confirm", `{"confirm":true}`)
	if err != nil {
		return "", err
	}
	if redirect.Path != "/pay/done" {
		return "", fmt.Errorf("the payment page sent the browser to %s, want redirect_url", redirect.Path)
	}
	d.settleCode = redirect.Query().Get("code")
	d.paid = total
	return fmt.Sprintf("订单 %s：户主账户为 %d 人共济划扣 %s 元（%s）\n户主在支付页面再次核验身份后确认，浏览器带结算 code 回到 redirect_url",
		d.hiPayNo, len(d.family), money.FormatFen(total), joinAmounts(premiums)), nil
}

func joinAmounts(fen []int64) string {
	var parts []string
	for _, a := range fen {
		parts = append(parts, money.FormatFen(a))
	}
	return strings.Join(parts, " + ")
}

func (d *demo) callback(ctx context.Context) (string, error) {
	select {
	case n := <-d.notices:
		if n.PayResult != "1" || n.HiPayNo != d.hiPayNo || n.AcctMulaidPay != money.FormatFen(d.paid) {
			return "", fmt.Errorf("callback %+v does not report the payment", n)
		}
		return fmt.Sprintf("第三方回调地址收到并验签解密：pay_result=1，hi_pay_no=%s，家庭共济支付 %s 元，已应答 {\"code\":0}", n.HiPayNo, n.AcctMulaidPay), nil
	case <-time.After(callbackWait):
		return "", fmt.Errorf("no callback within %v", callbackWait)
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

func (d *demo) settleResult(ctx context.Context) (string, error) {
	resp, err := d.client.SettleResult(ctx, &api.SettleResultRequest{Code: d.settleCode})
	if err != nil {
		return "", err
	}
	if resp.PayNo == "" || resp.PayDate == "" || len(resp.PayList) != len(d.family) {
		return "", fmt.Errorf("settlement %+v is incomplete", resp)
	}
	for i, line := range resp.PayList {
		if line.PayResult != "1" || line.AcctMulaidPay != money.FormatFen(premiums[i]) || line.SetID == "" {
			return "", fmt.Errorf("settlement line %d: %+v", i+1, line)
		}
	}
	d.settlement = resp
	return fmt.Sprintf("医保支付流水号 %s，支付时间 %s，%d 条结算记录均成功（setId 供对账使用）", resp.PayNo, resp.PayDate, len(resp.PayList)), nil
}

func (d *demo) query(ctx context.Context) (string, error) {
	resp, err := d.client.Query(ctx, &api.QueryRequest{AppID: server.DemoAppID, ServiceID: server.DemoServiceID, OrgCode: server.DemoOrgCode, HiPayNo: d.hiPayNo})
	if err != nil {
		return "", err
	}
	for i, line := range resp.PayList {
		if line.IsUsePay != "1" || line.PayStat != "1" {
			return "", fmt.Errorf("query line %d: %+v", i+1, line)
		}
	}
	return fmt.Sprintf("按第三方订单号查询：%s，%d 人均已支付（pay_stat=1）", resp.PayNo, len(resp.PayList)), nil
}

func (d *demo) refund(ctx context.Context) (string, error) {
	d.refundedIx = 1
	p := d.family[d.refundedIx]
	req := &api.RefundRequest{
		AuthCode: d.authCode, PayNo: d.settlement.PayNo, HiRefundNo: "R" + d.hiPayNo,
		HiRefundDate: time.Now().In(protocol.Shanghai()).Format("2006-01-02 15:04:05"),
		RefundAmt:    money.FormatFen(refundAmount),
		PayList:      []api.RefundPerson{{Name: p.Name, IDCard: p.IDCard, CertType: p.CertType, Region: p.Region, RefundAmt: money.FormatFen(refundAmount)}},
	}
	resp, err := d.client.Refund(ctx, req)
	if err != nil {
		return "", err
	}
	if resp.RefundAmt != money.FormatFen(refundAmount) || len(resp.PayList) != 1 || resp.PayList[0].SetID == "" {
		return "", fmt.Errorf("refund %+v", resp)
	}
	d.refundResp, d.refunded = resp, refundAmount
	return fmt.Sprintf("为 %s 退款 %s 元（原划扣 %s 元），退回户主的个人账户；医保退款流水号 %s",
		describe(p), resp.RefundAmt, money.FormatFen(premiums[d.refundedIx]), resp.RefundNo), nil
}

// records are the third party's settlement records of the day: one per
// payment line and one for the refund, negative.
func (d *demo) records() []api.SetlRecord {
	var out []api.SetlRecord
	for i, line := range d.settlement.PayList {
		p := d.family[i]
		out = append(out, api.SetlRecord{
			SetlID: line.SetID, PayAmt: line.PayAmt, AcctPay: line.AcctPay, AcctMulaidPay: line.AcctMulaidPay,
			PsnCashPay: line.PsnCashPay, Name: p.Name, IDCard: p.IDCard, HiPayNo: d.hiPayNo,
		})
	}
	p := d.family[d.refundedIx]
	amount := "-" + money.FormatFen(refundAmount)
	out = append(out, api.SetlRecord{
		SetlID: d.refundResp.PayList[0].SetID, PayAmt: amount, AcctPay: "0.00", AcctMulaidPay: amount, PsnCashPay: "0.00",
		Name: p.Name, IDCard: p.IDCard, HiPayNo: d.refundResp.HiRefundNo,
	})
	return out
}

func (d *demo) reconDetail(ctx context.Context) (string, error) {
	req := &api.ReconDetailRequest{
		AppID: server.DemoAppID, ServiceID: server.DemoServiceID, OrgCode: server.DemoOrgCode,
		StmtBegndate: d.day, StmtEnddate: d.day, SetlDDTOList: d.records(),
	}
	resp, err := d.client.ReconDetail(ctx, req)
	if err != nil {
		return "", err
	}
	if len(*resp) != len(req.SetlDDTOList) {
		return "", fmt.Errorf("%d results for %d records", len(*resp), len(req.SetlDDTOList))
	}
	for _, r := range *resp {
		if r.StmtRslt != api.StmtBalanced {
			return "", fmt.Errorf("record %s: stmtRslt %s %s", r.SetlID, r.StmtRslt, r.Memo)
		}
	}
	return fmt.Sprintf("%s 的 %d 条记录（%d 条支付、1 条退款）逐条核对一致（stmtRslt=0）", d.day, len(*resp), len(d.family)), nil
}

func (d *demo) reconTotal(ctx context.Context) (string, error) {
	net := d.paid - d.refunded
	req := &api.ReconTotalRequest{
		AppID: server.DemoAppID, ServiceID: server.DemoServiceID, OrgCode: server.DemoOrgCode,
		StmtBegndate: d.day, StmtEnddate: d.day,
		PayAmt: money.FormatFen(net), AcctPay: "0.00", AcctMulaidPay: money.FormatFen(net), PsnCashPay: "0.00",
		FixmedinsSetlCnt: fmt.Sprint(len(d.family) + 1),
	}
	resp, err := d.client.ReconTotal(ctx, req)
	if err != nil {
		return "", err
	}
	if resp.StmtRslt != api.StmtBalanced {
		return "", fmt.Errorf("totals do not balance: %s", resp.Memo)
	}
	return fmt.Sprintf("划扣净额 %s 元、结算笔数 %s，与中心一致（stmtRslt=0）：%s", req.PayAmt, req.FixmedinsSetlCnt, resp.Memo), nil
}
