package main

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/credchain/credchain/resolver"
)

// servePath is the path of the container-credentials endpoint.
const servePath = "/credchain/aws-credentials"

// serveScrubbed are removed from the child's environment under exec
// --serve: every AWS credential setting that the SDKs' default chains try
// before the container endpoint, or that would replace its URI or token.
func serveScrubbed() []string {
	return []string{
		"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN",
		"AWS_PROFILE", "AWS_DEFAULT_PROFILE",
		"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
		"AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
	}
}

// containerCredentials is the document of the AWS container-credentials
// protocol (ECS task role), as the SDKs read it.
type containerCredentials struct {
	Code            string `json:"Code"`
	Type            string `json:"Type"`
	AccessKeyID     string `json:"AccessKeyId"`
	SecretAccessKey string `json:"SecretAccessKey"`
	Token           string `json:"Token,omitempty"`
	Expiration      string `json:"Expiration,omitempty"`
	LastUpdated     string `json:"LastUpdated"`
}

// containerError is the protocol's error document.
type containerError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// credentialServer serves the current AWS credential of a long-lived
// resolver on a loopback port to a child of credchain exec --serve.
type credentialServer struct {
	r     *resolver.Resolver
	token string // the child's AWS_CONTAINER_AUTHORIZATION_TOKEN
	url   string
	srv   *http.Server
	done  chan struct{}
	now   func() time.Time
}

// startCredentialServer resolves once (so a missing or non-AWS credential
// fails before the command runs) and starts the server. The resolver keeps
// refreshing in the background while the command runs.
func startCredentialServer(ctx context.Context, a *App, cmd *cobra.Command) (*credentialServer, []string, error) {
	s, err := a.Settings(cmd)
	if err != nil {
		return nil, nil, err
	}
	cfg, err := s.Build(ctx)
	if err != nil {
		return nil, nil, err
	}
	r, err := resolver.New(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	cred, err := r.Resolve(ctx)
	if err == nil && (cred.Kind != resolver.KindAWS || cred.AWS == nil) {
		err = fmt.Errorf("exec --serve: serves AWS credentials only, but source %s gives a credential of kind %s; run credchain exec without --serve", cred.Source, cred.Kind)
	}
	if err != nil {
		_ = r.Close()
		return nil, nil, err
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		_ = r.Close()
		return nil, nil, fmt.Errorf("exec --serve: making the endpoint's token: %w", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		_ = r.Close()
		return nil, nil, fmt.Errorf("exec --serve: listening on 127.0.0.1: %w", err)
	}
	cs := &credentialServer{
		r:     r,
		token: hex.EncodeToString(raw[:]),
		url:   "http://" + l.Addr().String() + servePath,
		done:  make(chan struct{}),
		now:   time.Now,
	}
	cs.srv = &http.Server{Handler: cs, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(cs.done)
		_ = cs.srv.Serve(l)
	}()

	scrub := slices.Concat(scrubbedVariables(s), serveScrubbed(), []string{"AWS_REGION", "AWS_DEFAULT_REGION"})
	var env []string
	for _, kv := range a.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(scrub, name) {
			env = append(env, kv)
		}
	}
	env = append(env, "AWS_CONTAINER_CREDENTIALS_FULL_URI="+cs.url, "AWS_CONTAINER_AUTHORIZATION_TOKEN="+cs.token)
	if region := cred.AWS.Region; region != "" {
		env = append(env, "AWS_REGION="+region, "AWS_DEFAULT_REGION="+region)
	} else {
		for _, kv := range a.Environ() {
			if strings.HasPrefix(kv, "AWS_REGION=") || strings.HasPrefix(kv, "AWS_DEFAULT_REGION=") {
				env = append(env, kv)
			}
		}
	}
	return cs, env, nil
}

// Close stops the server and the resolver.
func (cs *credentialServer) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := cs.srv.Shutdown(ctx)
	<-cs.done
	return errors.Join(err, cs.r.Close())
}

func (cs *credentialServer) fail(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(containerError{Code: code, Message: msg})
}

// ServeHTTP answers GET with the resolver's current credential, to a
// request carrying the run's token only.
func (cs *credentialServer) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	got := req.Header.Get("Authorization")
	if subtle.ConstantTimeCompare([]byte(got), []byte(cs.token)) != 1 {
		cs.fail(w, http.StatusUnauthorized, "AccessDenied", "credchain exec --serve: the Authorization header must be the value of AWS_CONTAINER_AUTHORIZATION_TOKEN")
		return
	}
	if req.URL.Path != servePath {
		cs.fail(w, http.StatusNotFound, "NotFound", "credchain exec --serve answers "+servePath+" only")
		return
	}
	if req.Method != http.MethodGet {
		cs.fail(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "credchain exec --serve answers GET only")
		return
	}
	cred, err := cs.r.Resolve(req.Context())
	if err == nil && (cred.Kind != resolver.KindAWS || cred.AWS == nil) {
		err = fmt.Errorf("source %s now gives a credential of kind %s, not AWS keys", cred.Source, cred.Kind)
	}
	if err != nil {
		// Resolver errors never carry secrets.
		cs.fail(w, http.StatusInternalServerError, "CredentialsUnavailable", "credchain: "+err.Error())
		return
	}
	doc := containerCredentials{
		Code:            "Success",
		Type:            "AWS-HMAC",
		AccessKeyID:     cred.AWS.AccessKeyID,
		SecretAccessKey: cred.AWS.SecretAccessKey.Reveal(),
		Token:           cred.AWS.SessionToken.Reveal(),
		LastUpdated:     cs.now().UTC().Format(time.RFC3339),
	}
	// The SDK caches the keys until Expiration (less its window); for keys
	// credchain re-checks without an expiry (RefreshAt), that is when the
	// child should ask again.
	if t := renewAt(cred); !t.IsZero() {
		doc.Expiration = t.UTC().Format(time.RFC3339)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(doc)
}
