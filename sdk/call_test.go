package sdk_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"chsgate/api"
	"chsgate/protocol"
	"chsgate/sdk"
)

var (
	insuredPerson   = api.InsuredPerson{Name: "王二", IDCard: "650101198001010032", CertType: "01"}
	uninsuredPerson = api.InsuredPerson{Name: "李四", IDCard: "350102199001010011", CertType: "01"}
)

// startPlatform starts a fake platform for ch and stops it when the test
// ends.
func startPlatform(t *testing.T, ch channel, now func() time.Time, setup ...func(*fakePlatform)) *fakePlatform {
	t.Helper()
	p := newFakePlatform(ch, now, setup...)
	t.Cleanup(p.Close)
	return p
}

// newClient returns a client of ch for the platform at baseURL.
func newClient(t *testing.T, baseURL string, ch channel, now func() time.Time, extra ...sdk.Option) *sdk.Client {
	t.Helper()
	client, err := sdk.New(baseURL, ch.appID, append(ch.clientOptions(now), extra...)...)
	if err != nil {
		t.Fatalf("sdk.New: %v", err)
	}
	return client
}

func insuredRequest(persons ...api.InsuredPerson) *api.InsuredRequest {
	return &api.InsuredRequest{UserList: persons}
}

// checkInsuredResponse checks the fake platform's response for insuredPerson
// and uninsuredPerson, and that the client decrypts the first user_id.
func checkInsuredResponse(t *testing.T, client *sdk.Client, response *api.InsuredResponse) {
	t.Helper()
	if len(response.List) != 2 {
		t.Fatalf("list has %d entries, want 2: %+v", len(response.List), response.List)
	}
	first, second := response.List[0], response.List[1]
	if first.IsInsu != "1" || first.Region != "350102" || first.InsuTypeName != "职工基本医疗保险" {
		t.Errorf("first entry = %+v, want is_insu 1 in 350102 with 职工基本医疗保险", first)
	}
	if second.IsInsu != "0" {
		t.Errorf("second entry is_insu = %q, want 0", second.IsInsu)
	}
	person, err := client.DecryptUserID(first.UserID)
	if err != nil {
		t.Fatalf("DecryptUserID: %v", err)
	}
	want := protocol.UserID{CertType: "01", IDCard: insuredPerson.IDCard, Name: insuredPerson.Name}
	if person != want {
		t.Errorf("user_id decrypts to %+v, want %+v", person, want)
	}
}

func onlyRequest(t *testing.T, p *fakePlatform) gatewayRequest {
	t.Helper()
	requests := p.recorded()
	if len(requests) != 1 {
		t.Fatalf("platform received %d gateway requests, want 1", len(requests))
	}
	return requests[0]
}

func TestInsuredKeyModeFJS(t *testing.T) {
	clock := newFakeClock()
	ch := demoChannel()
	p := startPlatform(t, ch, clock.Now)
	client := newClient(t, p.URL, ch, clock.Now)

	response, err := client.Insured(t.Context(), insuredRequest(insuredPerson, uninsuredPerson))
	if err != nil {
		t.Fatalf("Insured: %v", err)
	}
	checkInsuredResponse(t, client, response)

	request := onlyRequest(t, p)
	if request.path != "/gateway" {
		t.Errorf("path = %q, want /gateway", request.path)
	}
	if request.contentType != "application/json; charset=utf-8" {
		t.Errorf("Content-Type = %q, want application/json; charset=utf-8", request.contentType)
	}
	if request.appSecret != ch.appSecret {
		t.Errorf("chs_fjs_appsecret = %q, want the channel's appsecret", request.appSecret)
	}
	if request.token != "" {
		t.Errorf("chs_fjs_token = %q in key mode, want none", request.token)
	}
	if want := protocol.ProfileFJS.FormatTimestamp(newFakeClock().Now()); request.timestamp != want {
		t.Errorf("chs_fjs_timestamp = %s, want %s from the injected clock", request.timestamp, want)
	}
	wantPayload := `{"userlist":[{"name":"王二","idcard":"650101198001010032","cert_type":"01"},{"name":"李四","idcard":"350102199001010011","cert_type":"01"}]}`
	if string(request.payload) != wantPayload {
		t.Errorf("business content = %s, want %s", request.payload, wantPayload)
	}
}

func TestInsuredHSAProfile(t *testing.T) {
	clock := newFakeClock()
	ch := hsaChannel()
	p := startPlatform(t, ch, clock.Now)
	client := newClient(t, p.URL, ch, clock.Now)

	response, err := client.Insured(t.Context(), insuredRequest(insuredPerson, uninsuredPerson))
	if err != nil {
		t.Fatalf("Insured: %v", err)
	}
	checkInsuredResponse(t, client, response)

	request := onlyRequest(t, p)
	if request.path != "/hsa/gateway" {
		t.Errorf("path = %q, want /hsa/gateway", request.path)
	}
	if request.timestamp != "20260501100000000" {
		t.Errorf("timestamp = %q, want 20260501100000000 (yyyyMMddHHmmssSSS in Asia/Shanghai)", request.timestamp)
	}
	if request.funID != api.FunInsured {
		t.Errorf("transType = %q, want %s", request.funID, api.FunInsured)
	}
}

func TestCallSignTypes(t *testing.T) {
	tests := []struct {
		name     string
		signType protocol.SignType
		encType  protocol.EncType
	}{
		{"SM3 and AES", protocol.SignSM3, protocol.EncAES},
		{"MD5 in clear", protocol.SignMD5, protocol.EncNone},
		{"SM2 and SM4", protocol.SignSM2, protocol.EncSM4},
		{"RSA and SM4", protocol.SignRSA, protocol.EncSM4},
		{"RSA in clear", protocol.SignRSA, protocol.EncNone},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch := demoChannel()
			ch.signType, ch.encType = tt.signType, tt.encType
			p := startPlatform(t, ch, nil)
			client := newClient(t, p.URL, ch, nil)

			response, err := client.Insured(t.Context(), insuredRequest(insuredPerson, uninsuredPerson))
			if err != nil {
				t.Fatalf("Insured: %v", err)
			}
			checkInsuredResponse(t, client, response)
		})
	}
}

// TestCallWrongPlatformKey gives the client the channel's own public key in
// place of the platform's: the response fails verification here.
func TestCallWrongPlatformKey(t *testing.T) {
	cases := []struct {
		signType protocol.SignType
		option   sdk.Option
	}{
		{protocol.SignSM2, sdk.WithPlatformPublicKey(demoPublicKey)},
		{protocol.SignRSA, sdk.WithPlatformRSAPublicKey(testRSAKeys().channel.public)},
	}
	for _, c := range cases {
		t.Run(string(c.signType), func(t *testing.T) {
			ch := demoChannel()
			ch.signType = c.signType
			p := startPlatform(t, ch, nil)
			client := newClient(t, p.URL, ch, nil, c.option)

			_, err := client.Insured(t.Context(), insuredRequest(insuredPerson))
			var verificationErr *sdk.VerificationError
			if !errors.As(err, &verificationErr) {
				t.Fatalf("error = %v (%T), want *sdk.VerificationError", err, err)
			}
			if code := protocol.CodeOf(err); code != protocol.CodeBadSignature {
				t.Errorf("cause code = %d, want %d", code, protocol.CodeBadSignature)
			}
		})
	}
}

func TestCallRSAWrongChannelKey(t *testing.T) {
	ch := demoChannel()
	ch.signType = protocol.SignRSA
	p := startPlatform(t, ch, nil)
	// The platform's private key in place of the channel's.
	client := newClient(t, p.URL, ch, nil, sdk.WithRSAPrivateKey(testRSAKeys().platform.private))

	_, err := client.Insured(t.Context(), insuredRequest(insuredPerson))
	var protocolErr *sdk.ProtocolError
	if !errors.As(err, &protocolErr) {
		t.Fatalf("error = %v (%T), want *sdk.ProtocolError", err, err)
	}
	if protocolErr.Code != protocol.CodeBadSignature {
		t.Errorf("code = %d, want %d", protocolErr.Code, protocol.CodeBadSignature)
	}
}

func TestRequestKeepsHTMLCharacters(t *testing.T) {
	ch := demoChannel()
	p := startPlatform(t, ch, nil)
	client := newClient(t, p.URL, ch, nil)

	person := api.InsuredPerson{Name: "A&B<C>", IDCard: "650101198001010032", CertType: "01"}
	if _, err := client.Insured(t.Context(), insuredRequest(person)); err != nil {
		t.Fatalf("Insured: %v", err)
	}
	payload := onlyRequest(t, p).payload
	if !bytes.Contains(payload, []byte(`"name":"A&B<C>"`)) {
		t.Errorf("business content = %s, want the name with & < > unescaped", payload)
	}
}

func TestProtocolFaultNotVerified(t *testing.T) {
	clock := newFakeClock()
	ch := demoChannel()
	p := startPlatform(t, ch, clock.Now)
	// The client's clock runs 11 minutes fast, outside the 600 s window.
	late := func() time.Time { return clock.Now().Add(11 * time.Minute) }
	client := newClient(t, p.URL, ch, late)

	response, err := client.Insured(t.Context(), insuredRequest(insuredPerson))
	var protocolErr *sdk.ProtocolError
	if !errors.As(err, &protocolErr) {
		t.Fatalf("error = %v (%T), want *sdk.ProtocolError", err, err)
	}
	if protocolErr.Code != protocol.CodeBadTimestamp {
		t.Errorf("Code = %d, want %d", protocolErr.Code, protocol.CodeBadTimestamp)
	}
	if protocolErr.Message != "请求时间戳无效或已过期" {
		t.Errorf("Message = %q, want 请求时间戳无效或已过期", protocolErr.Message)
	}
	if sdk.Code(err) != protocol.CodeBadTimestamp {
		t.Errorf("sdk.Code = %d, want %d", sdk.Code(err), protocol.CodeBadTimestamp)
	}
	if err.Error() != "10005 请求时间戳无效或已过期" {
		t.Errorf("Error() = %q, want the code and the message", err.Error())
	}
	if sdk.OutcomeUnknown(err) {
		t.Error("OutcomeUnknown = true for a protocol fault, want false")
	}
	if response != nil {
		t.Errorf("response = %+v, want nil", response)
	}
}

func TestBusinessError(t *testing.T) {
	ch := demoChannel()
	p := startPlatform(t, ch, nil)
	client := newClient(t, p.URL, ch, nil)

	nameless := insuredPerson
	nameless.Name = ""
	_, err := client.Insured(t.Context(), insuredRequest(nameless))
	var businessErr *sdk.BusinessError
	if !errors.As(err, &businessErr) {
		t.Fatalf("error = %v (%T), want *sdk.BusinessError", err, err)
	}
	if businessErr.Code != protocol.CodeNameEmpty {
		t.Errorf("Code = %d, want %d", businessErr.Code, protocol.CodeNameEmpty)
	}
	if businessErr.Message != "姓名不能为空" {
		t.Errorf("Message = %q, want 姓名不能为空", businessErr.Message)
	}
	if sdk.Code(err) != protocol.CodeNameEmpty {
		t.Errorf("sdk.Code = %d, want %d", sdk.Code(err), protocol.CodeNameEmpty)
	}
	var protocolErr *sdk.ProtocolError
	if errors.As(err, &protocolErr) {
		t.Error("a business error also matches *sdk.ProtocolError")
	}
	if sdk.OutcomeUnknown(err) {
		t.Error("OutcomeUnknown = true for a business error, want false")
	}
}

// rewriteField returns a tamper function that replaces the value of the
// top-level field name.
func rewriteField(name string, rewrite func(value []byte) []byte) func([]byte) []byte {
	return func(body []byte) []byte {
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(body, &fields); err != nil {
			panic(err)
		}
		value, ok := fields[name]
		if !ok {
			panic("response has no field " + name)
		}
		fields[name] = rewrite(value)
		out, err := json.Marshal(fields)
		if err != nil {
			panic(err)
		}
		return out
	}
}

// flipMiddleCharacter changes the middle character of a JSON string value
// to another character of the hex and base64 alphabets.
func flipMiddleCharacter(value []byte) []byte {
	out := bytes.Clone(value)
	i := len(out) / 2
	if out[i] == 'A' {
		out[i] = 'B'
	} else {
		out[i] = 'A'
	}
	return out
}

func TestTamperedResponse(t *testing.T) {
	nameless := insuredPerson
	nameless.Name = ""
	tests := []struct {
		name      string
		encType   protocol.EncType
		person    api.InsuredPerson
		tamper    func([]byte) []byte
		wantCodes []int
	}{
		{"signature", protocol.EncSM4, insuredPerson, rewriteField("chs_fjs_sign", flipMiddleCharacter),
			[]int{protocol.CodeBadSignature}},
		// A changed ciphertext block decrypts to noise: invalid JSON, or in
		// rare cases JSON whose signature fails.
		{"ciphertext", protocol.EncSM4, insuredPerson, rewriteField("chs_fjs_encdata", flipMiddleCharacter),
			[]int{protocol.CodeDecryptFailed, protocol.CodeBadSignature}},
		{"business code", protocol.EncSM4, nameless, rewriteField("code", func([]byte) []byte { return []byte("0") }),
			[]int{protocol.CodeBadSignature}},
		{"data in clear", protocol.EncNone, insuredPerson, rewriteField("data", func(v []byte) []byte {
			return bytes.Replace(v, []byte(`"is_insu":"1"`), []byte(`"is_insu":"0"`), 1)
		}), []int{protocol.CodeBadSignature}},
		{"signature removed", protocol.EncSM4, insuredPerson, rewriteField("chs_fjs_sign", func([]byte) []byte { return []byte(`""`) }),
			[]int{protocol.CodeMissingField}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch := demoChannel()
			ch.encType = tt.encType
			p := startPlatform(t, ch, nil, func(p *fakePlatform) { p.tamper = tt.tamper })
			client := newClient(t, p.URL, ch, nil)

			var response api.InsuredResponse
			err := client.Call(t.Context(), api.FunInsured, insuredRequest(tt.person), &response)
			var verificationErr *sdk.VerificationError
			if !errors.As(err, &verificationErr) {
				t.Fatalf("error = %v (%T), want *sdk.VerificationError", err, err)
			}
			code := protocol.CodeOf(err)
			if !contains(tt.wantCodes, code) {
				t.Errorf("cause code = %d, want one of %v", code, tt.wantCodes)
			}
			if verificationErr.FunID != api.FunInsured {
				t.Errorf("FunID = %q, want %s", verificationErr.FunID, api.FunInsured)
			}
			if !sdk.OutcomeUnknown(err) {
				t.Error("OutcomeUnknown = false, want true: the request reached the platform")
			}
			if sdk.Code(err) != 0 {
				t.Errorf("sdk.Code = %d, want 0: no code was received", sdk.Code(err))
			}
			if response.List != nil {
				t.Errorf("response = %+v, want it untouched", response)
			}
		})
	}
}

// TestUnsignedFaultClaimsCode checks that an unsigned fault outside the
// protocol codes, which the platform sends when it cannot sign, fails
// verification but names the code it claims.
func TestUnsignedFaultClaimsCode(t *testing.T) {
	ch := demoChannel()
	fault := func([]byte) []byte {
		return protocol.ProfileFJS.EncodeFault(protocol.CodeInternal, "", "1796364930000")
	}
	p := startPlatform(t, ch, nil, func(p *fakePlatform) { p.tamper = fault })
	client := newClient(t, p.URL, ch, nil)

	_, err := client.Insured(t.Context(), insuredRequest(insuredPerson))
	var verificationErr *sdk.VerificationError
	if !errors.As(err, &verificationErr) {
		t.Fatalf("error = %v (%T), want *sdk.VerificationError", err, err)
	}
	if protocol.CodeOf(err) != protocol.CodeMissingField {
		t.Errorf("cause code = %d, want %d", protocol.CodeOf(err), protocol.CodeMissingField)
	}
	if verificationErr.UnsignedCode != protocol.CodeInternal {
		t.Errorf("UnsignedCode = %d, want %d", verificationErr.UnsignedCode, protocol.CodeInternal)
	}
	if want := fmt.Sprintf("claims %d %s", protocol.CodeInternal, protocol.FormatMessage(protocol.CodeInternal)); !strings.Contains(err.Error(), want) {
		t.Errorf("Error() = %q, want it to contain %q", err.Error(), want)
	}
	if sdk.Code(err) != 0 {
		t.Errorf("sdk.Code = %d, want 0: an unsigned code is not the result", sdk.Code(err))
	}
	if !sdk.OutcomeUnknown(err) {
		t.Error("OutcomeUnknown = false, want true")
	}
}

func contains(list []int, v int) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func TestTransportErrorStatus(t *testing.T) {
	ch := demoChannel()
	p := startPlatform(t, ch, nil, func(p *fakePlatform) { p.gatewayStatus = http.StatusBadGateway })
	client := newClient(t, p.URL, ch, nil)

	_, err := client.Insured(t.Context(), insuredRequest(insuredPerson))
	var transportErr *sdk.TransportError
	if !errors.As(err, &transportErr) {
		t.Fatalf("error = %v (%T), want *sdk.TransportError", err, err)
	}
	if transportErr.StatusCode != http.StatusBadGateway {
		t.Errorf("StatusCode = %d, want 502", transportErr.StatusCode)
	}
	if !transportErr.OutcomeUnknown() {
		t.Error("OutcomeUnknown = false after an HTTP status, want true")
	}
	if !sdk.OutcomeUnknown(err) {
		t.Error("sdk.OutcomeUnknown = false, want true")
	}
	if sdk.Code(err) != 0 {
		t.Errorf("sdk.Code = %d, want 0", sdk.Code(err))
	}
	if !strings.Contains(err.Error(), "502") {
		t.Errorf("Error() = %q, want it to name the status", err.Error())
	}
}

func TestTransportErrorClosedConnection(t *testing.T) {
	ch := demoChannel()
	p := startPlatform(t, ch, nil, func(p *fakePlatform) { p.closeConnection = true })
	client := newClient(t, p.URL, ch, nil)

	_, err := client.Insured(t.Context(), insuredRequest(insuredPerson))
	var transportErr *sdk.TransportError
	if !errors.As(err, &transportErr) {
		t.Fatalf("error = %v (%T), want *sdk.TransportError", err, err)
	}
	if !transportErr.OutcomeUnknown() {
		t.Error("OutcomeUnknown = false after the platform read the request, want true")
	}
	if transportErr.StatusCode != 0 {
		t.Errorf("StatusCode = %d, want 0", transportErr.StatusCode)
	}
	if p.gatewayHits.Load() != 1 {
		t.Errorf("platform received %d requests, want 1: the client must not retry", p.gatewayHits.Load())
	}
}

func TestTransportErrorConnectionRefused(t *testing.T) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	address := listener.Addr().String()
	listener.Close()
	client := newClient(t, "http://"+address, demoChannel(), nil)

	_, err = client.Insured(t.Context(), insuredRequest(insuredPerson))
	var transportErr *sdk.TransportError
	if !errors.As(err, &transportErr) {
		t.Fatalf("error = %v (%T), want *sdk.TransportError", err, err)
	}
	if transportErr.OutcomeUnknown() {
		t.Error("OutcomeUnknown = true although no connection was made, want false")
	}
}

func TestTransportErrorCanceledContext(t *testing.T) {
	ch := demoChannel()
	p := startPlatform(t, ch, nil)
	client := newClient(t, p.URL, ch, nil)

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := client.Insured(ctx, insuredRequest(insuredPerson))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error = %v, want context.Canceled", err)
	}
	if sdk.OutcomeUnknown(err) {
		t.Error("OutcomeUnknown = true for a call canceled before it was sent, want false")
	}
	if p.gatewayHits.Load() != 0 {
		t.Errorf("platform received %d requests, want 0", p.gatewayHits.Load())
	}
}

func TestRedirectNotFollowed(t *testing.T) {
	ch := demoChannel()
	p := startPlatform(t, ch, nil)
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, p.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	t.Cleanup(redirector.Close)
	client := newClient(t, redirector.URL, ch, nil)

	_, err := client.Insured(t.Context(), insuredRequest(insuredPerson))
	var transportErr *sdk.TransportError
	if !errors.As(err, &transportErr) {
		t.Fatalf("error = %v (%T), want *sdk.TransportError", err, err)
	}
	if transportErr.StatusCode != http.StatusTemporaryRedirect {
		t.Errorf("StatusCode = %d, want 307", transportErr.StatusCode)
	}
	if p.gatewayHits.Load() != 0 {
		t.Errorf("redirect target received %d requests, want 0", p.gatewayHits.Load())
	}
}

func TestResponseLargerThanMaximum(t *testing.T) {
	ch := demoChannel()
	p := startPlatform(t, ch, nil)
	client := newClient(t, p.URL, ch, nil, sdk.WithMaxResponseBytes(64))

	_, err := client.Insured(t.Context(), insuredRequest(insuredPerson))
	var transportErr *sdk.TransportError
	if !errors.As(err, &transportErr) {
		t.Fatalf("error = %v (%T), want *sdk.TransportError", err, err)
	}
	if !transportErr.OutcomeUnknown() {
		t.Error("OutcomeUnknown = false, want true: the platform responded")
	}
	if !strings.Contains(err.Error(), "larger than the maximum of 64 bytes") {
		t.Errorf("Error() = %q, want it to name the maximum", err.Error())
	}
}

func TestDecodeErrorAfterSuccess(t *testing.T) {
	ch := demoChannel()
	p := startPlatform(t, ch, nil)
	client := newClient(t, p.URL, ch, nil)

	var response struct {
		List int `json:"list"`
	}
	err := client.Call(t.Context(), api.FunInsured, insuredRequest(insuredPerson), &response)
	var decodeErr *sdk.DecodeError
	if !errors.As(err, &decodeErr) {
		t.Fatalf("error = %v (%T), want *sdk.DecodeError", err, err)
	}
	if !bytes.Contains(decodeErr.Data, []byte(`"is_insu":"1"`)) {
		t.Errorf("Data = %s, want the verified data", decodeErr.Data)
	}
	if sdk.OutcomeUnknown(err) || sdk.Code(err) != 0 {
		t.Errorf("OutcomeUnknown = %v, Code = %d; want false and 0: the call succeeded", sdk.OutcomeUnknown(err), sdk.Code(err))
	}
}

func TestCallRawMessage(t *testing.T) {
	ch := demoChannel()
	p := startPlatform(t, ch, nil)
	client := newClient(t, p.URL, ch, nil)

	var data json.RawMessage
	request := json.RawMessage(`{ "bill_date": "2026-05-01", "total": 12.30 }`)
	if err := client.Call(t.Context(), api.FunReconTotal, request, &data); err != nil {
		t.Fatalf("Call: %v", err)
	}
	if string(data) != `{"funid":"CI00.02.00.09"}` {
		t.Errorf("data = %s, want the platform's data", data)
	}
	// A number keeps its literal, because the platform signs it as sent.
	if payload := onlyRequest(t, p).payload; string(payload) != `{"bill_date":"2026-05-01","total":12.30}` {
		t.Errorf("business content = %s, want the request compacted with its literals", payload)
	}
}

func TestCallRejectsBadRequest(t *testing.T) {
	ch := demoChannel()
	p := startPlatform(t, ch, nil)
	client := newClient(t, p.URL, ch, nil)

	if err := client.Call(t.Context(), api.FunQuery, []int{1}, nil); err == nil {
		t.Error("Call with a JSON array as request succeeded, want an error: fjs business content is an object")
	}
	if err := client.Call(t.Context(), "", map[string]string{}, nil); err == nil {
		t.Error("Call without a function id succeeded, want an error")
	}
	if err := client.Call(t.Context(), api.FunQuery, func() {}, nil); err == nil {
		t.Error("Call with a request that does not encode succeeded, want an error")
	}
	if _, err := client.Insured(t.Context(), nil); err == nil {
		t.Error("Insured(nil) succeeded, want an error")
	}
	if n := p.gatewayHits.Load(); n != 0 {
		t.Errorf("platform received %d requests, want 0", n)
	}
}

func TestReconDetailAliasPath(t *testing.T) {
	request := map[string]string{"setl_date": "2026-05-01"}
	tests := []struct {
		name     string
		channel  channel
		prefix   string
		funID    string
		options  []sdk.Option
		wantPath string
	}{
		{"detail reconciliation", demoChannel(), "", api.FunReconDetail, nil, "/gateway/CI00.02.00.08"},
		{"total reconciliation", demoChannel(), "", api.FunReconTotal, nil, "/gateway"},
		{"alias routing off", demoChannel(), "", api.FunReconDetail, []sdk.Option{sdk.WithoutAliasRouting()}, "/gateway"},
		{"base URL with a path", demoChannel(), "/prefix/", api.FunReconDetail, nil, "/prefix/gateway/CI00.02.00.08"},
		{"hsa profile", hsaChannel(), "", api.FunReconDetail, nil, "/hsa/gateway"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := startPlatform(t, tt.channel, nil)
			client := newClient(t, p.URL+tt.prefix, tt.channel, nil, tt.options...)

			var data map[string]string
			if err := client.Call(t.Context(), tt.funID, request, &data); err != nil {
				t.Fatalf("Call: %v", err)
			}
			if data["funid"] != tt.funID {
				t.Errorf("data = %v, want the response to %s", data, tt.funID)
			}
			if path := onlyRequest(t, p).path; path != tt.wantPath {
				t.Errorf("path = %q, want %q", path, tt.wantPath)
			}
		})
	}
}
