package cache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/credchain/credchain/cache/internal/keyring"
)

// DefaultTimeout is the time box of one backend call when Options.Timeout
// is zero.
const DefaultTimeout = 3 * time.Second

// DefaultService is the keyring service name when Options.Service is empty.
const DefaultService = "credchain"

// FilePasswordEnv is the environment variable the "file" backend reads its
// password from by default.
const FilePasswordEnv = "CREDCHAIN_FILE_PASSWORD"

// ErrNoBackend is returned by Open with backend "auto" when no backend works
// on this machine. Its message lists every backend tried and why it was
// skipped, and how to choose one explicitly.
var ErrNoBackend = errors.New("cache: no usable credential store on this machine")

// Options opens a Store.
type Options struct {
	// Backend is one of Backends(): "auto" (the default when empty),
	// "keychain", "macos-security" (the macOS Keychain through the
	// security program, for builds without cgo), "wincred",
	// "secret-service", "kwallet", "pass", "file" (encrypted), "keyctl",
	// "plaintext" or "memory".
	Backend string
	// Dir is the store directory: lock files, and the records of the
	// "file" and "plaintext" backends. Default: os.UserConfigDir()/credchain
	// (XDG_CONFIG_HOME is honoured). A leading "~/" is the home directory.
	Dir string
	// Service is the keyring service name and the first part of every item
	// name in a shared keyring; default "credchain".
	Service string
	// FilePassword returns the password of the "file" backend. Default:
	// the CREDCHAIN_FILE_PASSWORD environment variable, else an error naming
	// it. It is called at most once per Store, never inside a time box, so
	// a caller at a terminal may prompt here; Open never prompts by itself.
	FilePassword func() (string, error)
	// Timeout is the time box of every backend call; default 3s.
	Timeout time.Duration
	// LockWait bounds how long Lock waits for a lock another process (or
	// goroutine) holds; default DefaultLockWait. The error then names the
	// holder's pid and how long it has held the lock.
	LockWait time.Duration
	// KeyCtlScope is the kernel keyring the "keyctl" backend uses: "user"
	// (the default: shared by the user's processes until reboot),
	// "usersession", "session", "process" or "thread".
	KeyCtlScope string
}

// autoOrder is the order "auto" tries backends in, and why:
//   - the OS keychain (macOS Keychain, Windows Credential Manager) is the
//     platform's own encrypted, persistent, unlocked-at-login store; on
//     macOS the native backend needs cgo, and a build without it reaches
//     the same Keychain through the security program (macos-security);
//   - on Linux desktops the Secret Service (GNOME Keyring, KeePassXC) and
//     KWallet are the same thing;
//   - pass is used only when the user has initialised a password store, a
//     deliberate choice of an encrypted, persistent store;
//   - the encrypted file only when a password is available
//     (CREDCHAIN_FILE_PASSWORD or the caller's FilePassword);
//   - keyctl last: it always works on Linux and never touches the disk, but
//     the kernel keyring is lost on reboot (a login must be repeated), so it
//     is preferred only to having no store at all.
//
// plaintext and memory are never chosen by auto.
var autoOrder = []string{"keychain", "macos-security", "wincred", "secret-service", "kwallet", "pass", "file", "keyctl"}

// Backends returns every name accepted in Options.Backend: "auto" first,
// then the backends in the order auto tries them, then "plaintext" and
// "memory", which auto never picks.
func Backends() []string {
	return slices.Concat([]string{"auto"}, autoOrder, []string{"plaintext", "memory"})
}

var keyCtlScopes = []string{"user", "usersession", "session", "process", "thread"}

// KeyCtlScopes returns the values Options.KeyCtlScope accepts.
func KeyCtlScopes() []string { return slices.Clone(keyCtlScopes) }

// options is Options with every default applied.
type options struct {
	Options
	dirHash  string
	password func() (string, error) // cached FilePassword
	// openKeyring is keyring.Open; tests put a keyring that hangs here.
	openKeyring func(keyring.Config) (keyring.Keyring, error)
	// fs is the file system of the file backends; tests record and fail
	// its calls.
	fs fileSystem
}

func resolveOptions(o Options) (*options, error) {
	r := &options{Options: o, openKeyring: keyring.Open, fs: osFS{}}
	r.Backend = strings.TrimSpace(r.Backend)
	if r.Backend == "" {
		r.Backend = "auto"
	}
	if !slices.Contains(Backends(), r.Backend) {
		return nil, fmt.Errorf("cache: unknown store backend %q (store.backend / CREDCHAIN_STORE_BACKEND): use one of %s",
			r.Backend, strings.Join(Backends(), ", "))
	}
	if r.Dir == "" {
		base, err := os.UserConfigDir()
		if err != nil {
			return nil, fmt.Errorf("cache: no store directory: set store.dir (CREDCHAIN_STORE_DIR): %w", err)
		}
		r.Dir = filepath.Join(base, "credchain")
	} else if rest, ok := strings.CutPrefix(r.Dir, "~/"); ok {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil, fmt.Errorf("cache: store directory %q: %w", r.Dir, err)
		}
		r.Dir = filepath.Join(home, rest)
	}
	abs, err := filepath.Abs(r.Dir)
	if err != nil {
		return nil, fmt.Errorf("cache: store directory %q: %w", r.Dir, err)
	}
	r.Dir = abs
	sum := sha256.Sum256([]byte(r.Dir))
	r.dirHash = hex.EncodeToString(sum[:4])
	if r.Service == "" {
		r.Service = DefaultService
	}
	if strings.ContainsAny(r.Service, "/\\\x00") {
		return nil, fmt.Errorf("cache: store service %q must not contain '/', '\\' or NUL", r.Service)
	}
	if r.Timeout < 0 {
		return nil, fmt.Errorf("cache: store timeout %v is negative", r.Timeout)
	}
	if r.Timeout == 0 {
		r.Timeout = DefaultTimeout
	}
	if r.LockWait < 0 {
		return nil, fmt.Errorf("cache: store lock wait %v is negative", r.LockWait)
	}
	if r.LockWait == 0 {
		r.LockWait = DefaultLockWait
	}
	if r.KeyCtlScope == "" {
		r.KeyCtlScope = "user"
	}
	if !slices.Contains(keyCtlScopes, r.KeyCtlScope) {
		return nil, fmt.Errorf("cache: unknown keyctl scope %q: use one of %s", r.KeyCtlScope, strings.Join(keyCtlScopes, ", "))
	}
	pw := r.FilePassword
	if pw == nil {
		pw = envPassword
	}
	// Once, errors included: a prompt the user cancelled must not be shown
	// again for every record a prefetch reads in parallel.
	r.password = sync.OnceValues(func() (string, error) {
		p, err := pw()
		if err != nil {
			return "", err
		}
		if p == "" {
			return "", fmt.Errorf("cache: file: the password is empty: set %s", FilePasswordEnv)
		}
		return p, nil
	})
	return r, nil
}

func envPassword() (string, error) {
	if p := os.Getenv(FilePasswordEnv); p != "" {
		return p, nil
	}
	return "", fmt.Errorf("cache: file: no password for the encrypted file store: set %s", FilePasswordEnv)
}

// itemName is the name of key's item in a keyring shared by every program
// and every credchain store directory of the user: service, a short hash of
// the store directory (so two config directories never see each other's
// records), then the key.
func (o *options) itemName(key string) string {
	return o.Service + "/" + o.dirHash + "/" + key
}

// Open opens the store opts describes. With backend "auto" it probes the
// backends in Backends() order, each within the time box, and returns the
// first that works; when none does, it returns an error matching
// ErrNoBackend that lists what was tried. It never picks plaintext by itself.
func Open(ctx context.Context, opts Options) (Store, error) {
	o, err := resolveOptions(opts)
	if err != nil {
		return nil, err
	}
	return open(ctx, o, defaultCandidates())
}

// candidate opens one backend and proves it answers (probe included).
type candidate struct {
	name string
	open func(ctx context.Context, o *options, name string) (*store, error)
}

func defaultCandidates() []candidate {
	return []candidate{
		{"keychain", openKeyringBackend},
		{"macos-security", openMacSecurity},
		{"wincred", openKeyringBackend},
		{"secret-service", openKeyringBackend},
		{"kwallet", openKeyringBackend},
		{"pass", openKeyringBackend},
		{"file", openFile},
		{"keyctl", openKeyringBackend},
		{"plaintext", openPlaintext},
	}
}

func open(ctx context.Context, o *options, cands []candidate) (Store, error) {
	switch o.Backend {
	case "memory":
		return &memoryStore{Memory: NewMemory(), info: map[string]string{"backend": "memory", "selected": "explicit"}}, nil
	case "auto":
		return openAuto(ctx, o, cands)
	}
	for _, c := range cands {
		if c.name == o.Backend {
			s, err := c.open(ctx, o, c.name)
			if err != nil {
				return nil, fmt.Errorf("cache: store backend %q (store.backend / CREDCHAIN_STORE_BACKEND) does not work here: %w", o.Backend, err)
			}
			s.info["selected"] = "explicit"
			return s, nil
		}
	}
	return nil, fmt.Errorf("cache: store backend %q is not supported", o.Backend)
}

func openAuto(ctx context.Context, o *options, cands []candidate) (Store, error) {
	var tried, names []string
	for _, name := range autoOrder {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("cache: choosing a store backend: %w", err)
		}
		var c *candidate
		for i := range cands {
			if cands[i].name == name {
				c = &cands[i]
			}
		}
		if c == nil {
			continue
		}
		names = append(names, name)
		if name == "file" {
			// The encrypted file only counts as available when a password
			// is: asking for one is the caller's FilePassword's business.
			if _, err := o.password(); err != nil {
				tried = append(tried, name+": "+reason(name, err))
				continue
			}
		}
		s, err := c.open(ctx, o, c.name)
		if err != nil {
			tried = append(tried, name+": "+reason(name, err))
			continue
		}
		s.info["selected"] = "auto"
		s.info["auto_tried"] = strings.Join(names, ", ")
		if len(tried) > 0 {
			s.info["auto_skipped"] = strings.Join(tried, "; ")
		}
		return s, nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s; tried, in order:\n", ErrNoBackend.Error())
	for _, t := range tried {
		fmt.Fprintf(&b, "  - %s\n", t)
	}
	fmt.Fprintf(&b, "choose a store explicitly: set %s to use the encrypted file store under %s, "+
		"or set store.backend: plaintext (CREDCHAIN_STORE_BACKEND=plaintext) to keep records unencrypted in 0600 files there",
		FilePasswordEnv, o.Dir)
	return nil, &noBackendError{msg: b.String()}
}

type noBackendError struct{ msg string }

func (e *noBackendError) Error() string { return e.msg }
func (e *noBackendError) Is(target error) bool {
	return target == ErrNoBackend
}

// reason shortens a backend's error to one line for the auto report.
func reason(name string, err error) string {
	s := err.Error()
	s = strings.TrimPrefix(s, "cache: ")
	s = strings.TrimPrefix(s, name+": ")
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}

// memoryStore is the "memory" backend as Open returns it: Memory plus
// Describe.
type memoryStore struct {
	*Memory
	info map[string]string
}

// Describe implements resolver.StoreDescriber.
func (m *memoryStore) Describe() map[string]string {
	out := make(map[string]string, len(m.info))
	for k, v := range m.info {
		out[k] = v
	}
	return out
}
