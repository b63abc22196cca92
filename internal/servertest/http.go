package servertest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"chsgate/protocol"
)

// Post posts body to url and returns the response body. It fails the test
// unless the status is 200.
func Post(t *testing.T, url, contentType string, body io.Reader) []byte {
	t.Helper()
	resp, err := http.Post(url, contentType, body)
	if err != nil {
		t.Fatal(err)
	}
	return readOK(t, resp)
}

// PostFJS posts an fjs request and returns the decoded response. The
// gateway responds to every envelope with HTTP 200, whatever the code in
// the body.
func PostFJS(t *testing.T, url string, body []byte) *protocol.Envelope {
	t.Helper()
	resp, err := http.Post(url, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return ReadFJSResponse(t, resp)
}

// ReadFJSResponse reads and closes the body of a gateway response and
// decodes it as an fjs response. It fails the test unless the status is
// 200.
func ReadFJSResponse(t *testing.T, resp *http.Response) *protocol.Envelope {
	t.Helper()
	data := readOK(t, resp)
	env, err := protocol.ProfileFJS.DecodeResponse(data)
	if err != nil {
		t.Fatalf("response %s does not decode: %v", data, err)
	}
	return env
}

func readOK(t *testing.T, resp *http.Response) []byte {
	t.Helper()
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("HTTP %d: %s", resp.StatusCode, data)
	}
	return data
}

// StartRedirectTarget serves the third party's redirect and fail pages on
// 127.0.0.1 until the end of the test and returns its base URL. The tests
// only read the address that the browser is sent to.
func StartRedirectTarget(t *testing.T) string {
	t.Helper()
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "third party page")
	}))
	t.Cleanup(target.Close)
	return target.URL
}

// SandboxRedirect completes the page of a link_url through the sandbox
// endpoint of the server at serverURL, such as
// /sandbox/pay/{ticket}/confirm for action "confirm", and returns the
// address that the browser is sent to. When the endpoint responds with
// another status than 200, it returns nil and that status.
func SandboxRedirect(t *testing.T, serverURL, linkURL, action, body string) (*url.URL, int) {
	t.Helper()
	link, err := url.Parse(linkURL)
	if err != nil {
		t.Fatal(err)
	}
	// The link may name the server by its configured public URL, so only
	// its path is used.
	endpoint := serverURL + strings.Replace(link.Path, "/h5/", "/sandbox/", 1) + "/" + action

	resp, err := http.Post(endpoint, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Logf("POST %s: HTTP %d: %s", endpoint, resp.StatusCode, data)
		return nil, resp.StatusCode
	}

	var out struct{ Redirect string }
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatalf("sandbox response %s: %v", data, err)
	}
	redirect, err := url.Parse(out.Redirect)
	if err != nil {
		t.Fatal(err)
	}
	return redirect, resp.StatusCode
}
