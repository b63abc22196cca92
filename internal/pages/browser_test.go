package pages_test

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"chsgate/internal/store/storetest"
)

// chromiumPath is where Debian's chromium package installs the browser;
// .ci/chromium installs it.
const chromiumPath = "/usr/bin/chromium"

// phoneWidth is the CSS width of the smallest phone the pages are laid out
// for, an iPhone SE or mini.
const phoneWidth = 375

// screenshotScale is the device pixel ratio of the screenshots, as on a
// phone, so the saved images are sharp.
const screenshotScale = 2

// updateScreenshotsVariable names the environment variable that makes the
// browser tests save their screenshots under docs/screenshots.
const updateScreenshotsVariable = "CHSGATE_UPDATE_SCREENSHOTS"

// newBrowser starts a headless Chromium with a fresh profile and returns a
// tab with a phone-sized viewport. The flags keep the browser from
// reaching any host but 127.0.0.1: no background services, and every
// other host name resolves to nothing.
func newBrowser(t *testing.T, scriptsDisabled bool) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("Chromium is missing at %s, and CI must run the browser tests: run .ci/chromium first", chromiumPath)
		}
		t.Skipf("browser test skipped: Chromium is not installed at %s (run .ci/chromium)", chromiumPath)
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.Flag("no-pings", true),
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"),
	)
	allocator, cancelAllocator := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAllocator)
	browser, cancelBrowser := chromedp.NewContext(allocator)
	t.Cleanup(cancelBrowser)

	// The first action starts the browser, and it lives as long as the
	// context of that action, so the start gets no timeout of its own.
	err := chromedp.Do(browser,
		chromedp.EmulateViewport(phoneWidth, 812, chromedp.EmulateScale(screenshotScale), chromedp.EmulateMobile),
	)
	if err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	if scriptsDisabled {
		_, err := chromedp.Call(browser, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
		if err != nil {
			t.Fatalf("disable scripts: %v", err)
		}
		// A page script that ran would set the title.
		probe := "data:text/html,<title>idle</title><script>document.title='ran'</script>"
		if err := chromedp.Do(browser, chromedp.Navigate(probe)); err != nil {
			t.Fatalf("open the script probe: %v", err)
		}
		if title, err := chromedp.Run(browser, chromedp.Title()); err != nil || title != "idle" {
			t.Fatalf("scripts still run after disabling them: title %q, error %v", title, err)
		}
	}

	ctx, cancel := context.WithTimeout(browser, 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// browserEnv returns an environment over SQLite only: the browser tests
// check what a person sees, which the store does not change.
func browserEnv(t *testing.T, opts envOptions) *testEnv {
	t.Helper()
	return newEnv(t, storetest.Backends(t)[0], opts)
}

// checkFitsPhone fails the test when the page is wider than the phone, so a
// person would have to scroll sideways.
func checkFitsPhone(t *testing.T, ctx context.Context, state string) {
	t.Helper()
	width, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
	if err != nil {
		t.Fatalf("%s: read scrollWidth: %v", state, err)
	}
	if width > phoneWidth {
		t.Errorf("%s: scrollWidth %d px, want at most %d px (no horizontal scrolling)", state, width, phoneWidth)
	}
}

// clickAndWait clicks the element and waits for the navigation it causes,
// returning the final response's status.
func clickAndWait(t *testing.T, ctx context.Context, selector string) int {
	t.Helper()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(selector)))
	if err != nil {
		t.Fatalf("click %s: %v", selector, err)
	}
	return int(resp.Status)
}

// screenshot takes a full-page PNG, checks that it shows something, and
// saves it as docs/screenshots/<name>.png when
// CHSGATE_UPDATE_SCREENSHOTS=1.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	data, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("screenshot %s is not a PNG: %v", name, err)
	}
	bounds := img.Bounds()
	if bounds.Dx() != phoneWidth*screenshotScale {
		t.Errorf("screenshot %s is %d px wide, want %d", name, bounds.Dx(), phoneWidth*screenshotScale)
	}
	if bounds.Dy() < 100 {
		t.Errorf("screenshot %s is only %d px high", name, bounds.Dy())
	}
	if colors := countColors(img, 3); colors < 3 {
		t.Errorf("screenshot %s has %d colors, so the page looks blank", name, colors)
	}

	if os.Getenv(updateScreenshotsVariable) != "1" {
		return
	}
	path := filepath.Join("..", "..", "docs", "screenshots", name+".png")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("saved %s", path)
}

// countColors counts the distinct colors of img, stopping at limit.
func countColors(img image.Image, limit int) int {
	seen := make(map[[4]uint32]bool)
	bounds := img.Bounds()
	for y := bounds.Min.Y; y < bounds.Max.Y; y += 4 {
		for x := bounds.Min.X; x < bounds.Max.X; x += 4 {
			r, g, b, a := img.At(x, y).RGBA()
			seen[[4]uint32{r, g, b, a}] = true
			if len(seen) >= limit {
				return len(seen)
			}
		}
	}
	return len(seen)
}

// checkArrived checks that the browser ended on the third party's
// redirect_url with an auth code, and that the third party's server got
// that request.
func checkArrived(t *testing.T, ctx context.Context, env *testEnv) {
	t.Helper()
	checkArrivedAt(t, ctx, env, "/auth/done", "authcode")
}

// checkArrivedAt checks that the browser ended on the third party's page at
// path with the query parameter param, and that the third party's server
// got that request.
func checkArrivedAt(t *testing.T, ctx context.Context, env *testEnv, path, param string) {
	t.Helper()
	location, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatalf("read location: %v", err)
	}
	u, err := url.Parse(location)
	if err != nil {
		t.Fatalf("location %q: %v", location, err)
	}
	if got := u.Scheme + "://" + u.Host + u.Path; got != env.thirdPartyURL+path {
		t.Errorf("browser ended on %s, want %s%s", got, env.thirdPartyURL, path)
	}
	if u.Query().Get(param) == "" {
		t.Errorf("browser ended on %s, with no %s", location, param)
	}
	select {
	case arrived := <-env.arrivals:
		if arrived.Query().Get(param) != u.Query().Get(param) {
			t.Errorf("third party got %s, browser shows %s", arrived, location)
		}
	default:
		t.Error("the third party's server got no request")
	}
}

func TestBrowserAuthPagePass(t *testing.T) {
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
			link := env.openAuthPage(t)

			resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(link))
			if err != nil {
				t.Fatalf("open %s: %v", link, err)
			}
			if resp.Status != http.StatusOK {
				t.Fatalf("open page: status %d, want 200", resp.Status)
			}
			heading, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("h1")))
			if err != nil {
				t.Fatal(err)
			}
			if heading != "医保在线服务授权" {
				t.Errorf("heading %q, want 医保在线服务授权", heading)
			}
			checkFitsPhone(t, ctx, "open page")
			if !c.scriptsDisabled {
				screenshot(t, ctx, "auth-open")
			}

			if status := clickAndWait(t, ctx, `button[name="face"][value="pass"]`); status != http.StatusOK {
				t.Errorf("third party's page: status %d, want 200", status)
			}
			checkArrived(t, ctx, env)
		})
	}
}

func TestBrowserAuthPageWrongCSRF(t *testing.T) {
	ctx := newBrowser(t, false)
	env := browserEnv(t, sandbox)
	link := env.openAuthPage(t)

	if err := chromedp.Do(ctx,
		chromedp.Navigate(link),
		chromedp.SetValue(chromedp.CSS(`input[name="csrf_token"]`), "forged-token"),
	); err != nil {
		t.Fatalf("open %s and change its token: %v", link, err)
	}
	if status := clickAndWait(t, ctx, `button[name="face"][value="pass"]`); status != http.StatusForbidden {
		t.Errorf("post with a wrong token: status %d, want 403", status)
	}
	heading, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("h1")))
	if err != nil {
		t.Fatal(err)
	}
	if heading != "页面已失效，请刷新后重试" {
		t.Errorf("heading %q, want 页面已失效，请刷新后重试", heading)
	}
	checkFitsPhone(t, ctx, "wrong CSRF page")
	screenshot(t, ctx, "auth-csrf-rejected")

	// The page the person reopens works.
	if err := chromedp.Do(ctx, chromedp.Navigate(link)); err != nil {
		t.Fatal(err)
	}
	clickAndWait(t, ctx, `button[name="face"][value="pass"]`)
	checkArrived(t, ctx, env)
}

func TestBrowserAuthPageFailsClosed(t *testing.T) {
	ctx := newBrowser(t, true)
	env := browserEnv(t, envOptions{})
	link := env.openAuthPage(t)

	if err := chromedp.Do(ctx, chromedp.Navigate(link)); err != nil {
		t.Fatalf("open %s: %v", link, err)
	}
	checkFitsPhone(t, ctx, "production page")
	if status := clickAndWait(t, ctx, `button[type="submit"]`); status != http.StatusServiceUnavailable {
		t.Errorf("submit without a verifier: status %d, want 503", status)
	}
	heading, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("h1")))
	if err != nil {
		t.Fatal(err)
	}
	if heading != "身份核验服务未配置，暂时无法授权" {
		t.Errorf("heading %q, want 身份核验服务未配置，暂时无法授权", heading)
	}
	location, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(location, env.pagesURL) {
		t.Errorf("browser left the pages for %s", location)
	}
	checkFitsPhone(t, ctx, "fail-closed page")
	screenshot(t, ctx, "auth-unavailable")
}
