package cache

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sync"

	"github.com/credchain/credchain/cache/internal/keyring"
)

// loginCollection is the Secret Service collection credchain writes to.
// 99designs/keyring would otherwise create a collection named after the
// service, which needs an interactive prompt (gcr-prompter) and fails on a
// headless machine; "login" is the one every desktop session unlocks and
// `gnome-keyring-daemon --unlock` creates.
const loginCollection = "login"

// keyringBackend adapts a 99designs keyring.Keyring. Item names carry the
// service and a hash of the store directory (see options.itemName).
type keyringBackend struct {
	kr     keyring.Keyring
	o      *options
	thread *osThread // nil: calls run on any thread
	// writes serialises Set and Delete where concurrent writers of
	// different keys collide: pass commits every change when the password
	// store is a git repository, and git allows one commit at a time.
	writes *sync.Mutex
	// maxRecord, when set, is the largest value the backend can hold.
	maxRecord int
}

// winCredMaxBlob is the Windows Credential Manager's limit on one
// credential's blob (CRED_MAX_CREDENTIAL_BLOB_SIZE).
const winCredMaxBlob = 5 * 512

func (b *keyringBackend) lockWrites() func() {
	if b.writes == nil {
		return func() {}
	}
	b.writes.Lock()
	return b.writes.Unlock
}

func (b *keyringBackend) get(key string) (v []byte, err error) {
	b.thread.do(func() {
		var it keyring.Item
		if it, err = b.kr.Get(b.o.itemName(key)); err == nil {
			v = it.Data
		}
	})
	return v, err
}

func (b *keyringBackend) set(key string, value []byte) (err error) {
	if b.maxRecord > 0 && len(value) > b.maxRecord {
		// Refused before the write, so the record already stored survives.
		return fmt.Errorf("record %q is %d bytes; this backend holds at most %d (choose store.backend: file for large records such as AWS session credentials): %w",
			key, len(value), b.maxRecord, ErrTooLarge)
	}
	defer b.lockWrites()()
	b.thread.do(func() {
		err = b.kr.Set(keyring.Item{
			Key:         b.o.itemName(key),
			Data:        value,
			Label:       b.o.Service + " " + key + " (" + b.o.Dir + ")",
			Description: "credchain credential record",
		})
	})
	return err
}

func (b *keyringBackend) del(key string) (err error) {
	defer b.lockWrites()()
	b.thread.do(func() { err = b.kr.Remove(b.o.itemName(key)) })
	return err
}

// serialBackends hold connection state in their keyring object that is not
// safe for concurrent calls.
var serialBackends = []string{"keychain", "wincred", "secret-service", "kwallet"}

func keyringConfig(o *options, name string) keyring.Config {
	cfg := keyring.Config{
		AllowedBackends:          []keyring.BackendType{keyring.BackendType(name)},
		ServiceName:              o.Service,
		KeychainTrustApplication: true,
		LibSecretCollectionName:  loginCollection,
		KeyCtlScope:              o.KeyCtlScope,
		KWalletAppID:             o.Service,
		KWalletFolder:            o.Service,
		WinCredPrefix:            o.Service,
	}
	if name == "kwallet" {
		// For KWallet the service name is the wallet; keep the user's
		// default wallet rather than asking to create one.
		cfg.ServiceName = ""
	}
	return cfg
}

// openKeyringBackend opens one 99designs backend and probes it (a read of
// an item that does not exist) within the time box.
func openKeyringBackend(ctx context.Context, o *options, name string) (*store, error) {
	if !slices.Contains(keyring.AvailableBackends(), keyring.BackendType(name)) {
		return nil, errors.New(unavailable(name))
	}
	var passDir string
	if name == "pass" {
		var err error
		if passDir, err = passStore(); err != nil {
			return nil, err
		}
	}
	cfg := keyringConfig(o, name)
	var thread *osThread
	if name == "keyctl" && (o.KeyCtlScope == "process" || o.KeyCtlScope == "thread") {
		thread = newOSThread()
	}
	opened := make(chan keyring.Keyring, 1)
	_, err := timeBox(ctx, o.Timeout, nil, func() (_ []byte, err error) {
		thread.do(func() {
			var kr keyring.Keyring
			if kr, err = o.openKeyring(cfg); err != nil {
				return
			}
			if name == "secret-service" {
				if err = checkLoginCollection(); err != nil {
					return
				}
			}
			if _, err = kr.Get(o.itemName(".probe")); err != nil && !errors.Is(err, keyring.ErrKeyNotFound) {
				err = fmt.Errorf("probe read failed: %w", err)
				return
			}
			err = nil
			opened <- kr
		})
		return nil, err
	})
	switch {
	case errors.Is(err, ErrTimeout):
		return nil, fmt.Errorf("did not answer within %v (%s): %w", o.Timeout, timeoutFix(name), ErrTimeout)
	case err != nil:
		if thread != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
			thread.stop() // its last call has returned
		}
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	be := &keyringBackend{kr: <-opened, o: o, thread: thread}
	if name == "wincred" {
		be.maxRecord = winCredMaxBlob
	}
	if name == "pass" {
		be.writes = new(sync.Mutex)
	}
	if thread != nil {
		thread.release(be)
	}
	s := newStore(o, name, be, slices.Contains(serialBackends, name))
	s.info["item_prefix"] = o.itemName("")
	switch name {
	case "keyctl":
		s.info["keyctl_scope"] = o.KeyCtlScope
		if o.KeyCtlScope != "user" {
			s.info["persistent"] = "no: the " + o.KeyCtlScope + " keyring ends with it"
		} else {
			s.info["persistent"] = "until reboot"
		}
	case "pass":
		s.info["pass_dir"] = passDir
	case "secret-service":
		s.info["collection"] = loginCollection
	}
	return s, nil
}

// unavailable says why 99designs/keyring did not register a backend.
func unavailable(name string) string {
	switch name {
	case "keychain":
		if runtime.GOOS == "darwin" {
			return "keychain: no native Keychain library in this build (no cgo); macos-security is used instead"
		}
		return "keychain: macOS only"
	case "wincred":
		return "wincred: Windows only"
	case "secret-service", "kwallet":
		if runtime.GOOS != "linux" {
			return name + ": Linux only"
		}
		addr, ok := os.LookupEnv("DBUS_SESSION_BUS_ADDRESS")
		if !ok {
			addr = "unset"
		}
		return fmt.Sprintf("%s: no D-Bus session bus when the program started (DBUS_SESSION_BUS_ADDRESS %q)", name, addr)
	case "keyctl":
		return "keyctl: Linux only"
	}
	return name + ": not supported on " + runtime.GOOS
}

// passStore returns pass's store directory, or why pass cannot be used.
func passStore() (string, error) {
	if _, err := exec.LookPath("pass"); err != nil {
		return "", errors.New("the pass program is not installed")
	}
	dir := os.Getenv("PASSWORD_STORE_DIR")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		dir = filepath.Join(home, ".password-store")
	}
	if _, err := os.Stat(filepath.Join(dir, ".gpg-id")); err != nil {
		return "", fmt.Errorf("no initialised password store at %s (run `pass init <gpg-key-id>`)", dir)
	}
	return dir, nil
}
