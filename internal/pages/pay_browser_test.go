package pages_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// checkHeading fails the test unless the page's h1 reads want.
func checkHeading(t *testing.T, ctx context.Context, want string) {
	t.Helper()
	heading, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("h1")))
	if err != nil {
		t.Fatalf("read the heading: %v", err)
	}
	if heading != want {
		t.Errorf("heading %q, want %q", heading, want)
	}
}

func TestBrowserPayPagePass(t *testing.T) {
	for _, c := range []struct {
		name            string
		scriptsDisabled bool
	}{
		{"scripts enabled", false},
		{"scripts disabled", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx := newBrowser(t, c.scriptsDisabled)
			env := browserEnv(t, sandbox)
			link, lines := env.openFamilyPayPage(t)
			before := env.balance(t, env.head)

			resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(link))
			if err != nil {
				t.Fatalf("open %s: %v", link, err)
			}
			if resp.Status != http.StatusOK {
				t.Fatalf("open page: status %d, want 200", resp.Status)
			}
			checkHeading(t, ctx, "医保账户支付")
			checkFitsPhone(t, ctx, "open payment page")
			if !c.scriptsDisabled {
				screenshot(t, ctx, "pay-open")
			}

			if status := clickAndWait(t, ctx, `button[name="face"][value="pass"]`); status != http.StatusOK {
				t.Errorf("third party's page: status %d, want 200", status)
			}
			checkArrivedAt(t, ctx, env, "/pay/done", "code")
			location, err := chromedp.Run(ctx, chromedp.Location())
			if err != nil {
				t.Fatal(err)
			}
			if code := env.order(t, "HMBPAGE0001").SettleCode; !strings.Contains(location, "code="+code) {
				t.Errorf("browser ended on %s, without the order's settlement code", location)
			}
			if got, want := env.balance(t, env.head), before-total(lines); got != want {
				t.Errorf("head's balance %d, want %d", got, want)
			}

			// Opening the link again, as a person who goes back would,
			// shows that the order is done.
			resp, err = chromedp.Run(ctx, chromedp.NavigateResponse(link))
			if err != nil {
				t.Fatalf("reopen %s: %v", link, err)
			}
			if resp.Status != http.StatusConflict {
				t.Errorf("reopened page: status %d, want 409", resp.Status)
			}
			checkHeading(t, ctx, "订单已处理，请勿重复支付")
			checkFitsPhone(t, ctx, "paid order page")
			if !c.scriptsDisabled {
				screenshot(t, ctx, "pay-already-done")
			}
		})
	}
}

func TestBrowserPayPageFailsClosed(t *testing.T) {
	ctx := newBrowser(t, true)
	env := browserEnv(t, envOptions{})
	link, _ := env.openFamilyPayPage(t)
	before := env.balance(t, env.head)

	if err := chromedp.Do(ctx, chromedp.Navigate(link)); err != nil {
		t.Fatalf("open %s: %v", link, err)
	}
	checkFitsPhone(t, ctx, "production payment page")
	if status := clickAndWait(t, ctx, `button[type="submit"]`); status != http.StatusServiceUnavailable {
		t.Errorf("submit without a verifier: status %d, want 503", status)
	}
	checkHeading(t, ctx, "身份核验服务未配置，暂时无法支付")
	location, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(location, env.pagesURL) {
		t.Errorf("browser left the pages for %s", location)
	}
	if got := env.balance(t, env.head); got != before {
		t.Errorf("head's balance %d without a verifier, want %d", got, before)
	}
	checkFitsPhone(t, ctx, "fail-closed payment page")
	screenshot(t, ctx, "pay-unavailable")
}
