//go:build integration

package itest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/credchain/credchain/internal/testenv"
)

// MotoAccount is the account id moto reports.
const MotoAccount = "123456789012"

// motoReadyTimeout bounds moto's start-up (about 7 s on a loaded 2-core
// machine).
const motoReadyTimeout = 90 * time.Second

// Moto is a running moto server (python3 -m moto.server) on 127.0.0.1: the
// real STS and a real SigV4 verifier for the AWS tests.
type Moto struct {
	// URL is http://127.0.0.1:PORT.
	URL string

	cmd    *exec.Cmd
	stderr *logTail
	done   chan struct{}
}

// MotoPython is the interpreter that has moto: $MOTO_PYTHON, else python3.
func MotoPython() string {
	if p := os.Getenv("MOTO_PYTHON"); p != "" {
		return p
	}
	return "python3"
}

// StartMoto starts a moto server and waits until it answers. noAuthCount > 0
// starts it with INITIAL_NO_AUTH_ACTION_COUNT, after which moto verifies
// every request's SigV4 signature and IAM policy. It returns an error (the
// caller fails the test, never skips) when moto is missing.
func StartMoto(ctx context.Context, noAuthCount int) (*Moto, error) {
	py := MotoPython()
	if out, err := exec.CommandContext(ctx, py, "-c", "import moto").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("itest: moto is required and %s cannot import it (it comes with the machine image's Python; .ci/setup.d/20-cloud.sh checks it): %v: %s", py, err, bytes.TrimSpace(out))
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("itest: finding a free port for moto: %w", err)
	}
	portStr := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	_ = l.Close()
	cmd := exec.Command(py, "-m", "moto.server", "-H", "127.0.0.1", "-p", portStr)
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for _, k := range []string{"PYENV_ROOT", "PYENV_VERSION", "LANG", "TMPDIR"} {
		if v := os.Getenv(k); v != "" {
			env = append(env, k+"="+v)
		}
	}
	if noAuthCount > 0 {
		env = append(env, "INITIAL_NO_AUTH_ACTION_COUNT="+strconv.Itoa(noAuthCount))
	}
	cmd.Env = env
	dieWithTest(cmd)
	m := &Moto{URL: "http://127.0.0.1:" + portStr, cmd: cmd, stderr: &logTail{}, done: make(chan struct{})}
	cmd.Stdout = m.stderr
	cmd.Stderr = m.stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("itest: starting moto: %w", err)
	}
	go func() { _ = cmd.Wait(); close(m.done) }()
	deadline := time.Now().Add(motoReadyTimeout)
	client := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DialContext: testenv.LoopbackDial}}
	for {
		resp, err := client.Get(m.URL + "/moto-api/")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return m, nil
			}
		}
		select {
		case <-m.done:
			return nil, fmt.Errorf("itest: moto exited during start-up: %s", m.stderr.String())
		case <-ctx.Done():
			m.Close()
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			m.Close()
			return nil, fmt.Errorf("itest: moto did not answer on %s within %v: %s", m.URL, motoReadyTimeout, m.stderr.String())
		}
	}
}

// Close stops the server.
func (m *Moto) Close() {
	if m.cmd.Process != nil {
		_ = m.cmd.Process.Kill()
	}
	<-m.done
}

// Reset clears moto's state (users, roles, keys).
func (m *Moto) Reset(ctx context.Context) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, m.URL+"/moto-api/reset", nil)
	resp, err := (&http.Client{Transport: &http.Transport{DialContext: testenv.LoopbackDial}}).Do(req)
	if err != nil {
		return err
	}
	_ = resp.Body.Close()
	return nil
}

// MotoIdentity is an IAM user with an access key, and a role it may assume.
type MotoIdentity struct {
	AccessKeyID, SecretAccessKey string
	UserARN, RoleARN             string
}

// SetupIAM creates user alice with an allow-all policy and an access key,
// and role bedrock-role that alice may assume, which may call Bedrock and
// STS. On a verifying server (StartMoto with noAuthCount 4) the first four
// calls are the unauthenticated ones; the role policy is put signed as
// alice.
func (m *Moto) SetupIAM(ctx context.Context) (MotoIdentity, error) {
	anon := sdkaws.Credentials{AccessKeyID: "AKIASETUPSETUPSETUP0", SecretAccessKey: "setup"}
	var id MotoIdentity
	if _, err := m.iam(ctx, anon, url.Values{"Action": {"CreateUser"}, "UserName": {"alice"}}); err != nil {
		return id, err
	}
	body, err := m.iam(ctx, anon, url.Values{"Action": {"CreateAccessKey"}, "UserName": {"alice"}})
	if err != nil {
		return id, err
	}
	var key struct {
		AccessKeyID     string `xml:"CreateAccessKeyResult>AccessKey>AccessKeyId"`
		SecretAccessKey string `xml:"CreateAccessKeyResult>AccessKey>SecretAccessKey"`
	}
	if err := xml.Unmarshal(body, &key); err != nil || key.AccessKeyID == "" {
		return id, fmt.Errorf("itest: moto CreateAccessKey answered %q: %v", body, err)
	}
	allowAll := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`
	if _, err := m.iam(ctx, anon, url.Values{"Action": {"PutUserPolicy"}, "UserName": {"alice"}, "PolicyName": {"all"}, "PolicyDocument": {allowAll}}); err != nil {
		return id, err
	}
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + MotoAccount + `:user/alice"},"Action":"sts:AssumeRole"}]}`
	if _, err := m.iam(ctx, anon, url.Values{"Action": {"CreateRole"}, "RoleName": {"bedrock-role"}, "AssumeRolePolicyDocument": {trust}}); err != nil {
		return id, err
	}
	alice := sdkaws.Credentials{AccessKeyID: key.AccessKeyID, SecretAccessKey: key.SecretAccessKey}
	rolePolicy := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["bedrock:*","sts:*"],"Resource":"*"}]}`
	if _, err := m.iam(ctx, alice, url.Values{"Action": {"PutRolePolicy"}, "RoleName": {"bedrock-role"}, "PolicyName": {"bedrock"}, "PolicyDocument": {rolePolicy}}); err != nil {
		return id, err
	}
	return MotoIdentity{
		AccessKeyID: key.AccessKeyID, SecretAccessKey: key.SecretAccessKey,
		UserARN: "arn:aws:iam::" + MotoAccount + ":user/alice",
		RoleARN: "arn:aws:iam::" + MotoAccount + ":role/bedrock-role",
	}, nil
}

// NewUser creates an IAM user with an access key and no policy (it can call
// STS GetCallerIdentity, nothing else), signed as admin.
func (m *Moto) NewUser(ctx context.Context, admin MotoIdentity, name string) (MotoIdentity, error) {
	creds := sdkaws.Credentials{AccessKeyID: admin.AccessKeyID, SecretAccessKey: admin.SecretAccessKey}
	if _, err := m.iam(ctx, creds, url.Values{"Action": {"CreateUser"}, "UserName": {name}}); err != nil {
		return MotoIdentity{}, err
	}
	body, err := m.iam(ctx, creds, url.Values{"Action": {"CreateAccessKey"}, "UserName": {name}})
	if err != nil {
		return MotoIdentity{}, err
	}
	var key struct {
		AccessKeyID     string `xml:"CreateAccessKeyResult>AccessKey>AccessKeyId"`
		SecretAccessKey string `xml:"CreateAccessKeyResult>AccessKey>SecretAccessKey"`
	}
	if err := xml.Unmarshal(body, &key); err != nil || key.AccessKeyID == "" {
		return MotoIdentity{}, fmt.Errorf("itest: moto CreateAccessKey answered %q: %v", body, err)
	}
	return MotoIdentity{AccessKeyID: key.AccessKeyID, SecretAccessKey: key.SecretAccessKey, UserARN: "arn:aws:iam::" + MotoAccount + ":user/" + name}, nil
}

// DeleteAccessKey revokes user's key, signed as admin: from then on moto
// refuses requests signed with it (InvalidClientTokenId).
func (m *Moto) DeleteAccessKey(ctx context.Context, admin MotoIdentity, user, keyID string) error {
	creds := sdkaws.Credentials{AccessKeyID: admin.AccessKeyID, SecretAccessKey: admin.SecretAccessKey}
	_, err := m.iam(ctx, creds, url.Values{"Action": {"DeleteAccessKey"}, "UserName": {user}, "AccessKeyId": {keyID}})
	return err
}

// iam sends one signed IAM query call.
func (m *Moto) iam(ctx context.Context, creds sdkaws.Credentials, form url.Values) ([]byte, error) {
	form.Set("Version", "2010-05-08")
	body := form.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, m.URL+"/", strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	sum := sha256.Sum256([]byte(body))
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "iam", "us-east-1", time.Now().UTC()); err != nil {
		return nil, err
	}
	resp, err := (&http.Client{Transport: &http.Transport{DialContext: testenv.LoopbackDial}}).Do(req)
	if err != nil {
		return nil, fmt.Errorf("itest: moto IAM %s: %w", form.Get("Action"), err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("itest: moto IAM %s: HTTP %d: %s", form.Get("Action"), resp.StatusCode, out)
	}
	return out, nil
}

// logTail keeps the last part of a server's log for error messages.
type logTail struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logTail) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf.Len() > 64<<10 {
		return len(p), nil
	}
	return b.buf.Write(p)
}

func (b *logTail) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.buf.String()
	if len(s) > 2000 {
		s = s[len(s)-2000:]
	}
	return s
}
