package testenv

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// IssMode is what an OIDCProvider puts in the iss parameter of its
// authorization responses (RFC 9207).
type IssMode int

// Iss modes.
const (
	IssCorrect IssMode = iota // its own issuer (sent only when advertised)
	IssMissing                // none, even when advertised
	IssWrong                  // another provider's issuer
)

// NonceMode is what an OIDCProvider puts in the nonce claim of an ID token.
type NonceMode int

// Nonce modes.
const (
	NonceEcho    NonceMode = iota // the nonce of the authorization request
	NonceWrong                    // another one (an injected or replayed token)
	NonceMissing                  // none
)

// OIDCOptions are the behaviours of an OIDCProvider. The zero value is a
// lenient provider: offline_access is granted without consent, no iss
// parameter, no device or PAR endpoint.
type OIDCOptions struct {
	// TokenTTL is the access-token lifetime, sent as expires_in (1 minute
	// when zero).
	TokenTTL time.Duration
	// StrictConsent grants offline_access (and so a refresh token) only to
	// an authorization request with prompt=consent (OpenID Connect Core
	// §11), as many certified providers do.
	StrictConsent bool
	// PromptValues is prompt_values_supported in discovery (nil: absent).
	PromptValues []string
	// AdvertiseIss sets authorization_response_iss_parameter_supported; the
	// iss parameter is then sent as Iss says.
	AdvertiseIss bool
	Iss          IssMode
	// Nonce is what the ID token of a code exchange carries.
	Nonce NonceMode
	// RevokeGrantOnReuse revokes the whole grant (every refresh and access
	// token of the login) when a refresh token is presented a second time,
	// as RFC 9700 §4.14.2 recommends for public clients.
	RevokeGrantOnReuse bool
	// PAR publishes a pushed authorization request endpoint (RFC 9126).
	PAR bool
	// Device publishes a device authorization endpoint (RFC 8628).
	Device bool
	// DeviceInterval is the polling interval it asks for (1 s when zero);
	// DeviceExpiresIn the device code's lifetime (5 min when zero).
	DeviceInterval  time.Duration
	DeviceExpiresIn time.Duration
	// DeviceExpiryUnenforced keeps answering authorization_pending after
	// the lifetime it announced (a provider whose clock runs behind), so
	// only the client's own deadline can end an unapproved login.
	DeviceExpiryUnenforced bool
	// DeviceSlowDown answers the first device token poll with slow_down.
	DeviceSlowDown bool
	// DeviceFailures answers that many first device token polls with 503.
	DeviceFailures int
}

// OIDCProvider is an OpenID provider on 127.0.0.1 that speaks the wire
// protocol faithfully (discovery, authorization code with PKCE S256,
// refresh with rotation, device grant, PAR) and can misbehave the ways real
// providers do. A GET of an authorization URL logs in at once (there is no
// login page) and redirects to the client's loopback redirect URI.
type OIDCProvider struct {
	Issuer   string
	ClientID string

	opts OIDCOptions
	srv  *httptest.Server
	key  *ecdsa.PrivateKey

	mu         sync.Mutex
	codes      map[string]*opCode
	refresh    map[string]*opRefresh
	devices    map[string]*opDevice // by device code
	pushed     map[string]url.Values
	grants     int
	revoked    map[int]bool
	authorizes []url.Values
	stats      OIDCStats
	userCodes  chan string
}

// OIDCStats counts what the provider saw.
type OIDCStats struct {
	// RefreshCalls is every refresh_token grant; RefreshOK those answered
	// with new tokens.
	RefreshCalls, RefreshOK int
	// Reuses counts refresh tokens presented a second time; GrantsRevoked
	// the grants revoked for it.
	Reuses, GrantsRevoked int
	// DevicePolls counts device token requests; TooFastPolls those that came
	// before the interval the client was told (including slow_down's extra
	// 5 s).
	DevicePolls, TooFastPolls int
}

type opCode struct {
	client, redirectURI, challenge, nonce string
	scopes                                []string
	grant                                 int
	used                                  bool
}

type opRefresh struct {
	grant  int
	scopes []string
	used   bool
}

type opDevice struct {
	userCode string
	scopes   []string
	expiry   time.Time
	interval time.Duration
	lastPoll time.Time
	state    string // pending | approved | denied | done
	polls    int
}

// StartOIDCProvider starts the provider; it stops when the test ends. Its
// one client is the public client "credchain-cli" (no secret, any loopback
// redirect URI).
func StartOIDCProvider(t testing.TB, opts OIDCOptions) *OIDCProvider {
	t.Helper()
	if opts.TokenTTL <= 0 {
		opts.TokenTTL = time.Minute
	}
	if opts.DeviceInterval <= 0 {
		opts.DeviceInterval = time.Second
	}
	if opts.DeviceExpiresIn <= 0 {
		opts.DeviceExpiresIn = 5 * time.Minute
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	p := &OIDCProvider{
		ClientID: "credchain-cli", opts: opts, key: key,
		codes: map[string]*opCode{}, refresh: map[string]*opRefresh{}, devices: map[string]*opDevice{},
		pushed: map[string]url.Values{}, revoked: map[int]bool{}, userCodes: make(chan string, 16),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", p.discovery)
	mux.HandleFunc("GET /keys", p.keys)
	mux.HandleFunc("GET /authorize", p.authorize)
	mux.HandleFunc("POST /token", p.token)
	mux.HandleFunc("POST /par", p.par)
	mux.HandleFunc("POST /device/code", p.deviceCode)
	mux.HandleFunc("GET /device", p.devicePage)
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	p.Issuer = p.srv.URL
	return p
}

// Stats returns the counters so far.
func (p *OIDCProvider) Stats() OIDCStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats
}

// AuthorizeRequests returns the parameters of every authorization request
// (pushed ones resolved).
func (p *OIDCProvider) AuthorizeRequests() []url.Values {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.authorizes)
}

// UserCodes delivers the user code of every device authorization request.
func (p *OIDCProvider) UserCodes() <-chan string { return p.userCodes }

// ApproveDevice approves (or, with approve false, denies) the device login
// with that user code, as the person at the verification page would.
func (p *OIDCProvider) ApproveDevice(userCode string, approve bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, d := range p.devices {
		if d.userCode == userCode {
			d.state = map[bool]string{true: "approved", false: "denied"}[approve]
			return nil
		}
	}
	return fmt.Errorf("oidc provider: no device request with user code %q", userCode)
}

// ExpireDevice makes the device code with that user code expire now, as a
// provider whose clock runs ahead would: the next poll gets expired_token.
func (p *OIDCProvider) ExpireDevice(userCode string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, d := range p.devices {
		if d.userCode == userCode {
			d.expiry = time.Now().Add(-time.Second)
			return nil
		}
	}
	return fmt.Errorf("oidc provider: no device request with user code %q", userCode)
}

// Browse is the browser's part of a login: GET the authorization URL and
// follow the redirect to the client's callback; it returns the callback
// page's status and body, or the provider's error page.
func Browse(authURL string) (int, string, error) {
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Get(authURL)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil || b.Len() > 64<<10 {
			break
		}
	}
	return resp.StatusCode, b.String(), nil
}

func (p *OIDCProvider) discovery(w http.ResponseWriter, _ *http.Request) {
	doc := map[string]any{
		"issuer":                                p.Issuer,
		"authorization_endpoint":                p.Issuer + "/authorize",
		"token_endpoint":                        p.Issuer + "/token",
		"jwks_uri":                              p.Issuer + "/keys",
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"ES256"},
		"code_challenge_methods_supported":      []string{"S256"},
		"grant_types_supported":                 []string{"authorization_code", "refresh_token", "urn:ietf:params:oauth:grant-type:device_code"},
		"scopes_supported":                      []string{"openid", "email", "profile", "offline_access"},
		"token_endpoint_auth_methods_supported": []string{"none"},
	}
	if p.opts.PromptValues != nil {
		doc["prompt_values_supported"] = p.opts.PromptValues
	}
	if p.opts.AdvertiseIss {
		doc["authorization_response_iss_parameter_supported"] = true
	}
	if p.opts.PAR {
		doc["pushed_authorization_request_endpoint"] = p.Issuer + "/par"
	}
	if p.opts.Device {
		doc["device_authorization_endpoint"] = p.Issuer + "/device/code"
	}
	opWriteJSON(w, http.StatusOK, doc)
}

func (p *OIDCProvider) keys(w http.ResponseWriter, _ *http.Request) {
	pub, err := p.key.PublicKey.Bytes() // 0x04 || X || Y
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	opWriteJSON(w, http.StatusOK, map[string]any{"keys": []map[string]string{{
		"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": "k1",
		"x": opB64(pub[1:33]), "y": opB64(pub[33:65]),
	}}})
}

// opErrorPage is what a provider shows the browser for a request it cannot
// send back to the client (unknown client, bad redirect URI).
func opErrorPage(w http.ResponseWriter, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusBadRequest)
	fmt.Fprintf(w, "<html><body><h1>Bad Request</h1><p>%s</p></body></html>", html.EscapeString(msg))
}

func opLoopbackRedirect(s string) bool {
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "http" {
		return false
	}
	ip := net.ParseIP(u.Hostname())
	return ip != nil && ip.IsLoopback()
}

func (p *OIDCProvider) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if ru := q.Get("request_uri"); ru != "" {
		p.mu.Lock()
		pushed, ok := p.pushed[ru]
		delete(p.pushed, ru)
		p.mu.Unlock()
		if !ok || q.Get("client_id") != pushed.Get("client_id") {
			opErrorPage(w, "Unknown or used request_uri.")
			return
		}
		q = pushed
	}
	p.mu.Lock()
	p.authorizes = append(p.authorizes, q)
	p.mu.Unlock()
	if q.Get("client_id") != p.ClientID {
		opErrorPage(w, "Unknown client_id.")
		return
	}
	redirect := q.Get("redirect_uri")
	if !opLoopbackRedirect(redirect) {
		opErrorPage(w, "Unregistered redirect_uri.")
		return
	}
	back, _ := url.Parse(redirect)
	resp := url.Values{"state": {q.Get("state")}}
	switch {
	case q.Get("response_type") != "code":
		resp.Set("error", "unsupported_response_type")
	case q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "":
		resp.Set("error", "invalid_request")
		resp.Set("error_description", "PKCE with S256 is required")
	default:
		scopes := strings.Fields(q.Get("scope"))
		if p.opts.StrictConsent && !slices.Contains(strings.Fields(q.Get("prompt")), "consent") {
			// OpenID Connect Core §11: without prompt=consent the
			// offline_access scope is ignored.
			scopes = slices.DeleteFunc(scopes, func(s string) bool { return s == "offline_access" })
		}
		code := opRandomID()
		p.mu.Lock()
		p.grants++
		p.codes[code] = &opCode{client: q.Get("client_id"), redirectURI: redirect, challenge: q.Get("code_challenge"),
			nonce: q.Get("nonce"), scopes: scopes, grant: p.grants}
		p.mu.Unlock()
		resp.Set("code", code)
	}
	if p.opts.AdvertiseIss || p.opts.Iss == IssWrong {
		switch p.opts.Iss {
		case IssCorrect:
			resp.Set("iss", p.Issuer)
		case IssWrong:
			resp.Set("iss", "https://attacker.example.com")
		}
	}
	back.RawQuery = resp.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

func (p *OIDCProvider) par(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		opWriteJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request"})
		return
	}
	f := r.PostForm
	switch {
	case f.Get("client_id") != p.ClientID:
		opWriteJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client", "error_description": "Unknown client."})
		return
	case !opLoopbackRedirect(f.Get("redirect_uri")):
		opWriteJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request", "error_description": "redirect_uri not allowed for this client."})
		return
	case f.Has("request_uri"):
		opWriteJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request", "error_description": "request_uri is not allowed in a pushed request."})
		return
	}
	ru := "urn:ietf:params:oauth:request_uri:" + opRandomID()
	p.mu.Lock()
	p.pushed[ru] = f
	p.mu.Unlock()
	opWriteJSON(w, http.StatusCreated, map[string]any{"request_uri": ru, "expires_in": 60})
}

func (p *OIDCProvider) deviceCode(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	if r.PostForm.Get("client_id") != p.ClientID {
		opWriteJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client", "error_description": "Unknown client."})
		return
	}
	dc, uc := opRandomID(), strings.ToUpper(opRandomID()[:8])
	p.mu.Lock()
	p.devices[dc] = &opDevice{userCode: uc, scopes: strings.Fields(r.PostForm.Get("scope")), state: "pending",
		expiry: time.Now().Add(p.opts.DeviceExpiresIn), interval: p.opts.DeviceInterval}
	p.mu.Unlock()
	select {
	case p.userCodes <- uc:
	default:
	}
	opWriteJSON(w, http.StatusOK, map[string]any{
		"device_code": dc, "user_code": uc,
		"verification_uri":          p.Issuer + "/device",
		"verification_uri_complete": p.Issuer + "/device?user_code=" + uc,
		"expires_in":                int(p.opts.DeviceExpiresIn / time.Second),
		"interval":                  int(p.opts.DeviceInterval / time.Second),
	})
}

// devicePage is the verification page: ?user_code=X&approve=yes|no.
func (p *OIDCProvider) devicePage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if a := q.Get("approve"); a != "" {
		if err := p.ApproveDevice(q.Get("user_code"), a == "yes"); err != nil {
			opErrorPage(w, err.Error())
			return
		}
		fmt.Fprint(w, "<html><body>Done. Return to your device.</body></html>")
		return
	}
	fmt.Fprint(w, "<html><body><form><input name=user_code></form></body></html>")
}

func (p *OIDCProvider) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		opWriteJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request"})
		return
	}
	f := r.PostForm
	if f.Get("client_id") != p.ClientID {
		opWriteJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client", "error_description": "Unknown client."})
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	switch f.Get("grant_type") {
	case "authorization_code":
		c, ok := p.codes[f.Get("code")]
		sum := sha256.Sum256([]byte(f.Get("code_verifier")))
		switch {
		case !ok || c.used:
			opTokenErr(w, "invalid_grant", "Invalid or expired code.")
		case c.redirectURI != f.Get("redirect_uri"):
			opTokenErr(w, "invalid_grant", "redirect_uri does not match.")
		case opB64(sum[:]) != c.challenge:
			opTokenErr(w, "invalid_grant", "Invalid code_verifier.")
		default:
			c.used = true
			nonce := c.nonce
			switch p.opts.Nonce {
			case NonceWrong:
				nonce = "not-" + nonce
			case NonceMissing:
				nonce = ""
			}
			p.issueLocked(w, c.grant, c.scopes, nonce)
		}
	case "refresh_token":
		p.stats.RefreshCalls++
		rt, ok := p.refresh[f.Get("refresh_token")]
		switch {
		case !ok:
			opTokenErr(w, "invalid_grant", "Unknown refresh token.")
		case rt.used:
			p.stats.Reuses++
			if p.opts.RevokeGrantOnReuse && !p.revoked[rt.grant] {
				p.revoked[rt.grant] = true
				p.stats.GrantsRevoked++
			}
			opTokenErr(w, "invalid_grant", "Refresh token reused; the grant is revoked.")
		case p.revoked[rt.grant]:
			opTokenErr(w, "invalid_grant", "The grant was revoked.")
		default:
			rt.used = true
			p.stats.RefreshOK++
			p.issueLocked(w, rt.grant, rt.scopes, "")
		}
	case "urn:ietf:params:oauth:grant-type:device_code":
		d, ok := p.devices[f.Get("device_code")]
		if !ok {
			opTokenErr(w, "invalid_grant", "Unknown device code.")
			return
		}
		now := time.Now()
		p.stats.DevicePolls++
		d.polls++
		// A little slack for timer granularity; a client that ignores
		// the interval polls far sooner.
		tooFast := !d.lastPoll.IsZero() && now.Sub(d.lastPoll) < d.interval-200*time.Millisecond
		d.lastPoll = now
		switch {
		case d.polls <= p.opts.DeviceFailures:
			opWriteJSON(w, http.StatusServiceUnavailable, map[string]string{"error": "temporarily_unavailable"})
		case now.After(d.expiry) && !p.opts.DeviceExpiryUnenforced:
			opTokenErr(w, "expired_token", "")
		case tooFast:
			p.stats.TooFastPolls++
			d.interval += 5 * time.Second
			opTokenErr(w, "slow_down", "")
		case p.opts.DeviceSlowDown && d.polls == 1:
			d.interval += 5 * time.Second
			opTokenErr(w, "slow_down", "")
		case d.state == "pending":
			opTokenErr(w, "authorization_pending", "")
		case d.state == "denied":
			opTokenErr(w, "access_denied", "The user denied the request.")
		case d.state == "done":
			opTokenErr(w, "invalid_grant", "The device code was already used.")
		default:
			d.state = "done"
			p.grants++
			p.issueLocked(w, p.grants, d.scopes, "")
		}
	default:
		opTokenErr(w, "unsupported_grant_type", "")
	}
}

// issueLocked answers a token request with new tokens of the grant.
func (p *OIDCProvider) issueLocked(w http.ResponseWriter, grant int, scopes []string, nonce string) {
	now := time.Now()
	resp := map[string]any{
		"access_token": "at-" + opRandomID(),
		"token_type":   "Bearer",
		"expires_in":   int(p.opts.TokenTTL / time.Second),
		"scope":        strings.Join(scopes, " "),
	}
	if slices.Contains(scopes, "offline_access") {
		rt := "rt-" + opRandomID()
		p.refresh[rt] = &opRefresh{grant: grant, scopes: scopes}
		resp["refresh_token"] = rt
	}
	if slices.Contains(scopes, "openid") {
		c := map[string]any{
			"iss": p.Issuer, "sub": fmt.Sprintf("user-%d", grant), "aud": p.ClientID,
			"iat": now.Unix(), "exp": now.Add(p.opts.TokenTTL).Unix(), "email": "pat@example.com",
		}
		if nonce != "" {
			c["nonce"] = nonce
		}
		resp["id_token"] = p.sign(c)
	}
	w.Header().Set("Cache-Control", "no-store")
	opWriteJSON(w, http.StatusOK, resp)
}

// sign makes an ES256 JWT.
func (p *OIDCProvider) sign(claims map[string]any) string {
	h, _ := json.Marshal(map[string]string{"alg": "ES256", "typ": "JWT", "kid": "k1"})
	c, _ := json.Marshal(claims)
	input := opB64(h) + "." + opB64(c)
	sum := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, p.key, sum[:])
	if err != nil {
		panic(err) // crypto/rand does not fail
	}
	sig := append(opFixed32(r), opFixed32(s)...)
	return input + "." + opB64(sig)
}

func opFixed32(n *big.Int) []byte { return n.FillBytes(make([]byte, 32)) }

func opTokenErr(w http.ResponseWriter, code, desc string) {
	body := map[string]string{"error": code}
	if desc != "" {
		body["error_description"] = desc
	}
	opWriteJSON(w, http.StatusBadRequest, body)
}

func opWriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func opB64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func opRandomID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
