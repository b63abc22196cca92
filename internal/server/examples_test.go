package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"chsgate/api"
	"chsgate/internal/channel"
	"chsgate/internal/registry"
	"chsgate/internal/server"
	"chsgate/internal/servertest"
	"chsgate/internal/store"
	"chsgate/internal/store/storetest"
	"chsgate/protocol"
	"chsgate/sdk"
)

// The request and response examples of the integration guide live in
// docs/examples.md, which TestExamplesMatchDocs generates from a real run.
// The guide links to its sections by the anchors the test writes, such as
// examples.md#ci00010003.
const (
	examplesPath = "../../docs/examples.md"
	// integrationGuidePath is the guide that links to the examples.
	integrationGuidePath = "../../docs/integration-guide.md"
	// examplesUpdateVariable set to 1 makes the test write docs/examples.md
	// instead of comparing it.
	examplesUpdateVariable = "CHSGATE_UPDATE_EXAMPLES"
	examplesTestCommand    = "CHSGATE_UPDATE_EXAMPLES=1 go test ./internal/server -run TestExamplesMatchDocs"

	// exampleGatewayURL is the server's public URL in the examples: the
	// address of the README's sandbox command. link_url starts with it.
	exampleGatewayURL = "http://127.0.0.1:8080"
	// exampleThirdPartyURL stands for the third party's own web server. The
	// redirect and fail pages of the examples are never fetched, and the
	// notify_url of the run, a receiver on a free port, is shown under it.
	exampleThirdPartyURL = "http://127.0.0.1:9000"
	// exampleUserID is the third party's own user id sent as user_id in
	// CI00.01.00.01 and CI00.02.00.01.
	exampleUserID = "hmb-user-0001"
	// exampleMasterKey is the master key of the examples' server. The
	// family network ids in failMsg are derived from it, so it stays fixed
	// for docs/examples.md to match.
	exampleMasterKey = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100"
)

// exampleStart is the time of the examples' fixed clock. The server, the SDK
// and the callback receiver all read that clock, so timestamps, dates,
// times and the ciphertexts that contain them are the same in every run.
var exampleStart = time.Date(2026, 12, 4, 10, 0, 0, 0, protocol.Shanghai())

// TestExamplesMatchDocs runs every function once, through the SDK, against a
// sandbox server on SQLite with the demo channel and the synthetic registry
// that `chsgate serve --sandbox` seeds. It records each business request and
// response data as indented JSON, one complete fjs envelope as it crossed
// the wire, the sandbox page endpoints and the payment callback, and renders
// them as docs/examples.md.
//
// Values that are random in every run are replaced with placeholders:
// user_id, page tickets, auth and settlement codes, pay_no, refund_no and
// setId, and the ciphertext and signature of responses that contain a
// user_id. Dates and times need no placeholder, because the clock is fixed.
//
// With CHSGATE_UPDATE_EXAMPLES=1 the test writes docs/examples.md. Otherwise
// it fails when the file differs from what the code produces now, so the
// examples cannot drift from the code.
func TestExamplesMatchDocs(t *testing.T) {
	b := storetest.Backends(t)[0]
	clock := servertest.NewClock(exampleStart)
	env := startExampleSandbox(t, b, clock)
	doc := newExampleDoc()
	ctx := context.Background()

	client := env.Client(t, server.DemoAppID,
		sdk.WithCredentials(server.DemoAppSecret, server.DemoBizKey, server.DemoSalt),
		sdk.WithSignType(protocol.SignMD5))
	receiver := startCallbackReceiver(t, client)
	doc.hide(receiver.url+"/", exampleThirdPartyURL+"/")

	f := findFamily(t, env.Persons)
	suspended := env.Pick(t, func(p store.PersonRecord) bool { return p.InsuStatus == registry.InsuStatusSuspended })

	doc.intro()
	writeEnvelopeExample(t, doc, env, f.head)

	// CI00.01.00.03: two insured persons and one whose insurance is
	// suspended.
	clock.Set(exampleStart.Add(1 * time.Minute))
	insuredRequest := &api.InsuredRequest{UserList: []api.InsuredPerson{
		{Name: f.head.Name, IDCard: f.head.IDCard, CertType: f.head.CertType},
		{Name: f.members[0].Name, IDCard: f.members[0].IDCard, CertType: f.members[0].CertType, Region: f.members[0].Region},
		{Name: suspended.Name, IDCard: suspended.IDCard, CertType: suspended.CertType},
	}}
	insured, err := client.Insured(ctx, insuredRequest)
	if err != nil {
		t.Fatalf("CI00.01.00.03: %v", err)
	}
	userID, err := client.DecryptUserID(insured.List[0].UserID)
	if err != nil {
		t.Fatalf("decrypt user_id: %v", err)
	}
	doc.function(api.FunInsured, "获取用户是否参保", "Insured")
	doc.json(t, "请求", insuredRequest)
	doc.json(t, "响应 data", insured)
	doc.json(t, "第一个 user_id 用渠道 SM2 私钥解密后（`client.DecryptUserID`）", userID)

	// CI00.01.00.01 for the household head, two members of the head's
	// family network and one person of another network.
	clock.Set(exampleStart.Add(2 * time.Minute))
	authRequest := env.authRequest(f, true)
	authRequest.AppID, authRequest.ServiceID, authRequest.OrgCode = server.DemoAppID, server.DemoServiceID, server.DemoOrgCode
	authRequest.UserID = exampleUserID
	authRequest.PayList[len(authRequest.PayList)-1].Relation = "6"
	authPage, err := client.AuthPage(ctx, authRequest)
	if err != nil {
		t.Fatalf("CI00.01.00.01: %v", err)
	}
	authTicket := ticketOf(authPage.LinkURL)
	doc.hide(authTicket, "<授权页 ticket>")
	doc.function(api.FunAuthPage, "获取医保在线服务授权页面表单", "AuthPage")
	doc.json(t, "请求", authRequest)
	doc.json(t, "响应 data", authPage)

	// The page in the sandbox: a failed face check first, then a passed one.
	clock.Set(exampleStart.Add(3 * time.Minute))
	failed, status := env.completeAuth(t, authPage.LinkURL, "fail")
	if failed == nil {
		t.Fatalf("sandbox face check fail: HTTP %d", status)
	}
	passed, status := env.completeAuth(t, authPage.LinkURL, "pass")
	if passed == nil {
		t.Fatalf("sandbox face check pass: HTTP %d", status)
	}
	authCode := passed.Query().Get("authcode")
	if authCode == "" {
		t.Fatalf("redirect %s has no authcode", passed)
	}
	doc.hide(authCode, "<auth_code>")
	doc.sandboxCall(t, "人脸核验失败：浏览器被送到 fail_url，带 `code` 和 `message`，页面仍可重试",
		"/sandbox/auth/<授权页 ticket>/complete", `{"face":"fail"}`, failed.String())
	doc.sandboxCall(t, "人脸核验通过：浏览器被送到 redirect_url，带授权码 `authcode`",
		"/sandbox/auth/<授权页 ticket>/complete", `{"face":"pass"}`, passed.String())

	clock.Set(exampleStart.Add(4 * time.Minute))
	userInfoRequest := &api.UserInfoRequest{AuthCode: authCode}
	userInfo, err := client.UserInfo(ctx, userInfoRequest)
	if err != nil {
		t.Fatalf("CI00.01.00.02: %v", err)
	}
	doc.function(api.FunUserInfo, "根据授权令牌获取用户医保信息", "UserInfo")
	doc.json(t, "请求", userInfoRequest)
	doc.json(t, "响应 data", userInfo)

	// CI00.02.00.01: a mutual-aid payment for the three authorized persons,
	// from the head's personal account.
	clock.Set(exampleStart.Add(5 * time.Minute))
	payers := []store.PersonRecord{f.head, f.members[0], f.members[1]}
	premiums := []int64{58800, 40000, 30000}
	const hiPayNo = "HMB202612040001"
	payRequest := env.payRequest(authCode, hiPayNo, store.PayKindMutual, payers, premiums)
	payRequest.AppID, payRequest.ServiceID, payRequest.OrgCode = server.DemoAppID, server.DemoServiceID, server.DemoOrgCode
	payRequest.UserID = exampleUserID
	payRequest.NotifyURL = receiver.url + "/notify"
	payPage, err := client.PayPage(ctx, payRequest)
	if err != nil {
		t.Fatalf("CI00.02.00.01: %v", err)
	}
	doc.hide(ticketOf(payPage.LinkURL), "<支付页 ticket>")
	doc.function(api.FunPayPage, "获取医保支付划扣页面表单", "PayPage")
	doc.json(t, "请求", payRequest)
	doc.json(t, "响应 data", payPage)

	clock.Set(exampleStart.Add(6 * time.Minute))
	paid, status := env.confirmPay(t, payPage.LinkURL, true)
	if paid == nil {
		t.Fatalf("sandbox pay confirmation: HTTP %d", status)
	}
	settleCode := paid.Query().Get("code")
	if paid.Path != "/pay/done" || settleCode == "" {
		t.Fatalf("confirmation sent the browser to %s, want redirect_url with code", paid)
	}
	doc.hide(settleCode, "<结算 code>")
	doc.sandboxCall(t, "确认支付：划扣成功，浏览器被送到 redirect_url，带结算 `code`",
		"/sandbox/pay/<支付页 ticket>/confirm", `{"confirm":true}`, paid.String())

	// The callback is sealed at the clock's current time, so the clock
	// stays put until it has arrived.
	callback := receiver.wait(t)
	doc.callback(t, callback)

	clock.Set(exampleStart.Add(7 * time.Minute))
	settleRequest := &api.SettleResultRequest{Code: settleCode}
	settlement, err := client.SettleResult(ctx, settleRequest)
	if err != nil {
		t.Fatalf("CI00.02.00.02: %v", err)
	}
	if len(settlement.PayList) != len(payers) {
		t.Fatalf("settlement has %d lines, want %d", len(settlement.PayList), len(payers))
	}
	doc.hide(settlement.PayNo, "<pay_no>")
	for i, line := range settlement.PayList {
		doc.hide(line.SetID, fmt.Sprintf("<setId-%d>", i+1))
	}
	doc.function(api.FunSettleResult, "获取医保结算结果", "SettleResult")
	doc.json(t, "请求", settleRequest)
	doc.json(t, "响应 data", settlement)

	// CI00.02.00.03: part of the second person's premium.
	clock.Set(exampleStart.Add(8 * time.Minute))
	spouse := f.members[0]
	refundRequest := &api.RefundRequest{
		AuthCode: authCode, PayNo: settlement.PayNo, HiRefundNo: "HMBR202612040001",
		HiRefundDate: clock.Now().In(protocol.Shanghai()).Format("2006-01-02 15:04:05"),
		RefundAmt:    "200.00",
		PayList: []api.RefundPerson{{
			Name: spouse.Name, IDCard: spouse.IDCard, CertType: spouse.CertType, Region: spouse.Region, RefundAmt: "200.00",
		}},
	}
	refund, err := client.Refund(ctx, refundRequest)
	if err != nil {
		t.Fatalf("CI00.02.00.03: %v", err)
	}
	if len(refund.PayList) != 1 {
		t.Fatalf("refund has %d lines, want 1", len(refund.PayList))
	}
	refundSetID := refund.PayList[0].SetID
	doc.hide(refund.RefundNo, "<refund_no>")
	doc.hide(refundSetID, fmt.Sprintf("<setId-%d>", len(payers)+1))
	doc.function(api.FunRefund, "医保支付退款", "Refund")
	doc.json(t, "请求", refundRequest)
	doc.json(t, "响应 data", refund)

	clock.Set(exampleStart.Add(9 * time.Minute))
	queryRequest := &api.QueryRequest{AppID: server.DemoAppID, ServiceID: server.DemoServiceID, OrgCode: server.DemoOrgCode, HiPayNo: hiPayNo}
	query, err := client.Query(ctx, queryRequest)
	if err != nil {
		t.Fatalf("CI00.02.00.04: %v", err)
	}
	doc.function(api.FunQuery, "单笔结算单查询", "Query")
	doc.json(t, "请求", queryRequest)
	doc.json(t, "响应 data", query)

	writeReconExamples(t, doc, client, clock, settlement, hiPayNo)

	compareOrWriteExamples(t, doc.String())
}

// writeReconExamples runs the reconciliation loop on the day of the
// examples. The institution's records differ from the platform's in three
// ways, so the total does not balance. The detail then shows every result:
// the third line has a wrong amount (103), the refund is missing (101), and
// one record is unknown to the platform (102). The corrected totals balance.
func writeReconExamples(t *testing.T, doc *exampleDoc, client *sdk.Client, clock *servertest.Clock, settlement *api.SettleResultResponse, hiPayNo string) {
	t.Helper()
	ctx := context.Background()
	day := exampleStart.Format("2006-01-02")

	var records []api.SetlRecord
	for i, line := range settlement.PayList {
		uid, err := client.DecryptUserID(line.UserID)
		if err != nil {
			t.Fatalf("decrypt user_id of line %d: %v", i+1, err)
		}
		records = append(records, api.SetlRecord{
			SetlID: line.SetID, PayAmt: line.PayAmt, AcctPay: line.AcctPay, AcctMulaidPay: line.AcctMulaidPay,
			PsnCashPay: line.PsnCashPay, Name: uid.Name, IDCard: uid.IDCard, HiPayNo: hiPayNo,
		})
	}
	records[2].PayAmt, records[2].AcctMulaidPay = "330.00", "330.00"
	unknown := records[1]
	unknown.SetlID, unknown.HiPayNo = "S20261204095500000000000001", "HMB202612040099"
	unknown.PayAmt, unknown.AcctMulaidPay = "100.00", "100.00"
	records = append(records, unknown)

	clock.Set(exampleStart.Add(10 * time.Minute))
	unbalancedRequest := &api.ReconTotalRequest{
		AppID: server.DemoAppID, ServiceID: server.DemoServiceID, OrgCode: server.DemoOrgCode,
		StmtBegndate: day, StmtEnddate: day,
		PayAmt: "1418.00", AcctPay: "0.00", AcctMulaidPay: "1418.00", PsnCashPay: "0.00", FixmedinsSetlCnt: "4",
	}
	unbalanced, err := client.ReconTotal(ctx, unbalancedRequest)
	if err != nil {
		t.Fatalf("CI00.02.00.09 before the detail: %v", err)
	}
	if unbalanced.StmtRslt != api.StmtUnbalanced {
		t.Fatalf("first total stmtRslt %q, want %q", unbalanced.StmtRslt, api.StmtUnbalanced)
	}
	doc.function(api.FunReconTotal, "总对账", "ReconTotal")
	doc.text("机构按自己的记录汇总当天的金额和笔数。下例中机构的记录与平台不一致，所以 `stmtRslt` 为 \"1\"，`memo` 列出每一项差异（机构减中心）。")
	doc.json(t, "请求", unbalancedRequest)
	doc.json(t, "响应 data", unbalanced)

	clock.Set(exampleStart.Add(11 * time.Minute))
	detailRequest := &api.ReconDetailRequest{
		AppID: server.DemoAppID, ServiceID: server.DemoServiceID, OrgCode: server.DemoOrgCode,
		StmtBegndate: day, StmtEnddate: day, SetlDDTOList: records,
	}
	detail, err := client.ReconDetail(ctx, detailRequest)
	if err != nil {
		t.Fatalf("CI00.02.00.08: %v", err)
	}
	var results []string
	for _, r := range *detail {
		results = append(results, r.StmtRslt)
	}
	if want := []string{"0", "0", "103", "102", "101"}; strings.Join(results, ",") != strings.Join(want, ",") {
		t.Fatalf("detail results %v, want %v", results, want)
	}
	doc.function(api.FunReconDetail, "明细对账", "ReconDetail")
	doc.text("总账不平后，机构上传当天的明细记录。下例中第三条金额不同（103），最后一条平台没有（102），平台的退款记录机构没有上传（101，排在请求的记录之后）。SDK 把此请求发往 `/gateway/CI00.02.00.08`。")
	doc.json(t, "请求", detailRequest)
	doc.json(t, "响应 data", detail)

	clock.Set(exampleStart.Add(12 * time.Minute))
	balancedRequest := *unbalancedRequest
	balancedRequest.PayAmt, balancedRequest.AcctMulaidPay = "1088.00", "1088.00"
	balanced, err := client.ReconTotal(ctx, &balancedRequest)
	if err != nil {
		t.Fatalf("CI00.02.00.09 after the detail: %v", err)
	}
	if balanced.StmtRslt != api.StmtBalanced {
		t.Fatalf("corrected total stmtRslt %q (%s), want %q", balanced.StmtRslt, balanced.Memo, api.StmtBalanced)
	}
	doc.anchor("ci00020009-balanced")
	doc.subheading("机构改正记录后再次总对账")
	doc.text("机构改正第三条金额、删除平台没有的记录、补上退款记录（金额为负）后，三笔划扣 588.00 + 400.00 + 300.00 减去退款 200.00，共 1088.00 元、4 笔，总账平。")
	doc.json(t, "请求", &balancedRequest)
	doc.json(t, "响应 data", balanced)
}

// writeEnvelopeExample sends CI00.01.00.03 for one person through a client
// whose transport records the wire, and shows each step of sealing the
// request, the response, a replay of the same request and a business error.
// The request is the client's first, so its timestamp is the clock's time.
func writeEnvelopeExample(t *testing.T, doc *exampleDoc, env *testEnv, person store.PersonRecord) {
	t.Helper()
	ctx := context.Background()
	recorder := &wireRecorder{}
	client := env.Client(t, server.DemoAppID,
		sdk.WithCredentials(server.DemoAppSecret, server.DemoBizKey, server.DemoSalt),
		sdk.WithSignType(protocol.SignMD5),
		sdk.WithHTTPClient(&http.Client{Transport: recorder, Timeout: 30 * time.Second}))
	secrets := protocol.ChannelSecrets{AppID: server.DemoAppID, AppSecret: server.DemoAppSecret, Salt: server.DemoSalt}
	keys, err := protocol.NewKeys(protocol.KeyConfig{
		SignType:   protocol.SignMD5,
		SignKey:    server.DemoBizKey,
		EncType:    protocol.EncSM4,
		Derivation: protocol.DeriveSalt,
		Secrets:    secrets,
	})
	if err != nil {
		t.Fatal(err)
	}
	dataKey, err := protocol.DeriveDataKey(protocol.EncSM4, protocol.DeriveSalt, secrets)
	if err != nil {
		t.Fatal(err)
	}

	request := &api.InsuredRequest{UserList: []api.InsuredPerson{{Name: person.Name, IDCard: person.IDCard, CertType: person.CertType}}}
	if _, err := client.Insured(ctx, request); err != nil {
		t.Fatalf("CI00.01.00.03 through the recorder: %v", err)
	}
	exchange := recorder.last(t)

	requestEnvelope, err := protocol.ProfileFJS.DecodeRequest(exchange.request)
	if err != nil {
		t.Fatalf("recorded request does not decode: %v", err)
	}
	openedRequest, err := requestEnvelope.Open(keys)
	if err != nil {
		t.Fatalf("recorded request does not open: %v", err)
	}
	signString, err := protocol.ProfileFJS.SignString(openedRequest.Plaintext(), server.DemoBizKey)
	if err != nil {
		t.Fatal(err)
	}

	responseEnvelope, err := protocol.ProfileFJS.DecodeResponse(exchange.response)
	if err != nil {
		t.Fatalf("recorded response does not decode: %v", err)
	}
	openedResponse, err := responseEnvelope.Open(keys)
	if err != nil {
		t.Fatalf("recorded response does not open: %v", err)
	}
	responseSignString, err := protocol.ProfileFJS.SignString(openedResponse.Plaintext(), server.DemoBizKey)
	if err != nil {
		t.Fatal(err)
	}
	// The response data holds a user_id, whose SM2 ciphertext is random, so
	// the ciphertext and the signature of the response differ in every run.
	var fields struct {
		EncData string `json:"chs_fjs_encdata"`
		Sign    string `json:"chs_fjs_sign"`
	}
	if err := json.Unmarshal(exchange.response, &fields); err != nil {
		t.Fatal(err)
	}
	var sent struct {
		EncData string `json:"chs_fjs_encdata"`
	}
	if err := json.Unmarshal(exchange.request, &sent); err != nil {
		t.Fatal(err)
	}
	requireGuideQuotes(t, string(dataKey), sent.EncData)
	doc.hide(fields.EncData, "<chs_fjs_encdata：SM4 密文，base64；明文含随机的 user_id，每次不同>")
	doc.hide(fields.Sign, "<chs_fjs_sign：MD5 签名，随明文变化>")

	doc.anchor("envelope")
	doc.heading("报文封装：一次完整的 CI00.01.00.03 请求")
	doc.text(fmt.Sprintf("演示渠道：appid `%s`，appsecret `%s`，bizkey `%s`，salt `%s`，签名方式 MD5，加密方式 SM4，默认密钥派生（salt）。请求时间 %s，即 `chs_fjs_timestamp` %s。",
		server.DemoAppID, server.DemoAppSecret, server.DemoBizKey, server.DemoSalt,
		exampleStart.Format("2006-01-02 15:04:05"), requestEnvelope.Timestamp))
	doc.json(t, "1. 业务内容", request)
	doc.raw("2. 数据密钥：SM4-ECB（密钥为 salt 的前 16 字节）加密 appsecret，取大写十六进制密文的前 16 个字符，按 ASCII 作为 16 字节密钥", "text", string(dataKey))
	doc.rawJSON(t, "3. 加密前的明文报文（已含第 5 步的签名）：协议字段加业务字段，签名对明文计算", openedRequest.Plaintext())
	doc.raw("4. 待签名字符串（去掉 chs_fjs_sign、chs_fjs_encdata 和空值，按字段名排序，末尾拼接 &key=bizkey）", "text", string(signString))
	doc.raw("5. chs_fjs_sign：待签名字符串的 MD5，大写十六进制", "text", requestEnvelope.Signature)
	doc.rawJSON(t, "6. 实际发送的报文：业务字段整体 SM4-ECB-PKCS#7 加密后 base64 放入 chs_fjs_encdata（线上为紧凑 JSON，此处加了缩进）", exchange.request)
	doc.rawJSON(t, "7. 平台的响应报文", exchange.response)
	doc.rawJSON(t, "8. 解密并验签后的 data", openedResponse.Payload)
	doc.raw("9. 响应的待签名字符串：响应的顶层字段加上 data（明文），规则同请求", "text", string(responseSignString))

	// Sending the same bytes again is a replay.
	replay := servertest.Post(t, env.URL+"/gateway", "application/json", bytes.NewReader(exchange.request))
	doc.rawJSON(t, "10. 原样重发第 6 步的报文：协议错误 10008，不签名、不加密", replay)

	if _, err := client.UserInfo(ctx, &api.UserInfoRequest{AuthCode: "unknown-auth-code"}); sdk.Code(err) != protocol.CodeAuthCodeInvalid {
		t.Fatalf("CI00.01.00.02 with an unknown code: %v, want business error %d", err, protocol.CodeAuthCodeInvalid)
	}
	doc.rawJSON(t, "11. 业务错误：用不存在的 auth_code 调用 CI00.01.00.02，响应带签名，没有 data", recorder.last(t).response)
}

// requireGuideQuotes fails unless the integration guide contains each
// value. Its OpenSSL commands quote the data key and the ciphertext of the
// envelope example, which this test cannot rewrite there.
func requireGuideQuotes(t *testing.T, values ...string) {
	t.Helper()
	path := filepath.FromSlash(integrationGuidePath)
	guide, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range values {
		if !strings.Contains(string(guide), v) {
			t.Errorf("%s does not quote %q, which the envelope example now has: update its OpenSSL commands", path, v)
		}
	}
}

// startExampleSandbox starts the server as `chsgate serve --sandbox` does
// on an empty database: it seeds the synthetic registry and the demo
// channel. link_url starts with exampleGatewayURL, and the outbox worker
// polls often, so the callback arrives within the test's wait.
func startExampleSandbox(t *testing.T, b storetest.Backend, clock *servertest.Clock) *testEnv {
	t.Helper()
	masterKey, err := channel.ParseMasterKey(exampleMasterKey)
	if err != nil {
		t.Fatal(err)
	}
	env := &testEnv{
		Platform: &servertest.Platform{
			Backend:       b,
			MasterKey:     masterKey,
			Clock:         clock,
			UserKey:       server.DemoSM2PrivateKey,
			UserPublicKey: server.DemoSM2PublicKey,
			Persons:       registry.Synthetic(server.SandboxSeed),
		},
		redirects: exampleThirdPartyURL,
	}
	env.Start(t, server.Config{
		PublicURL:          exampleGatewayURL,
		Sandbox:            true,
		NotifyPollInterval: 20 * time.Millisecond,
	})
	return env
}

// ticketOf returns the last path segment of a page link: the ticket.
func ticketOf(linkURL string) string {
	return linkURL[strings.LastIndex(linkURL, "/")+1:]
}

// wireRecorder is an http.RoundTripper that keeps a copy of every request
// and response body it carries.
type wireRecorder struct {
	mu        sync.Mutex
	exchanges []wireExchange
}

type wireExchange struct {
	request, response []byte
}

func (w *wireRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		var err error
		body, err = io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
	}
	sent := req.Clone(req.Context())
	sent.Body = io.NopCloser(bytes.NewReader(body))

	resp, err := http.DefaultTransport.RoundTrip(sent)
	if err != nil {
		return nil, err
	}
	responseBody, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(responseBody))

	w.mu.Lock()
	w.exchanges = append(w.exchanges, wireExchange{request: body, response: responseBody})
	w.mu.Unlock()
	return resp, nil
}

func (w *wireRecorder) last(t *testing.T) wireExchange {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.exchanges) == 0 {
		t.Fatal("the recorder carried no request")
	}
	return w.exchanges[len(w.exchanges)-1]
}

// callbackReceiver is the third party's notify_url: it keeps each callback
// body as received and verifies it with sdk.NewNotifyHandler.
type callbackReceiver struct {
	url       string
	callbacks chan receivedCallback
}

// receivedCallback is one callback: the body as posted, the notice the
// handler verified, and the receiver's acknowledgement.
type receivedCallback struct {
	body   []byte
	notice *api.PaymentNotice
	ack    string
}

func startCallbackReceiver(t *testing.T, client *sdk.Client) *callbackReceiver {
	t.Helper()
	r := &callbackReceiver{callbacks: make(chan receivedCallback, 8)}
	notices := make(chan *api.PaymentNotice, 1)
	verifier := sdk.NewNotifyHandler(client, func(_ context.Context, n *api.PaymentNotice) error {
		notices <- n
		return nil
	}, sdk.WithNotifyRejectHook(func(_ *http.Request, err error) {
		t.Errorf("callback rejected: %v", err)
	}))

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		req.Body = io.NopCloser(bytes.NewReader(body))
		ack := httptest.NewRecorder()
		verifier.ServeHTTP(ack, req)

		for name, values := range ack.Header() {
			w.Header()[name] = values
		}
		w.WriteHeader(ack.Code)
		w.Write(ack.Body.Bytes())

		received := receivedCallback{body: body, ack: strings.TrimSpace(ack.Body.String())}
		select {
		case received.notice = <-notices:
		default:
		}
		select {
		case r.callbacks <- received:
		default:
		}
	}))
	t.Cleanup(srv.Close)
	r.url = srv.URL
	return r
}

// wait returns the first callback, failing after 10 s.
func (r *callbackReceiver) wait(t *testing.T) receivedCallback {
	t.Helper()
	select {
	case c := <-r.callbacks:
		if c.notice == nil {
			t.Fatalf("callback was not accepted: acknowledged with %s", c.ack)
		}
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("no payment callback within 10 s")
		return receivedCallback{}
	}
}

// exampleDoc builds docs/examples.md. Random values registered with hide
// are replaced when the document is rendered, as is every user_id.
type exampleDoc struct {
	b            strings.Builder
	replacements []string // pairs of value and placeholder
}

// userIDPattern matches a user_id of a response: upper-case hex of an SM2
// ciphertext, with or without a space after the colon.
var userIDPattern = regexp.MustCompile(`("user_id":\s?)"[0-9A-F]{64,}"`)

func newExampleDoc() *exampleDoc { return &exampleDoc{} }

func (d *exampleDoc) hide(value, placeholder string) {
	if value == "" {
		return
	}
	d.replacements = append(d.replacements, value, placeholder)
}

func (d *exampleDoc) intro() {
	d.b.WriteString("# 接口报文示例\n\n")
	fmt.Fprintf(&d.b, "<!-- Generated by TestExamplesMatchDocs in internal/server/examples_test.go. Do not edit: run %s -->\n\n", examplesTestCommand)
	d.b.WriteString("本页的报文取自一次真实运行，由测试 `TestExamplesMatchDocs`（`internal/server/examples_test.go`）生成，请勿手工修改。" +
		"代码改变后运行 `" + examplesTestCommand + "` 重新生成；不设置该环境变量时，测试重新生成本页并与此文件比较，不一致即失败，所以示例始终与代码一致。\n\n")
	d.b.WriteString("运行方式：\n\n")
	d.b.WriteString("- 服务端以沙箱模式（`--sandbox`）运行在 SQLite 上，使用沙箱写入的演示渠道 `" + server.DemoAppID + "`（签名方式 MD5，加密方式 SM4）和模拟参保人数据。每个沙箱的模拟数据都相同，其中没有真实人员的信息。\n")
	d.b.WriteString("- 业务请求全部通过 Go SDK（`chsgate/sdk`）发出，下面的请求和响应是 SDK 收发的业务内容（加密前、解密后）；第一节和回调一节还展示了线上的完整报文。\n")
	d.b.WriteString("- 服务端、SDK 和回调接收方使用同一个固定时钟：从北京时间 " + exampleStart.Format("2006-01-02 15:04:05") + " 开始，每一步前进一分钟。所以时间戳、日期和时间每次运行都相同。\n")
	d.b.WriteString("- 平台地址写作 `" + exampleGatewayURL + "`（README 中沙箱命令的地址）；第三方自己的页面和回调地址写作 `" + exampleThirdPartyURL + "`。演示渠道的白名单允许 `127.0.0.1` 和 `localhost` 的任意端口。\n")
	d.b.WriteString("- 每次运行都不同的随机值写作尖括号中的占位符：`<user_id：SM2 密文>`、`<授权页 ticket>`、`<支付页 ticket>`、`<auth_code>`、`<结算 code>`、`<pay_no>`、`<refund_no>`、`<setId-1>` 到 `<setId-4>`。同一个占位符在各节中代表同一个值。\n\n")
	d.b.WriteString("目录：\n\n")
	for _, entry := range []struct{ anchor, title string }{
		{"envelope", "报文封装：一次完整的请求"},
		{"ci00010003", "CI00.01.00.03 获取用户是否参保"},
		{"ci00010001", "CI00.01.00.01 获取医保在线服务授权页面表单（含沙箱授权页）"},
		{"ci00010002", "CI00.01.00.02 根据授权令牌获取用户医保信息"},
		{"ci00020001", "CI00.02.00.01 获取医保支付划扣页面表单（含沙箱支付页）"},
		{"callback", "支付结果回调 CI00.02.00.NOTIFY"},
		{"ci00020002", "CI00.02.00.02 获取医保结算结果"},
		{"ci00020003", "CI00.02.00.03 医保支付退款"},
		{"ci00020004", "CI00.02.00.04 单笔结算单查询"},
		{"ci00020009", "CI00.02.00.09 总对账"},
		{"ci00020008", "CI00.02.00.08 明细对账"},
		{"ci00020009-balanced", "CI00.02.00.09 改正后再次总对账"},
	} {
		fmt.Fprintf(&d.b, "- [%s](#%s)\n", entry.title, entry.anchor)
	}
	d.b.WriteString("\n")
}

func (d *exampleDoc) anchor(id string) {
	fmt.Fprintf(&d.b, "<a id=\"%s\"></a>\n\n", id)
}

func (d *exampleDoc) heading(title string) {
	fmt.Fprintf(&d.b, "## %s\n\n", title)
}

func (d *exampleDoc) subheading(title string) {
	fmt.Fprintf(&d.b, "### %s\n\n", title)
}

// function starts the section of a function id, anchored by the id without
// dots, and names the SDK method that sent it.
func (d *exampleDoc) function(funID, name, method string) {
	d.anchor("ci" + strings.ReplaceAll(funID[2:], ".", ""))
	d.heading(funID + " " + name)
	fmt.Fprintf(&d.b, "SDK 方法：`client.%s`。\n\n", method)
}

func (d *exampleDoc) text(paragraph string) {
	d.b.WriteString(paragraph + "\n\n")
}

func (d *exampleDoc) raw(label, language, content string) {
	fmt.Fprintf(&d.b, "%s：\n\n```%s\n%s\n```\n\n", label, language, content)
}

// json writes v as indented JSON without HTML escaping, as the SDK encodes
// a request.
func (d *exampleDoc) json(t *testing.T, label string, v any) {
	t.Helper()
	var buf bytes.Buffer
	encoder := json.NewEncoder(&buf)
	encoder.SetEscapeHTML(false)
	encoder.SetIndent("", "  ")
	if err := encoder.Encode(v); err != nil {
		t.Fatalf("encode %s: %v", label, err)
	}
	d.raw(label, "json", strings.TrimSuffix(buf.String(), "\n"))
}

// rawJSON writes a JSON message as received, indented, with its values
// unchanged.
func (d *exampleDoc) rawJSON(t *testing.T, label string, message []byte) {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, message, "", "  "); err != nil {
		t.Fatalf("indent %s: %v", label, err)
	}
	d.raw(label, "json", buf.String())
}

// sandboxCall writes one call of a sandbox page endpoint and the address it
// returned.
func (d *exampleDoc) sandboxCall(t *testing.T, label, path, body, redirect string) {
	t.Helper()
	response, err := json.Marshal(struct {
		Redirect string `json:"redirect"`
	}{redirect})
	if err != nil {
		t.Fatal(err)
	}
	d.raw(label, "text", fmt.Sprintf("POST %s%s\nContent-Type: application/json\n\n%s\n\nHTTP/1.1 200 OK\n\n%s", exampleGatewayURL, path, body, response))
}

func (d *exampleDoc) callback(t *testing.T, c receivedCallback) {
	t.Helper()
	d.anchor("callback")
	d.heading("支付结果回调 CI00.02.00.NOTIFY")
	d.text("划扣结束后，平台向 `notify_url` 发送 POST。报文是 fjs 请求格式，用渠道的密钥签名和加密，不带 `chs_fjs_appsecret`。下面是接收方收到的原始报文、`sdk.NewNotifyHandler` 验签解密后的业务内容，以及接收方的应答。")
	d.rawJSON(t, "收到的报文（线上为紧凑 JSON）", c.body)
	d.json(t, "验签解密后的业务内容（api.PaymentNotice）", c.notice)
	d.raw("接收方的应答（HTTP 200）", "json", c.ack)
}

// String renders the document with every registered value and user_id
// replaced by its placeholder.
func (d *exampleDoc) String() string {
	text := strings.NewReplacer(d.replacements...).Replace(d.b.String())
	text = userIDPattern.ReplaceAllString(text, `$1"<user_id：SM2 密文>"`)
	return strings.TrimRight(text, "\n") + "\n"
}

// compareOrWriteExamples writes docs/examples.md when
// CHSGATE_UPDATE_EXAMPLES is 1, and otherwise fails when the file differs
// from got.
func compareOrWriteExamples(t *testing.T, got string) {
	t.Helper()
	path := filepath.FromSlash(examplesPath)
	if os.Getenv(examplesUpdateVariable) == "1" {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", path)
		return
	}

	want, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		t.Fatalf("%s is missing: create it with %s", path, examplesTestCommand)
	}
	if err != nil {
		t.Fatal(err)
	}
	if string(want) == got {
		return
	}
	wantLines := strings.Split(string(want), "\n")
	gotLines := strings.Split(got, "\n")
	for i := 0; i < max(len(wantLines), len(gotLines)); i++ {
		var w, g string
		if i < len(wantLines) {
			w = wantLines[i]
		}
		if i < len(gotLines) {
			g = gotLines[i]
		}
		if w != g {
			t.Fatalf("%s is out of date from line %d:\n  file: %q\n  code: %q\nregenerate it with %s and review the diff",
				path, i+1, w, g, examplesTestCommand)
		}
	}
}
