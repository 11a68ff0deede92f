package oauthpkce_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/credchain/credchain/internal/testenv"
	"github.com/credchain/credchain/oauthpkce"
)

// TestLoginReturnsBeforeListenerShutdown: an idle connection to the
// callback listener (a browser's pre-connect) must not hold up the login:
// Login hands back its result first, and the listener shuts down after.
func TestLoginReturnsBeforeListenerShutdown(t *testing.T) {
	testenv.Hermetic(t)
	tokenSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"access_token":"at-listener-test","token_type":"bearer","expires_in":3600,"refresh_token":"rt-1"}`)
	}))
	defer tokenSrv.Close()
	src, err := oauthpkce.New(oauthpkce.Config{ClientID: "cli", AuthorizeURL: tokenSrv.URL + "/authorize",
		TokenURL: tokenSrv.URL + "/token", Redirect: oauthpkce.RedirectLoopback})
	if err != nil {
		t.Fatal(err)
	}
	var idle net.Conn
	t.Cleanup(func() {
		if idle != nil {
			_ = idle.Close()
		}
	})
	open := func(_ context.Context, authURL string) error {
		u, err := url.Parse(authURL)
		if err != nil {
			return err
		}
		q := u.Query()
		cb, err := url.Parse(q.Get("redirect_uri"))
		if err != nil {
			return err
		}
		if idle, err = net.Dial("tcp", cb.Host); err != nil {
			return err
		}
		go func() {
			resp, err := http.Get(cb.String() + "?code=the-code&state=" + url.QueryEscape(q.Get("state")))
			if err == nil {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
		return nil
	}
	cred, err := src.Login(context.Background(), oauthpkce.LoginOptions{OpenBrowser: open, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if cred.Token.Reveal() != "at-listener-test" {
		t.Fatalf("got %v", cred)
	}
	// Had Login waited for the shutdown, the idle connection would have
	// been closed (EOF) by now; it is still open.
	_ = idle.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	_, err = idle.Read(make([]byte, 1))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("idle connection read: %v; want it still open when Login returned", err)
	}
}
