package oauthpkce

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/oauth2"

	"github.com/credchain/credchain/resolver"
)

// LoginOptions controls one interactive login.
type LoginOptions struct {
	// OpenBrowser opens the authorization URL; nil opens nothing (the URL
	// is printed either way). An error is reported on Out and the flow
	// keeps waiting, since the person can open the URL by hand.
	OpenBrowser func(ctx context.Context, url string) error
	// Out receives the instructions and the URL (nil discards them). The
	// URL carries no secret; the code never reaches Out.
	Out io.Writer
	// Paste, when set, is read line by line for a pasted code: "code",
	// "code#state", or the whole redirect URL. Reading does not stop the
	// flow at end of input. The reading goroutine may stay blocked on
	// Paste after Login returns, until Paste is closed.
	Paste io.Reader
	// Timeout bounds the wait for the person (DefaultLoginTimeout when
	// zero).
	Timeout time.Duration
	// OnWaiting is called once the URL is shown and the flow waits (the
	// CLI starts its spinner).
	OnWaiting func()
}

// callback is one authorization response, from the loopback listener or
// pasted.
type callback struct {
	code    string
	authErr *AuthorizeError
	// reply, for the loopback listener, receives the outcome of the code
	// exchange so the browser page can say whether login succeeded.
	reply chan error
}

// Login runs the authorization code flow with PKCE (S256) and returns the
// new credential, not yet stored: pass it to resolver.Resolver.Store. It
// never logs or prints the code or a token.
func (s *Source) Login(ctx context.Context, opts LoginOptions) (*resolver.Credential, error) {
	out := opts.Out
	if out == nil {
		out = io.Discard
	}
	if s.cfg.ClientID == "" {
		return nil, fmt.Errorf("%w: oauth.client_id is not set (env CREDCHAIN_OAUTH_CLIENT_ID)", ErrMissingSettings)
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DefaultLoginTimeout
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ep, err := s.resolveEndpoints(ctx)
	if err != nil {
		return nil, err
	}

	f := &flow{state: randomState(), results: make(chan callback), done: make(chan struct{})}
	defer close(f.done)
	verifier := oauth2.GenerateVerifier()

	mode := s.cfg.Redirect
	var redirectURI string
	if mode != RedirectPaste {
		ln, err := listenLoopback(s.cfg.CallbackPort)
		switch {
		case err == nil:
			port := ln.Addr().(*net.TCPAddr).Port
			redirectURI = "http://127.0.0.1:" + strconv.Itoa(port) + "/callback"
			f.host = "127.0.0.1:" + strconv.Itoa(port)
			stop := f.serve(ln)
			defer stop()
		case mode == RedirectAuto && s.cfg.PasteRedirectURI != "":
			fmt.Fprintf(out, "Cannot listen for the browser's redirect (%v); continuing with a pasted code.\n", err)
			mode = RedirectPaste
		default:
			return nil, err
		}
	}
	if mode == RedirectPaste {
		if s.cfg.PasteRedirectURI == "" {
			return nil, fmt.Errorf("%w: oauth.redirect is paste but oauth.paste_redirect_uri is not set (a provider page that shows the code, or %s)", ErrMissingSettings, OOBRedirectURI)
		}
		if opts.Paste == nil {
			return nil, errors.New("oauth: the paste flow needs a terminal to paste the code into")
		}
		redirectURI = s.cfg.PasteRedirectURI
	}

	scopes := s.cfg.Scopes
	if len(scopes) == 0 && s.cfg.Issuer != "" {
		// An OpenID provider issues a refresh token only for offline_access.
		scopes = SplitScopes(DefaultScopes)
	}
	conf := &oauth2.Config{
		ClientID:    s.cfg.ClientID,
		Endpoint:    oauth2.Endpoint{AuthURL: ep.Authorize, TokenURL: ep.Token, AuthStyle: oauth2.AuthStyleInParams},
		RedirectURL: redirectURI,
		Scopes:      scopes,
	}
	authOpts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier)}
	for _, k := range slices.Sorted(maps.Keys(s.cfg.AuthParams)) {
		authOpts = append(authOpts, oauth2.SetAuthURLParam(k, s.cfg.AuthParams[k]))
	}
	authURL := conf.AuthCodeURL(f.state, authOpts...)

	if opts.Paste != nil {
		go f.readPasted(opts.Paste, out)
	}
	fmt.Fprintf(out, "To log in, open this URL in a browser:\n\n  %s\n\n", authURL)
	if mode == RedirectPaste {
		fmt.Fprintf(out, "After logging in, paste the code the provider shows here and press Enter.\n")
	} else if opts.Paste != nil {
		fmt.Fprintf(out, "Waiting for the browser to return to %s.\nIf the browser shows a code instead, paste it here and press Enter.\n", redirectURI)
	} else {
		fmt.Fprintf(out, "Waiting for the browser to return to %s.\n", redirectURI)
	}
	if opts.OpenBrowser != nil {
		if err := opts.OpenBrowser(ctx, authURL); err != nil {
			fmt.Fprintf(out, "Could not open a browser (%v); open the URL above by hand.\n", err)
		}
	}
	if opts.OnWaiting != nil {
		opts.OnWaiting()
	}

	select {
	case cb := <-f.results:
		if cb.authErr != nil {
			if cb.reply != nil {
				cb.reply <- cb.authErr
			}
			return nil, cb.authErr
		}
		cred, err := s.exchange(ctx, conf, ep, cb.code, verifier)
		if cb.reply != nil {
			cb.reply <- err
		}
		return cred, err
	case <-ctx.Done():
		if parent.Err() == nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, fmt.Errorf("%w: no browser redirect or pasted code within %v (--timeout)", ErrLoginTimeout, timeout)
		}
		return nil, fmt.Errorf("oauth: login: %w", ctx.Err())
	}
}

// exchange redeems the code with the PKCE verifier.
func (s *Source) exchange(ctx context.Context, conf *oauth2.Config, ep endpoints, code, verifier string) (*resolver.Credential, error) {
	rec := &responseRecorder{}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	ctx = context.WithValue(ctx, oauth2.HTTPClient, rec.client(s.httpClient()))
	tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		return nil, classify("code exchange", ep.Token, err, rec, code, verifier)
	}
	meta := map[string]string{
		MetaClientID:   conf.ClientID,
		MetaTokenURL:   ep.Token,
		MetaLoggedInAt: time.Now().UTC().Format(time.RFC3339),
	}
	if ep.Issuer != "" {
		meta[MetaIssuer] = ep.Issuer
	}
	if ep.Revocation != "" {
		meta[MetaRevokeURL] = ep.Revocation
	}
	if len(conf.Scopes) > 0 {
		meta[MetaScopes] = strings.Join(conf.Scopes, " ")
	}
	return s.credential(tok, ep.Token, rec, meta, time.Now())
}

func randomState() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go ≥ 1.24)
	return base64.RawURLEncoding.EncodeToString(b)
}

func listenLoopback(port int) (net.Listener, error) {
	addr := "127.0.0.1:" + strconv.Itoa(port)
	ln, err := net.Listen("tcp", addr)
	if err == nil {
		return ln, nil
	}
	if port != 0 && errors.Is(err, syscall.EADDRINUSE) {
		return nil, fmt.Errorf("%w: %s (oauth.callback_port) is used by another program; stop it, pick another port, or set oauth.callback_port to 0 for a free one", ErrPortInUse, addr)
	}
	return nil, fmt.Errorf("oauth: listening on %s for the browser's redirect: %w", addr, err)
}

// flow is the state shared by the loopback listener and the paste reader
// of one login.
type flow struct {
	state   string
	host    string // the listener's host:port, checked against Host
	results chan callback
	done    chan struct{}
}

// deliver hands a result to Login unless the flow has ended.
func (f *flow) deliver(cb callback) bool {
	select {
	case f.results <- cb:
		return true
	case <-f.done:
		return false
	}
}

func (f *flow) serve(ln net.Listener) (stop func()) {
	srv := &http.Server{Handler: http.HandlerFunc(f.handle), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		if srv.Shutdown(ctx) != nil {
			_ = srv.Close()
		}
	}
}

func (f *flow) handle(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'")
	if r.URL.Path != "/callback" || r.Method != http.MethodGet {
		http.NotFound(w, r)
		return
	}
	if r.Host != f.host && r.Host != strings.Replace(f.host, "127.0.0.1", "localhost", 1) {
		// A page on another origin reaching us through DNS rebinding.
		writePage(w, http.StatusBadRequest, false, "This request did not come from the login redirect.")
		return
	}
	code, authErr, err := parseCallback(r.URL.Query(), f.state)
	if err != nil {
		msg := "This redirect is not for the login credchain is waiting for. Return to the terminal; the login is still waiting."
		if !errors.Is(err, ErrStateMismatch) {
			msg = err.Error()
		}
		writePage(w, http.StatusBadRequest, false, msg)
		return
	}
	cb := callback{code: code, authErr: authErr, reply: make(chan error, 1)}
	if !f.deliver(cb) {
		writePage(w, http.StatusConflict, false, "This login has already finished; you can close this tab.")
		return
	}
	select {
	case err := <-cb.reply:
		if err != nil {
			writePage(w, http.StatusOK, false, err.Error())
			return
		}
		writePage(w, http.StatusOK, true, "")
	case <-r.Context().Done():
	}
}

// readPasted reads lines until a valid code arrives or the flow ends.
func (f *flow) readPasted(in io.Reader, out io.Writer) {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		code, authErr, err := parsePasted(line, f.state)
		if err != nil {
			select {
			case <-f.done:
				return
			default:
			}
			fmt.Fprintf(out, "Ignored the pasted text: %v. Paste the code again.\n", err)
			continue
		}
		if !f.deliver(callback{code: code, authErr: authErr}) {
			return
		}
		return
	}
}

// maxCodeLen bounds an authorization code; real ones are far shorter.
const maxCodeLen = 4096

// parseCallback checks an authorization response's query: exactly one state
// equal to want, then either exactly one code or the provider's error.
func parseCallback(q url.Values, want string) (code string, authErr *AuthorizeError, err error) {
	states := q["state"]
	if len(states) != 1 || subtle.ConstantTimeCompare([]byte(states[0]), []byte(want)) != 1 {
		return "", nil, ErrStateMismatch
	}
	if e := q["error"]; len(e) > 0 {
		return "", &AuthorizeError{Code: sanitize(e[0]), Description: sanitize(q.Get("error_description"))}, nil
	}
	codes := q["code"]
	switch {
	case len(codes) == 0 || codes[0] == "":
		return "", nil, errors.New("oauth: the redirect has no code")
	case len(codes) > 1:
		return "", nil, errors.New("oauth: the redirect has more than one code")
	}
	if err := checkCode(codes[0]); err != nil {
		return "", nil, err
	}
	return codes[0], nil, nil
}

// parsePasted accepts "code", "code#state" or the whole redirect URL.
func parsePasted(s, want string) (code string, authErr *AuthorizeError, err error) {
	if strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://") {
		u, err := url.Parse(s)
		if err != nil {
			return "", nil, errors.New("oauth: the pasted URL cannot be parsed")
		}
		return parseCallback(u.Query(), want)
	}
	// Split at the last '#': our state (base64url) never contains one,
	// while a provider's code may (decoded from %23).
	code, state, hasState := s, "", false
	if i := strings.LastIndexByte(s, '#'); i >= 0 {
		code, state, hasState = s[:i], s[i+1:], true
	}
	if hasState && subtle.ConstantTimeCompare([]byte(state), []byte(want)) != 1 {
		return "", nil, ErrStateMismatch
	}
	if err := checkCode(code); err != nil {
		return "", nil, err
	}
	return code, nil, nil
}

func checkCode(code string) error {
	if code == "" {
		return errors.New("oauth: the code is empty")
	}
	if len(code) > maxCodeLen {
		return fmt.Errorf("oauth: the code is longer than %d bytes", maxCodeLen)
	}
	for _, r := range code {
		if r <= ' ' || r == 0x7f {
			return errors.New("oauth: the code contains spaces or control characters")
		}
	}
	return nil
}

// The page the browser shows after the redirect. Written with fmt and
// html.EscapeString rather than html/template: executing a template makes the
// linker keep every exported method of every type (text/template calls
// methods by name), which costs each embedder about 3 MB.
const (
	pageHead = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>credchain login</title>
<style>body{font-family:system-ui,sans-serif;max-width:40em;margin:4em auto;padding:0 1em}</style></head>
`
	pageOK = `<body><h1 id="credchain-result">Login complete</h1>
<p>credchain is logged in. You can close this tab and return to the terminal.</p>
</body></html>
`
	pageFailed = `<body><h1 id="credchain-result">Login failed</h1>
<p id="credchain-error">%s</p>
</body></html>
`
)

func writePage(w http.ResponseWriter, status int, ok bool, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	if ok {
		_, _ = io.WriteString(w, pageHead+pageOK)
		return
	}
	_, _ = fmt.Fprintf(w, pageHead+pageFailed, html.EscapeString(msg))
}
