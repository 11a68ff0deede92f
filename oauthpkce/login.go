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
	// Device runs the device authorization grant (RFC 8628) instead of the
	// browser flow: the person approves the login on another device, so
	// nothing opens a browser or listens here. Timeout, when set, bounds
	// the wait; otherwise the user code's own expiry does.
	Device bool
}

// callback is one authorization response, from the loopback listener or
// pasted.
type callback struct {
	code    string
	authErr *AuthorizeError
	// err ends the login: the response came from the wrong issuer.
	err error
	// reply, for the loopback listener, receives the outcome of the code
	// exchange so the browser page can say whether login succeeded.
	reply chan error
}

// failure is the error that ends the login with this response, if any.
func (cb callback) failure() error {
	if cb.err != nil {
		return cb.err
	}
	if cb.authErr != nil {
		return cb.authErr
	}
	return nil
}

// Login runs the authorization code flow with PKCE (S256), or with
// LoginOptions.Device the device authorization grant (RFC 8628), and
// returns the new credential, not yet stored: pass it to
// resolver.Resolver.Store. It never logs or prints the code or a token.
// Every error it returns starts with "oauth: ".
func (s *Source) Login(ctx context.Context, opts LoginOptions) (*resolver.Credential, error) {
	cred, err := s.login(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("oauth: %w", err)
	}
	return cred, nil
}

func (s *Source) login(ctx context.Context, opts LoginOptions) (*resolver.Credential, error) {
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
	scopes := s.scopes()
	if opts.Device {
		return s.deviceLogin(parent, ep, scopes, opts, out)
	}

	f := &flow{state: randomState(), results: make(chan callback), done: make(chan struct{})}
	f.iss, f.issRequired = ep.responseIssuer()
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
			return nil, errors.New("the paste flow needs a terminal to paste the code into")
		}
		redirectURI = s.cfg.PasteRedirectURI
	}

	conf := &oauth2.Config{
		ClientID:    s.cfg.ClientID,
		Endpoint:    oauth2.Endpoint{AuthURL: ep.Authorize, TokenURL: ep.Token, AuthStyle: oauth2.AuthStyleInParams},
		RedirectURL: redirectURI,
		Scopes:      scopes,
	}
	asked := s.authRequest(ep, scopes)
	authOpts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier)}
	if asked.nonce != "" {
		authOpts = append(authOpts, oauth2.SetAuthURLParam("nonce", asked.nonce))
	}
	if asked.consent {
		authOpts = append(authOpts, oauth2.SetAuthURLParam("prompt", "consent"))
	}
	for _, k := range slices.Sorted(maps.Keys(s.cfg.AuthParams)) {
		authOpts = append(authOpts, oauth2.SetAuthURLParam(k, s.cfg.AuthParams[k]))
	}
	authURL := conf.AuthCodeURL(f.state, authOpts...)
	// Where the provider takes pushed authorization requests (RFC 9126),
	// the request goes there first: a wrong client id or redirect URI is
	// refused here, in the terminal, instead of on a browser error page.
	checked := false
	if ep.PAR != "" {
		pushed, err := s.pushAuthorization(ctx, ep, authURL)
		switch {
		case err == nil:
			authURL, checked = pushed, true
		case errors.Is(err, ErrClientRejected):
			return nil, err
		default:
			fmt.Fprintf(out, "Could not check the settings with the provider first (%v); continuing.\n", err)
		}
	}

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
	if !checked {
		fmt.Fprintf(out, "If the browser shows the provider's error page instead of a login (unknown client, unregistered redirect URI), the settings are wrong: check oauth.client_id and oauth.issuer, and press Ctrl-C here to cancel.\n")
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
		if err := cb.failure(); err != nil {
			if cb.reply != nil {
				cb.reply <- err
			}
			return nil, err
		}
		cred, err := s.exchange(ctx, conf, ep, cb.code, verifier, asked)
		if cb.reply != nil {
			cb.reply <- err
		}
		return cred, err
	case <-ctx.Done():
		if parent.Err() == nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, fmt.Errorf("%w: no browser redirect or pasted code within %v (--timeout)", ErrLoginTimeout, timeout)
		}
		return nil, fmt.Errorf("login: %w", ctx.Err())
	}
}

// exchange redeems the code with the PKCE verifier.
func (s *Source) exchange(ctx context.Context, conf *oauth2.Config, ep endpoints, code, verifier string, asked authRequest) (*resolver.Credential, error) {
	rec := &responseRecorder{}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	ctx = context.WithValue(ctx, oauth2.HTTPClient, rec.client(s.httpClient()))
	tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		return nil, classify("code exchange", ep.Token, err, rec, code, verifier)
	}
	return s.loginCredential(tok, conf, ep, rec, asked)
}

// loginCredential checks a login's token response (the ID token belongs to
// this login) and builds the credential, with the reason when the provider
// issued no refresh token.
func (s *Source) loginCredential(tok *oauth2.Token, conf *oauth2.Config, ep endpoints, rec *responseRecorder, asked authRequest) (*resolver.Credential, error) {
	now := time.Now()
	if idt, ok := tok.Extra("id_token").(string); ok && idt != "" {
		if err := verifyIDToken(idt, ep.issuer(), conf.ClientID, asked.nonce, now); err != nil {
			return nil, err
		}
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
	cred, err := s.credential(tok, ep.Token, rec, meta, now)
	if err != nil {
		return nil, err
	}
	if cred.Refresh.IsZero() {
		granted, _ := tok.Extra("scope").(string)
		cred.Meta[MetaNoRefreshReason] = asked.noRefreshReason(conf.ClientID, granted)
		cred.Meta[MetaRefresh] = noRefreshStatus(cred.Expiry)
	}
	return cred, nil
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
	return nil, fmt.Errorf("listening on %s for the browser's redirect: %w", addr, err)
}

// flow is the state shared by the loopback listener and the paste reader
// of one login.
type flow struct {
	state   string
	host    string // the listener's host:port, checked against Host
	results chan callback
	done    chan struct{}

	// iss is the issuer an RFC 9207 iss parameter must name ("" when
	// unknown: no discovery); issRequired when the provider advertises it.
	iss         string
	issRequired bool
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
	cb := callback{code: code, authErr: authErr, err: f.checkIss(r.URL.Query()), reply: make(chan error, 1)}
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
		cb := callback{code: code, authErr: authErr}
		if u, err := url.Parse(line); err == nil && (u.Scheme == "http" || u.Scheme == "https") {
			// A whole redirect URL carries the provider's iss; a bare
			// code cannot, and is taken as the person's word.
			cb.err = f.checkIss(u.Query())
		}
		f.deliver(cb)
		return
	}
}

// checkIss is the RFC 9207 mix-up defence: an authorization response must
// name the issuer the login was sent to when the provider advertises
// authorization_response_iss_parameter_supported, and must never name
// another one.
func (f *flow) checkIss(q url.Values) error {
	got, present := q["iss"]
	switch {
	case f.iss == "":
		return nil
	case !present:
		if f.issRequired {
			return fmt.Errorf("%w: the provider advertises the iss parameter (RFC 9207), and the response to this login has none; it did not come from %s", ErrIssuerMismatch, f.iss)
		}
		return nil
	case len(got) != 1 || got[0] != f.iss:
		return fmt.Errorf("%w: the response names issuer %q, and this login was sent to %s (RFC 9207); it was refused", ErrIssuerMismatch, sanitize(strings.Join(got, ",")), f.iss)
	}
	return nil
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
		return "", nil, errors.New("the redirect has no code")
	case len(codes) > 1:
		return "", nil, errors.New("the redirect has more than one code")
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
			return "", nil, errors.New("the pasted URL cannot be parsed")
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
		return errors.New("the code is empty")
	}
	if len(code) > maxCodeLen {
		return fmt.Errorf("the code is longer than %d bytes", maxCodeLen)
	}
	for _, r := range code {
		if r <= ' ' || r == 0x7f {
			return errors.New("the code contains spaces or control characters")
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
