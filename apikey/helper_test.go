//go:build unix

package apikey_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/credchain/credchain/apikey"
	"github.com/credchain/credchain/internal/testenv"
	"github.com/credchain/credchain/resolver"
)

// helperBed is a directory driving a scripted helper. Run n (counted in
// the file "count") writes its shell's pid to pid-n, fails with the content
// of fail-n on stderr if that file exists, waits on the FIFO gate-n if it
// exists, then prints key-n (or "key"). Keys reach the helper only through
// files it cats, never through its command line or environment.
type helperBed struct {
	t       *testing.T
	dir     string
	command string
}

const bedScript = `d=%s
echo run >> "$d/count"
n=$(wc -l < "$d/count" | tr -d ' ')
echo $$ > "$d/pid-$n"
if [ -e "$d/fail-$n" ]; then cat "$d/fail-$n" >&2; exit 3; fi
if [ -p "$d/gate-$n" ]; then cat "$d/gate-$n" > /dev/null; fi
if [ -e "$d/key-$n" ]; then cat "$d/key-$n"; else cat "$d/key"; fi
`

func newHelperBed(t *testing.T) *helperBed {
	t.Helper()
	dir := t.TempDir()
	script := filepath.Join(dir, "helper.sh")
	if err := os.WriteFile(script, []byte(fmt.Sprintf(bedScript, shellQuote(dir))), 0o700); err != nil {
		t.Fatal(err)
	}
	return &helperBed{t: t, dir: dir, command: "sh " + shellQuote(script)}
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func (b *helperBed) write(name, content string) {
	b.t.Helper()
	if err := os.WriteFile(filepath.Join(b.dir, name), []byte(content), 0o600); err != nil {
		b.t.Fatal(err)
	}
}

// key is the secret run n prints.
func key(n int) string { return fmt.Sprintf("sk-ant-api03-helper-test-key-%04d", n) }

func (b *helperBed) keys(n int) {
	for i := 1; i <= n; i++ {
		b.write("key-"+strconv.Itoa(i), key(i)+"\n")
	}
}

func (b *helperBed) runs() int {
	data, err := os.ReadFile(filepath.Join(b.dir, "count"))
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	if err != nil {
		b.t.Fatal(err)
	}
	return strings.Count(string(data), "\n")
}

// gate makes run n wait until open's result is closed.
func (b *helperBed) gate(n int) string {
	b.t.Helper()
	p := filepath.Join(b.dir, "gate-"+strconv.Itoa(n))
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		b.t.Fatal(err)
	}
	return p
}

// openGate blocks until run n has reached its gate (opening a FIFO for
// writing waits for its reader) and returns the writer; closing it lets the
// run go on.
func (b *helperBed) openGate(p string) *os.File {
	b.t.Helper()
	type res struct {
		f   *os.File
		err error
	}
	ch := make(chan res, 1)
	go func() {
		f, err := os.OpenFile(p, os.O_WRONLY, 0)
		ch <- res{f, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			b.t.Fatal(r.err)
		}
		return r.f
	case <-time.After(30 * time.Second):
		b.t.Fatalf("the helper never reached %s", filepath.Base(p))
		return nil
	}
}

func (b *helperBed) pid(n int) int {
	b.t.Helper()
	data, err := os.ReadFile(filepath.Join(b.dir, "pid-"+strconv.Itoa(n)))
	if err != nil {
		b.t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		b.t.Fatal(err)
	}
	return pid
}

var epoch = time.Date(2026, 11, 27, 5, 0, 0, 0, time.UTC)

func newHelperResolver(t *testing.T, opts apikey.HelperOptions, clock resolver.Clock, ev *testenv.Events) *resolver.Resolver {
	t.Helper()
	cfg := resolver.Config{Sources: []resolver.Source{apikey.NewHelper(opts)}, Clock: clock, RetryMin: time.Second, RetryMax: 10 * time.Second}
	if ev != nil {
		cfg.OnEvent = ev.Add
	}
	r, err := resolver.New(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

func resolveKey(t *testing.T, r *resolver.Resolver) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cred, err := r.Resolve(ctx)
	if err != nil {
		t.Fatalf("Resolve: %v", err)
	}
	if cred.Kind != resolver.KindAPIKey || cred.Source != "api-key-helper" {
		t.Fatalf("resolved %v, want an api_key from api-key-helper", cred)
	}
	return cred.Token.Reveal()
}

// TestHelperTTL: after the TTL the old key is served at once, by every
// caller, while exactly one background re-run obtains the next key.
func TestHelperTTL(t *testing.T) {
	testenv.Hermetic(t)
	bed := newHelperBed(t)
	bed.keys(2)
	clock := testenv.NewFakeClock(epoch)
	ev := testenv.NewEvents()
	r := newHelperResolver(t, apikey.HelperOptions{Command: bed.command, TTL: time.Minute, Timeout: 30 * time.Second, Now: clock.Now}, clock, ev)

	if got := resolveKey(t, r); got != key(1) {
		t.Fatalf("first key %q, want %q", got, key(1))
	}
	ev.Wait(t, resolver.EventRefreshed)
	clock.Advance(59 * time.Second)
	if got := resolveKey(t, r); got != key(1) || bed.runs() != 1 {
		t.Fatalf("inside the TTL: key %q after %d runs, want %q after 1", got, bed.runs(), key(1))
	}

	gate := bed.gate(2)
	// The TTL is over: run 2 starts in the background (from the refresh
	// timer, or from the first caller below seeing the key stale) and is
	// held at its gate, while every caller gets the old key at once.
	clock.Advance(time.Second)
	var wg sync.WaitGroup
	stale := make(chan string, 100)
	for range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cred, err := r.Resolve(context.Background())
			if err != nil {
				stale <- "error: " + err.Error()
				return
			}
			stale <- cred.Token.Reveal()
		}()
	}
	wg.Wait() // no caller waits for the re-run
	w := bed.openGate(gate)
	close(stale)
	for got := range stale {
		if got != key(1) {
			t.Fatalf("during the re-run a caller got %q, want the old key", got)
		}
	}
	_ = w.Close()
	ev.Wait(t, resolver.EventRefreshed)
	if got := resolveKey(t, r); got != key(2) {
		t.Fatalf("after the re-run: %q, want %q", got, key(2))
	}
	if n := bed.runs(); n != 2 {
		t.Fatalf("the helper ran %d times, want 2 (one background re-run for 101 callers)", n)
	}
}

// TestHelperFailedRerunKeepsKey: a re-run that fails leaves the last good
// key in use; the failure (with the helper's stderr, scrubbed) is visible in
// events and status; the key is kept for another TTL, after which the next
// use re-runs the helper and gets the next key.
func TestHelperFailedRerunKeepsKey(t *testing.T) {
	testenv.Hermetic(t)
	bed := newHelperBed(t)
	bed.keys(3)
	bed.write("fail-2", "token service down; last key was "+key(1)+"\n")
	clock := testenv.NewFakeClock(epoch)
	ev := testenv.NewEvents()
	r := newHelperResolver(t, apikey.HelperOptions{Command: bed.command, TTL: time.Minute, Timeout: 30 * time.Second, Now: clock.Now}, clock, ev)

	if got := resolveKey(t, r); got != key(1) {
		t.Fatalf("first key %q", got)
	}
	ev.Wait(t, resolver.EventRefreshed)
	clock.Advance(time.Minute)
	if got := resolveKey(t, r); got != key(1) {
		t.Fatalf("at the end of the TTL: %q, want the old key while the helper re-runs", got)
	}
	failed := ev.Wait(t, resolver.EventRefreshFailed)
	if !errors.Is(failed.Err, apikey.ErrHelperFailed) {
		t.Fatalf("refresh failure %v, want ErrHelperFailed", failed.Err)
	}
	msg := failed.Err.Error()
	for _, want := range []string{"exited with status 3", "token service down", "[REDACTED]"} {
		if !strings.Contains(msg, want) {
			t.Errorf("failure %q does not contain %q", msg, want)
		}
	}
	if strings.Contains(msg, key(1)) {
		t.Errorf("failure %q contains the previous key", msg)
	}
	if got := resolveKey(t, r); got != key(1) {
		t.Fatalf("after a failed re-run: %q, want the last good key", got)
	}
	st := r.Status(context.Background())
	if len(st.Sources) != 1 || !strings.Contains(st.Sources[0].LastError, "token service down") || st.Sources[0].NextRetry == nil {
		t.Errorf("status does not show the failed re-run and the next retry: %+v", st.Sources)
	}
	// As in Claude Code, the last good key is kept for another TTL instead of
	// re-running a failing helper at every backoff step; the next use after
	// that TTL re-runs it.
	clock.Advance(time.Minute - time.Second)
	if n := bed.runs(); n != 2 {
		t.Fatalf("the helper re-ran %d times within the extended TTL", n-2)
	}
	clock.Advance(time.Second)
	if got := resolveKey(t, r); got != key(1) {
		t.Fatalf("at the end of the extended TTL: %q, want the old key while the helper re-runs", got)
	}
	ev.Wait(t, resolver.EventRefreshed)
	if got := resolveKey(t, r); got != key(3) {
		t.Fatalf("after the retry: %q, want %q", got, key(3))
	}
	if n := bed.runs(); n != 3 {
		t.Fatalf("the helper ran %d times, want 3", n)
	}
}

// TestHelper401: a 401 through the transport re-runs the helper and retries
// the request once with the new key.
func TestHelper401(t *testing.T) {
	testenv.Hermetic(t)
	for _, tc := range []struct {
		name         string
		rerunKey     string
		wantStatus   int
		wantRequests int
	}{
		{"new key", key(2), http.StatusOK, 2},
		{"same key", key(1), http.StatusUnauthorized, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bed := newHelperBed(t)
			bed.write("key-1", key(1)+"\n")
			bed.write("key-2", tc.rerunKey+"\n")
			var mu sync.Mutex
			var seen []string
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				got := req.Header.Get("x-api-key")
				mu.Lock()
				seen = append(seen, got)
				mu.Unlock()
				if got != key(2) {
					http.Error(w, "invalid x-api-key", http.StatusUnauthorized)
					return
				}
				_, _ = w.Write([]byte("ok"))
			}))
			t.Cleanup(srv.Close)
			r := newHelperResolver(t, apikey.HelperOptions{Command: bed.command, Timeout: 30 * time.Second}, nil, nil)
			client := &http.Client{Transport: r.Transport(nil), Timeout: 30 * time.Second}
			resp, err := client.Post(srv.URL, "text/plain", strings.NewReader("hello"))
			if err != nil {
				t.Fatal(err)
			}
			_ = resp.Body.Close()
			if resp.StatusCode != tc.wantStatus {
				t.Errorf("status %d, want %d", resp.StatusCode, tc.wantStatus)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(seen) != tc.wantRequests || seen[0] != key(1) || seen[len(seen)-1] != tc.rerunKey {
				t.Errorf("server saw %d requests, want %d (first with key 1, last with the re-run's key)", len(seen), tc.wantRequests)
			}
			if n := bed.runs(); n != 2 {
				t.Errorf("the helper ran %d times, want 2 (the 401 re-runs it once)", n)
			}
		})
	}
}

// TestHelperTimeout: a hung helper is killed with its whole process group
// when its timeout fires, and the error names the timeout and the setting.
func TestHelperTimeout(t *testing.T) {
	testenv.Hermetic(t)
	dir := t.TempDir()
	q := func(name string) string { return shellQuote(filepath.Join(dir, name)) }
	// The shell leads its process group; two sleeps run in the background
	// and one in the foreground.
	command := fmt.Sprintf("echo $$ > %s; sleep 61 & echo $! > %s; sleep 62 & echo $! > %s; echo about to hang >&2; sleep 60; echo never",
		q("pid"), q("bg1"), q("bg2"))
	r := newHelperResolver(t, apikey.HelperOptions{Command: command, Timeout: 500 * time.Millisecond}, nil, nil)
	// The caller's deadline is far past the helper's timeout: the error must
	// be the helper's own timeout, and the sleeps (60 s) must be gone long
	// before they could end by themselves.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cred, err := r.Resolve(ctx)
	if !errors.Is(err, apikey.ErrHelperTimeout) {
		t.Fatalf("Resolve = %v, %v; want ErrHelperTimeout", cred, err)
	}
	msg := err.Error()
	for _, want := range []string{"api-key-helper: ", "did not finish within 500ms", "api_key_helper_timeout", "about to hang"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not contain %q", msg, want)
		}
	}
	var pids []int
	for _, name := range []string{"pid", "bg1", "bg2"} {
		data, rerr := os.ReadFile(filepath.Join(dir, name))
		if rerr != nil {
			t.Fatal(rerr)
		}
		pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
		if pid <= 1 {
			t.Fatalf("bad pid %q in %s", data, name)
		}
		pids = append(pids, pid)
	}
	testenv.WaitProcessesGone(t, pids, 10*time.Second)
	testenv.WaitProcessGroupGone(t, pids[0], 10*time.Second)
}

// TestHelperStragglerHoldingOutput: the shell prints the key and exits, but
// a process it left in the background keeps the output pipe open. The key
// is used after the wait delay (5s), and the straggler is ended.
func TestHelperStragglerHoldingOutput(t *testing.T) {
	testenv.Hermetic(t)
	for _, tc := range []struct {
		name, print string
		wantErr     error
	}{
		{"key", "echo " + key(1), nil},
		{"nothing", "true", apikey.ErrHelperEmpty},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bg := filepath.Join(t.TempDir(), "bg")
			// The straggler would hold the pipe for 10 minutes: Fetch
			// returning at all, and the straggler gone right after, is the
			// evidence that it was ended rather than waited for.
			h := apikey.NewHelper(apikey.HelperOptions{Command: fmt.Sprintf("sleep 600 & echo $! > %s; %s", shellQuote(bg), tc.print), Timeout: 5 * time.Minute})
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cred, err := h.Fetch(ctx, nil)
			switch {
			case tc.wantErr != nil && !errors.Is(err, tc.wantErr):
				t.Fatalf("Fetch = %v, %v; want %v", cred, err, tc.wantErr)
			case tc.wantErr == nil && (err != nil || cred.Token.Reveal() != key(1)):
				t.Fatalf("Fetch = %v, %v; want key 1", cred, err)
			}
			data, err := os.ReadFile(bg)
			if err != nil {
				t.Fatal(err)
			}
			pid, _ := strconv.Atoi(strings.TrimSpace(string(data)))
			testenv.WaitProcessesGone(t, []int{pid}, 10*time.Second)
		})
	}
}

func TestHelperNotConfigured(t *testing.T) {
	testenv.Hermetic(t)
	for _, c := range []string{"", "   "} {
		h := apikey.NewHelper(apikey.HelperOptions{Command: c})
		const want = "api_key_helper (apiKeyHelper) is not set"
		if err := h.Probe(); !errors.Is(err, resolver.ErrNotConfigured) || resolver.Reason(err) != want {
			t.Errorf("Probe() = %v, want %q", err, want)
		}
		if cred, err := h.Fetch(context.Background(), nil); cred != nil || !errors.Is(err, resolver.ErrNotConfigured) {
			t.Errorf("Fetch() = %v, %v", cred, err)
		}
	}
}

func TestHelperDefaults(t *testing.T) {
	h := apikey.NewHelper(apikey.HelperOptions{Command: "true"})
	d := h.Describe()
	if h.Name() != "api-key-helper" || d["ttl"] != "5m0s" || d["timeout"] != "10m0s" {
		t.Fatalf("defaults: name %q, %v", h.Name(), d)
	}
	if _, shown := d["command"]; shown {
		t.Fatal("Describe shows the command, which may hold a key")
	}
}

// TestHelperFetch runs the helper directly for each outcome.
func TestHelperFetch(t *testing.T) {
	testenv.Hermetic(t)
	const k = "sk-ant-api03-fetch-test-key-9876"
	prev := &resolver.Credential{Kind: resolver.KindAPIKey, Token: resolver.NewSecret("sk-ant-api03-previous-key-5555")}
	dir := t.TempDir()
	tests := []struct {
		name    string
		command string
		env     []string
		dir     string
		want    string
		wantErr error
		msg     []string // in the error
		notMsg  []string // not in the error
	}{
		{name: "trimmed", command: "printf '  %s  \\n\\n' " + k, want: k},
		{name: "dir and env", command: `printf '%s-%s' "$(pwd)" "$HELPER_SUFFIX"`, env: []string{"HELPER_SUFFIX=suffix", "PATH=" + os.Getenv("PATH")}, dir: dir, want: dir + "-suffix"},
		{name: "empty", command: "true", wantErr: apikey.ErrHelperEmpty, msg: []string{"printed nothing on standard output", "api_key_helper (apiKeyHelper)", "printed nothing on standard error"}},
		{name: "blank", command: "echo '  '; echo 'no key for you' >&2", wantErr: apikey.ErrHelperEmpty, msg: []string{"printed nothing", "no key for you"}},
		{name: "two lines", command: "echo " + k + "; echo second-line", wantErr: apikey.ErrHelperOutput, msg: []string{"line break"}, notMsg: []string{k, "second-line"}},
		{name: "too much", command: "head -c 70000 /dev/zero | tr '\\0' k", wantErr: apikey.ErrHelperOutput, msg: []string{"more than 65536 bytes"}},
		{name: "exit status", command: "echo 'vault sealed' >&2; exit 7", wantErr: apikey.ErrHelperFailed, msg: []string{"exited with status 7", "vault sealed", "run it by hand"}},
		{name: "stderr scrubbed", command: "echo " + k + "; echo 'old sk-ant-api03-previous-key-5555 new " + k + "' >&2; exit 1", wantErr: apikey.ErrHelperFailed,
			msg: []string{"old [REDACTED] new [REDACTED]"}, notMsg: []string{k, "previous-key-5555"}},
		{name: "stderr escapes", command: `printf 'red \033[31malert\007\n' >&2; exit 2`, wantErr: apikey.ErrHelperFailed, msg: []string{"red ?[31malert?"}, notMsg: []string{"\x1b", "\a"}},
		{name: "stderr tail", command: "head -c 100000 /dev/zero | tr '\\0' x >&2; echo ' the end' >&2; exit 1", wantErr: apikey.ErrHelperFailed, msg: []string{"…xxx", "xxx the end"}},
		{name: "signal", command: "kill -9 $$", wantErr: apikey.ErrHelperFailed, msg: []string{"was killed", "signal: killed"}},
		{name: "no shell command", command: "definitely-not-a-command-credchain", wantErr: apikey.ErrHelperFailed, msg: []string{"exited with status 127", "not found"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			now := epoch
			h := apikey.NewHelper(apikey.HelperOptions{Command: tc.command, Env: tc.env, Dir: tc.dir, TTL: 90 * time.Second, Timeout: 30 * time.Second, Now: func() time.Time { return now }})
			cred, err := h.Fetch(context.Background(), prev)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Fetch = %v, %v; want %v", cred, err, tc.wantErr)
				}
				msg := err.Error()
				if !strings.HasPrefix(msg, "apikey: helper: ") {
					t.Errorf("error %q lacks the package prefix", msg)
				}
				for _, m := range tc.msg {
					if !strings.Contains(msg, m) {
						t.Errorf("error %q does not contain %q", msg, m)
					}
				}
				for _, m := range tc.notMsg {
					if strings.Contains(msg, m) {
						t.Errorf("error %q contains %q", msg, m)
					}
				}
				if tc.name == "stderr tail" && len(msg) > 4<<10+400 {
					t.Errorf("error is %d bytes; stderr must be bounded to its last 4 KiB", len(msg))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cred.Token.Reveal() != tc.want || cred.Kind != resolver.KindAPIKey || !cred.Expiry.IsZero() ||
				!cred.RefreshAt.Equal(now.Add(90*time.Second)) || !cred.IssuedAt.Equal(now) || cred.Source != "api-key-helper" {
				t.Fatalf("credential %v (refresh at %v), want key ending %q, refresh at now+TTL, no expiry", cred, cred.RefreshAt, tc.want[len(tc.want)-4:])
			}
		})
	}
}

// TestHelperCancelled: the caller's cancellation is not reported as the
// helper's timeout.
func TestHelperCancelled(t *testing.T) {
	testenv.Hermetic(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	h := apikey.NewHelper(apikey.HelperOptions{Command: "sleep 60"})
	_, err := h.Fetch(ctx, nil)
	if !errors.Is(err, context.Canceled) || errors.Is(err, apikey.ErrHelperTimeout) {
		t.Fatalf("Fetch with a cancelled context = %v, want context.Canceled", err)
	}
}

func TestParseTTLms(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		err  string
	}{
		{"300000", 5 * time.Minute, ""},
		{" 1500 ", 1500 * time.Millisecond, ""},
		{"1", time.Millisecond, ""},
		{"0", 0, "must be at least 1 millisecond"},
		{"-5", 0, "must be at least 1 millisecond"},
		{"5m", 0, "is not a whole number of milliseconds"},
		{"", 0, "is not a whole number of milliseconds"},
		{"1.5", 0, "is not a whole number of milliseconds"},
		{"99999999999999999999", 0, "is too large"},
		{"9223372036854775", 0, "is too large"},
	} {
		got, err := apikey.ParseTTLms(tc.in)
		if tc.err == "" {
			if err != nil || got != tc.want {
				t.Errorf("ParseTTLms(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), "CLAUDE_CODE_API_KEY_HELPER_TTL_MS") {
			t.Errorf("ParseTTLms(%q) = %v, %v; want an error naming the variable with %q", tc.in, got, err, tc.err)
		}
	}
}

// TestHelperEnvironmentScrubbed: the helper does not inherit credchain's
// own secrets (the file store's password, the helper setting itself) or the
// variables named in ScrubEnv, and a password it prints anyway is redacted
// from the error.
func TestHelperEnvironmentScrubbed(t *testing.T) {
	testenv.Hermetic(t)
	const password = "file-store-master-password-4321"
	t.Setenv("CREDCHAIN_FILE_PASSWORD", password)
	t.Setenv("CREDCHAIN_API_KEY_HELPER", "echo sk-ant-api03-in-the-setting-0000")
	t.Setenv("OTHER_SECRET", "other-secret-value-8765")
	h := apikey.NewHelper(apikey.HelperOptions{Timeout: 30 * time.Second, ScrubEnv: []string{"OTHER_SECRET"},
		Command: `printf 'key-%s-%s-%s' "${CREDCHAIN_FILE_PASSWORD:-none}" "${CREDCHAIN_API_KEY_HELPER:-none}" "${OTHER_SECRET:-none}"`})
	cred, err := h.Fetch(context.Background(), nil)
	if err != nil || cred.Token.Reveal() != "key-none-none-none" {
		t.Fatalf("Fetch = %v, %v; want key-none-none-none (nothing inherited)", cred, err)
	}
	h = apikey.NewHelper(apikey.HelperOptions{Timeout: 30 * time.Second, Command: "echo 'the password is " + password + "' >&2; exit 1"})
	_, err = h.Fetch(context.Background(), nil)
	if !errors.Is(err, apikey.ErrHelperFailed) || strings.Contains(err.Error(), password) || !strings.Contains(err.Error(), "the password is [REDACTED]") {
		t.Fatalf("Fetch = %v; want ErrHelperFailed with the password redacted", err)
	}
}
