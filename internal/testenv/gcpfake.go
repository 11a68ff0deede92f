package testenv

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// Grant types the Google fake answers.
const (
	GrantJWTBearer     = "urn:ietf:params:oauth:grant-type:jwt-bearer"
	GrantRefreshToken  = "refresh_token"
	GrantTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"
	GrantMetadata      = "metadata"
	// GrantImpersonation counts IAM Credentials generateAccessToken calls.
	GrantImpersonation = "impersonation"
)

// Google identities the fake issues for.
const (
	GoogleProject       = "fake-project"
	GoogleSAEmail       = "sa@fake-project.iam.gserviceaccount.com"
	GoogleClientID      = "cid.apps.googleusercontent.com"
	GoogleClientSecret  = "csecret"
	GoogleRefreshToken  = "rt-1"
	GoogleAudience      = "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/pool/providers/prov"
	GoogleSubjectToken  = "subject-jwt-from-the-idp"
	googleScopePlatform = "https://www.googleapis.com/auth/cloud-platform"
)

// GoogleFake speaks the wire protocol of Google's OAuth token endpoint
// (jwt-bearer for service accounts with the RS256 assertion verified,
// refresh_token for authorized users, RFC 8693 token exchange for workload
// identity federation) and of the GCE metadata server, on 127.0.0.1, so
// cloud.google.com/go/auth's own code runs against it. Point
// GCE_METADATA_HOST at Host.
type GoogleFake struct {
	// URL is http://127.0.0.1:PORT; TokenURL is its token endpoint; Host
	// is 127.0.0.1:PORT for GCE_METADATA_HOST.
	URL, TokenURL, Host string
	// Key is the service account's key; the fake verifies assertions with
	// its public half.
	Key *rsa.PrivateKey

	srv       *httptest.Server
	mu        sync.Mutex
	expiresIn int
	failing   int
	calls     map[string]int
	issued    int
	problems  []string
}

// NewGoogleFake starts the fake; it stops when the test ends.
func NewGoogleFake(t testing.TB) *GoogleFake {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	f := &GoogleFake{Key: key, expiresIn: 3600, calls: map[string]int{}}
	f.srv = httptest.NewUnstartedServer(http.HandlerFunc(f.serve))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.srv.Listener = l
	f.srv.Start()
	t.Cleanup(f.srv.Close)
	f.URL = f.srv.URL
	f.TokenURL = f.srv.URL + "/token"
	f.Host = strings.TrimPrefix(f.srv.URL, "http://")
	return f
}

// SetExpiresIn sets the lifetime of the tokens issued from now on.
func (f *GoogleFake) SetExpiresIn(seconds int) {
	f.mu.Lock()
	f.expiresIn = seconds
	f.mu.Unlock()
}

// FailNext makes the next n token requests (of any grant) fail with
// 400 invalid_grant (metadata: 503).
func (f *GoogleFake) FailNext(n int) {
	f.mu.Lock()
	f.failing = n
	f.mu.Unlock()
}

// Calls is how many tokens were requested with grant (counting refused
// requests).
func (f *GoogleFake) Calls(grant string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[grant]
}

// Check fails the test if any request broke the protocol (a bad assertion
// signature, wrong claims, a missing Metadata-Flavor header).
func (f *GoogleFake) Check(t testing.TB) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range f.problems {
		t.Errorf("google fake: %s", p)
	}
}

// IsIssued reports whether token is one this fake issued (and which grant).
func (f *GoogleFake) IsIssued(token, grant string) bool {
	return strings.HasPrefix(token, "ya29."+grantTag(grant)+"-")
}

// ServiceAccountJSON is a service-account key file whose token_uri is the
// fake.
func (f *GoogleFake) ServiceAccountJSON() []byte {
	der, _ := x509.MarshalPKCS8PrivateKey(f.Key)
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	b, _ := json.Marshal(map[string]string{
		"type": "service_account", "project_id": GoogleProject, "private_key_id": "kid-123",
		"private_key": string(pemKey), "client_email": GoogleSAEmail, "client_id": "1234567890",
		"token_uri": f.TokenURL,
	})
	return b
}

// AuthorizedUserJSON is a gcloud user ADC file. The library ignores any
// token_uri in it; pass TokenURL as DetectOptions.TokenURL.
func (f *GoogleFake) AuthorizedUserJSON() []byte {
	b, _ := json.Marshal(map[string]string{
		"type": "authorized_user", "client_id": GoogleClientID, "client_secret": GoogleClientSecret,
		"refresh_token": GoogleRefreshToken, "quota_project_id": "qp-1", "universe_domain": "googleapis.com",
	})
	return b
}

// ExternalAccountJSON is a workload-identity-federation file whose subject
// token is read from subjectFile and exchanged at the fake; with
// impersonate, the federated token is then exchanged for the service
// account's through the IAM Credentials API (also the fake).
func (f *GoogleFake) ExternalAccountJSON(subjectFile string, impersonate bool) []byte {
	m := map[string]any{
		"type": "external_account", "audience": GoogleAudience,
		"subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
		"token_url":          f.URL + "/sts",
		"credential_source":  map[string]string{"file": subjectFile},
	}
	if impersonate {
		m["service_account_impersonation_url"] = f.URL + impersonationPath
	}
	b, _ := json.Marshal(m)
	return b
}

const impersonationPath = "/v1/projects/-/serviceAccounts/" + GoogleSAEmail + ":generateAccessToken"

func grantTag(grant string) string {
	switch grant {
	case GrantJWTBearer:
		return "sa"
	case GrantRefreshToken:
		return "user"
	case GrantTokenExchange:
		return "sts"
	case GrantMetadata:
		return "gce"
	case GrantImpersonation:
		return "impersonated"
	}
	return "unknown"
}

func (f *GoogleFake) problem(format string, args ...any) {
	f.mu.Lock()
	f.problems = append(f.problems, fmt.Sprintf(format, args...))
	f.mu.Unlock()
}

// take counts a call and says whether it must fail, and the token to issue.
func (f *GoogleFake) take(grant string) (fail bool, token string, expiresIn int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls[grant]++
	if f.failing > 0 {
		f.failing--
		return true, "", 0
	}
	f.issued++
	return false, fmt.Sprintf("ya29.%s-%d-%s", grantTag(grant), f.issued, strings.Repeat("x", 24)), f.expiresIn
}

func (f *GoogleFake) serve(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasPrefix(r.URL.Path, "/computeMetadata/v1/"):
		f.metadata(w, r)
	case r.URL.Path == "/token" || r.URL.Path == "/sts":
		f.token(w, r)
	case r.URL.Path == impersonationPath:
		f.impersonate(w, r)
	default:
		f.problem("unexpected request %s %s", r.Method, r.URL.Path)
		http.NotFound(w, r)
	}
}

func (f *GoogleFake) metadata(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Metadata-Flavor", "Google")
	if r.Header.Get("Metadata-Flavor") != "Google" {
		f.problem("metadata request %s without Metadata-Flavor: Google", r.URL.Path)
		http.Error(w, "missing Metadata-Flavor header", http.StatusForbidden)
		return
	}
	switch strings.TrimPrefix(r.URL.Path, "/computeMetadata/v1/") {
	case "instance/service-accounts/default/token":
		if s := r.URL.Query().Get("scopes"); s != googleScopePlatform {
			f.problem("metadata token scopes = %q, want %q", s, googleScopePlatform)
		}
		fail, tok, exp := f.take(GrantMetadata)
		if fail {
			http.Error(w, "metadata server unavailable", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "expires_in": exp, "token_type": "Bearer"})
	case "project/project-id":
		_, _ = w.Write([]byte(GoogleProject))
	case "universe/universe-domain":
		_, _ = w.Write([]byte("googleapis.com"))
	default:
		http.NotFound(w, r)
	}
}

func (f *GoogleFake) token(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		f.problem("token request %s with Content-Type %q", r.Method, r.Header.Get("Content-Type"))
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	grant := r.PostForm.Get("grant_type")
	var err error
	switch grant {
	case GrantJWTBearer:
		err = f.verifyAssertion(r.PostForm.Get("assertion"))
	case GrantRefreshToken:
		if r.PostForm.Get("client_id") != GoogleClientID || r.PostForm.Get("client_secret") != GoogleClientSecret || r.PostForm.Get("refresh_token") != GoogleRefreshToken {
			err = errors.New("wrong client or refresh token")
		}
	case GrantTokenExchange:
		switch {
		case r.URL.Path != "/sts":
			err = errors.New("token exchange at " + r.URL.Path)
		case r.PostForm.Get("audience") != GoogleAudience:
			err = fmt.Errorf("audience %q", r.PostForm.Get("audience"))
		case strings.TrimSpace(r.PostForm.Get("subject_token")) != GoogleSubjectToken:
			err = errors.New("wrong subject token")
		case r.PostForm.Get("requested_token_type") != "urn:ietf:params:oauth:token-type:access_token":
			err = fmt.Errorf("requested_token_type %q", r.PostForm.Get("requested_token_type"))
		}
	default:
		err = fmt.Errorf("unknown grant_type %q", grant)
	}
	if err != nil {
		f.problem("%s: %v", grant, err)
		writeOAuthError(w, "invalid_request", err.Error())
		return
	}
	fail, tok, exp := f.take(grant)
	if fail {
		writeOAuthError(w, "invalid_grant", "the fake was told to refuse this request")
		return
	}
	resp := map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": exp}
	if grant == GrantTokenExchange {
		resp["issued_token_type"] = "urn:ietf:params:oauth:token-type:access_token"
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(resp)
}

// impersonate answers IAM Credentials generateAccessToken, called with a
// federated token this fake issued.
func (f *GoogleFake) impersonate(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Scope    []string `json:"scope"`
		Lifetime string   `json:"lifetime"`
	}
	bearer := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || r.Method != http.MethodPost ||
		!f.IsIssued(bearer, GrantTokenExchange) || len(body.Scope) != 1 || body.Scope[0] != googleScopePlatform {
		f.problem("impersonation: method %s, bearer present %v, body %+v (%v)", r.Method, bearer != "", body, err)
		http.Error(w, `{"error":{"code":400,"message":"bad request"}}`, http.StatusBadRequest)
		return
	}
	fail, tok, exp := f.take(GrantImpersonation)
	if fail {
		http.Error(w, `{"error":{"code":403,"message":"permission denied"}}`, http.StatusForbidden)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{
		"accessToken": tok, "expireTime": time.Now().Add(time.Duration(exp) * time.Second).UTC().Format(time.RFC3339),
	})
}

func writeOAuthError(w http.ResponseWriter, code, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}

// verifyAssertion checks the RS256 signature and the claims of a
// service-account JWT.
func (f *GoogleFake) verifyAssertion(jwt string) error {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		return errors.New("assertion is not a JWT")
	}
	var header struct{ Alg, Typ, Kid string }
	if err := decodeSegment(parts[0], &header); err != nil {
		return err
	}
	if header.Alg != "RS256" || header.Kid != "kid-123" {
		return fmt.Errorf("JWT header %+v, want RS256 with kid-123", header)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return fmt.Errorf("signature encoding: %w", err)
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(&f.Key.PublicKey, crypto.SHA256, sum[:], sig); err != nil {
		return fmt.Errorf("RS256 signature does not verify: %w", err)
	}
	var claims struct {
		Iss, Scope, Aud string
		Iat, Exp        int64
	}
	if err := decodeSegment(parts[1], &claims); err != nil {
		return err
	}
	now := time.Now().Unix()
	switch {
	case claims.Iss != GoogleSAEmail:
		return fmt.Errorf("iss %q", claims.Iss)
	case claims.Scope != googleScopePlatform:
		return fmt.Errorf("scope %q", claims.Scope)
	case claims.Aud != f.TokenURL:
		return fmt.Errorf("aud %q, want %q", claims.Aud, f.TokenURL)
	case claims.Exp-claims.Iat != 3600 || claims.Iat > now+60 || claims.Exp < now:
		return fmt.Errorf("iat %d exp %d at %d", claims.Iat, claims.Exp, now)
	}
	return nil
}

func decodeSegment(seg string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return fmt.Errorf("JWT segment encoding: %w", err)
	}
	return json.Unmarshal(b, v)
}
