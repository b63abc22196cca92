package pages

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"

	"chsgate/internal/verify"
)

// maxSandboxBodyBytes bounds the sandbox API's request body, which is one
// short JSON object.
const maxSandboxBodyBytes = 4 << 10

// sandboxCompleteRequest is the body of POST /sandbox/auth/{ticket}/complete.
type sandboxCompleteRequest struct {
	Face string `json:"face"` // "pass" or "fail"
}

// sandboxError is the JSON body of the sandbox API's errors: a stable code
// for programs and a Chinese message for people.
type sandboxError struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

// completeSandboxAuth completes an authorization page with the simulator's
// outcome, for tests and integrators without a phone. It needs no CSRF
// token, because it is an API and not a form: it exists only in sandbox
// mode, and the simulator verifies nobody real.
func (p *Pages) completeSandboxAuth(w http.ResponseWriter, r *http.Request) {
	var req sandboxCompleteRequest
	if !decodeSandboxRequest(w, r, &req, `{"face":"pass"} 或 {"face":"fail"}`) {
		return
	}
	if req.Face != "pass" && req.Face != "fail" {
		writeJSON(w, http.StatusBadRequest, sandboxError{"invalid_face", `face 必须为 "pass" 或 "fail"`})
		return
	}

	ticket := r.PathValue("ticket")
	evidence := map[string]string{verify.FaceEvidence: req.Face}
	redirect, err := p.cfg.Auth.CompleteAuth(r.Context(), ticket, verify.Simulator{}, evidence)
	p.writeSandboxResult(w, r, authFlow, redirect, err)
}

// writeSandboxResult writes the sandbox API's response: the redirect, or
// the flow's error as JSON. A system error is logged with a request id that the
// message shows.
func (p *Pages) writeSandboxResult(w http.ResponseWriter, r *http.Request, f flow, redirect string, err error) {
	if err != nil {
		pe, ok := f.classify(err)
		message := pe.heading
		if !ok {
			requestID := newRequestID()
			p.cfg.Logger.ErrorContext(r.Context(), "sandbox "+f.name+" failed", "request_id", requestID, "error", err)
			message = "系统繁忙，请稍后再试。错误编号：" + requestID
		}
		writeJSON(w, pe.status, sandboxError{pe.code, message})
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Redirect string `json:"redirect"`
	}{redirect})
}

// sandboxConfirmRequest is the body of POST /sandbox/pay/{ticket}/confirm.
// Confirm is a pointer so that a body without it is rejected rather than
// read as a refusal.
type sandboxConfirmRequest struct {
	Confirm *bool `json:"confirm"`
}

// confirmSandboxPay ends a payment page for tests and integrators without a
// phone. With confirm true the simulator passes the face check and the
// order settles, as with the page's 人脸核验通过并确认支付. With confirm false the
// person declines: the response carries fail_url with the settlement code,
// and the order stays pending. Like completeSandboxAuth it needs no CSRF token.
func (p *Pages) confirmSandboxPay(w http.ResponseWriter, r *http.Request) {
	var req sandboxConfirmRequest
	if !decodeSandboxRequest(w, r, &req, `{"confirm":true} 或 {"confirm":false}`) {
		return
	}
	if req.Confirm == nil {
		writeJSON(w, http.StatusBadRequest, sandboxError{"invalid_confirm", "confirm 必须为 true 或 false"})
		return
	}

	ticket := r.PathValue("ticket")
	var redirect string
	var err error
	if *req.Confirm {
		evidence := map[string]string{verify.FaceEvidence: "pass"}
		redirect, err = p.cfg.Pay.ConfirmPay(r.Context(), ticket, verify.Simulator{}, evidence)
	} else {
		redirect, err = p.cfg.Pay.DeclinePay(r.Context(), ticket)
	}
	p.writeSandboxResult(w, r, payFlow, redirect, err)
}

// decodeSandboxRequest decodes a sandbox API body of exactly one JSON
// object into v. On failure it writes a 400 response, whose message shows
// the expected body, and returns false.
func decodeSandboxRequest(w http.ResponseWriter, r *http.Request, v any, expected string) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxSandboxBodyBytes))
	if err := dec.Decode(v); err != nil {
		writeJSON(w, http.StatusBadRequest, sandboxError{"invalid_json", "请求体不是有效的 JSON，应为 " + expected})
		return false
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		writeJSON(w, http.StatusBadRequest, sandboxError{"invalid_json", "请求体只能包含一个 JSON 对象"})
		return false
	}
	return true
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	w.Write(append(body, '\n'))
}
