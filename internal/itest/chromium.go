//go:build integration

package itest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Chromium returns the path of the Chromium binary ($CREDCHAIN_CHROMIUM,
// else chromium on PATH). A missing Chromium fails the test.
func Chromium(t testing.TB) string {
	t.Helper()
	p, err := ChromiumPath()
	if err != nil {
		t.Fatalf("itest: %v", err)
	}
	return p
}

// ChromiumPath is Chromium for code that has no testing.TB (a test binary
// running as $BROWSER).
func ChromiumPath() (string, error) {
	if p := chromiumFromEnv; p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("CREDCHAIN_CHROMIUM=%s: %w; run .ci/setup.d/31-chromium.sh", p, err)
		}
		return p, nil
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("headless Chromium is required and missing: set CREDCHAIN_CHROMIUM or run .ci/setup.d/31-chromium.sh (apt-get install -y chromium)")
}

// ChromiumDexLogin opens authURL in a fresh headless Chromium, fills Dex's
// login form as u, and waits for the client's callback page (an element
// with id "credchain-result", as oauthpkce's page has). It returns that
// page's text. profileDir is the browser's throw-away profile directory;
// it also holds Chromium's TMPDIR and XDG directories so nothing is left
// behind elsewhere.
func ChromiumDexLogin(ctx context.Context, chromium, profileDir, authURL string, u DexUser) (string, error) {
	for _, d := range []string{"tmp", "config", "cache"} {
		if err := os.MkdirAll(filepath.Join(profileDir, d), 0o700); err != nil {
			return "", err
		}
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium),
		chromedp.UserDataDir(filepath.Join(profileDir, "profile")),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Env("TMPDIR="+filepath.Join(profileDir, "tmp"),
			"XDG_CONFIG_HOME="+filepath.Join(profileDir, "config"),
			"XDG_CACHE_HOME="+filepath.Join(profileDir, "cache")),
	)
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	tabCtx, cancelTab := chromedp.NewContext(allocCtx)
	defer cancelTab()
	err := chromedp.Do(tabCtx,
		chromedp.Navigate(authURL),
		chromedp.WaitVisible(chromedp.ID("login")),
		chromedp.SendKeys(chromedp.ID("login"), u.Email),
		chromedp.SendKeys(chromedp.ID("password"), u.Password),
		chromedp.Click(chromedp.ID("submit-login")),
		chromedp.WaitVisible(chromedp.ID("credchain-result")),
	)
	if err != nil {
		loc, _ := chromedp.Run(tabCtx, chromedp.Location())
		return "", fmt.Errorf("chromium login (at %s): %w", redactQuery(loc), err)
	}
	text, err := chromedp.Run(tabCtx, chromedp.Text(chromedp.CSS("body")))
	if err != nil {
		return "", fmt.Errorf("chromium: reading the callback page: %w", err)
	}
	return strings.TrimSpace(text), nil
}

// redactQuery drops a URL's query (it may hold a code) for error messages.
func redactQuery(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i] + "?…"
	}
	return u
}
