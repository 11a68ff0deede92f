package cache

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/credchain/credchain/cache/internal/keyring"
)

// ErrLocked is returned (wrapped) by the macos-security backend when the
// macOS Keychain is locked and cannot ask for its password (for example over
// SSH): the fix is `security unlock-keychain`.
var ErrLocked = errors.New("cache: the macOS Keychain is locked")

// The macos-security backend keeps records in the user's default (login)
// Keychain by running the macOS `security` program, so a darwin build
// without cgo (every cross-compiled release) still stores in the Keychain;
// 99designs/keyring's Keychain backend needs cgo. It is the approach of
// Claude Code and zalando/go-keyring:
//
//   - read:   security find-generic-password -s SERVICE -a ACCOUNT -w
//   - write:  security -i, with "add-generic-password -U -s … -a … -X <hex>"
//     as one line on stdin, so the secret never appears in argv (which any
//     local user can read with ps);
//   - delete: security delete-generic-password -s SERVICE -a ACCOUNT.
//
// Item names: service "<Service>-<8 hex of SHA-256(store dir)>", account the
// record key, so two store directories never share an item. These are not
// the native backend's items (service "<Service>", account
// "<Service>/<hash>/<key>"): an item's access list trusts the program that
// wrote it, and sharing items between credchain and /usr/bin/security would
// make every read of the other's items ask for the Keychain password.
//
// Values: `find-generic-password -w` prints a password as it is when every
// byte is printable ASCII and as unmarked hex otherwise, which cannot be
// told apart from a value made of hex digits. So the backend only ever
// stores printable ASCII: a printable record (the resolver's JSON) as it is,
// anything else as "credchain:b64:" + base64.
//
// Size: `security -i` reads a line into a 4096-byte buffer and runs the rest
// of a longer line as another command. A record whose write line would be
// longer than securityMaxLine is split over several items ("<key>#<gen>.<i>",
// never a valid record key) written first, and the record's own item, written
// last, names them with a SHA-256 of their content: a crash or a concurrent
// writer leaves the old or the new record, never a torn one. Chunks of a
// replaced record are deleted afterwards; a crash in between leaves only
// unreferenced chunk items behind.

// macSecurityName is the backend's name in Options.Backend.
const macSecurityName = "macos-security"

const (
	// securityMaxLine is the longest write line sent to `security -i`,
	// newline included: its buffer is 4096 bytes (MAX_LINE_LEN), and a line
	// that fills it is cut. 4032 is the bound Claude Code uses; the margin
	// costs nothing.
	securityMaxLine = 4032
	// securityMaxChunks bounds a record to about 120 KiB: past that the
	// Keychain is the wrong place and the error says so.
	securityMaxChunks = 64

	// Exit statuses of `security`: the OSStatus cut to 8 bits.
	securityExitNotFound    = 44  // errSecItemNotFound, -25300
	securityExitNoUI        = 36  // errSecInteractionNotAllowed, -25308: locked, no prompt possible
	securityExitAuthFailed  = 51  // errSecAuthFailed, -25293: wrong Keychain password
	securityExitUserCancel  = 128 // userCanceledErr, -128: the prompt was cancelled
	securityUnlockAdvice    = "run `security unlock-keychain` (or unlock it in Keychain Access)"
	securityWrapperPrefix   = "credchain:"
	securityBase64Prefix    = securityWrapperPrefix + "b64:"
	securityManifestPrefix  = securityWrapperPrefix + "chunks:v1:"
	securityChunkSeparator  = "#"
	securityWaitDelay       = time.Second
	securityStderrMaxLength = 300
)

// securityBackend is the macos-security backend.
type securityBackend struct {
	program string        // the security executable
	service string        // the Keychain service of every item of this store
	timeout time.Duration // one call's time box: its child processes are killed with it
}

// autoUsesMacSecurity says whether "auto" may pick macos-security: only on
// macOS, and only when this build lacks 99designs' native Keychain backend
// (no cgo), so that a release binary still stores in the Keychain.
func autoUsesMacSecurity() (bool, string) {
	if runtime.GOOS != "darwin" {
		return false, macSecurityName + ": macOS only (auto picks it on macOS builds without cgo)"
	}
	if slices.Contains(keyring.AvailableBackends(), keyring.KeychainBackend) {
		return false, macSecurityName + ": not needed: this build has the native Keychain backend"
	}
	return true, ""
}

// openMacSecurity opens the macos-security backend and probes it (a read of
// an item that does not exist) within the time box. Chosen explicitly it
// runs wherever a `security` program is on PATH, so it can be tested off
// macOS; "auto" picks it only where autoUsesMacSecurity says so.
func openMacSecurity(ctx context.Context, o *options, name string) (*store, error) {
	if o.Backend == "auto" {
		if ok, why := autoUsesMacSecurity(); !ok {
			return nil, errors.New(why)
		}
	}
	program, err := exec.LookPath("security")
	if err != nil {
		return nil, fmt.Errorf("%s: the security program is not on PATH (macOS has it as /usr/bin/security): %w", name, err)
	}
	b := &securityBackend{program: program, service: o.Service + "-" + o.dirHash, timeout: o.Timeout}
	if strings.ContainsAny(b.service, "\r\n") {
		return nil, fmt.Errorf("%s: store service %q must not contain a line break", name, o.Service)
	}
	s := newStore(o, name, b, false)
	// The probe goes through the store's time box and messages, like every
	// later call; its key is one no record can have.
	if _, err := s.call(ctx, "get", ".probe", func() ([]byte, error) { return b.get(".probe") }); err != nil && !errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("%s: probe read failed: %w", name, err)
	}
	s.info["program"] = program
	s.info["keychain"] = "the default (login) keychain"
	s.info["item_service"] = b.service
	return s, nil
}

// get implements backend.
func (b *securityBackend) get(key string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), b.timeout)
	defer cancel()
	v, err := b.read(ctx, key)
	if errors.Is(err, errRecordChanged) {
		// A concurrent writer replaced the split record between its list
		// of parts and its parts; one more read sees the new record.
		v, err = b.read(ctx, key)
	}
	if errors.Is(err, errRecordChanged) {
		return nil, fmt.Errorf("cache: %s: the record of %q kept changing while it was read: try again", macSecurityName, key)
	}
	return v, err
}

// errRecordChanged reports that a split record was replaced while read.
var errRecordChanged = errors.New("record changed while reading")

// read reads key's record.
func (b *securityBackend) read(ctx context.Context, key string) ([]byte, error) {
	head, err := b.find(ctx, key)
	if err != nil {
		return nil, err
	}
	m, ok, err := parseManifest(head)
	if err != nil {
		return nil, fmt.Errorf("cache: %s: the Keychain item of %q (service %q) is damaged (%v): delete it (credchain logout) and sign in again", macSecurityName, key, b.service, err)
	}
	if !ok {
		return decodeSecurityValue(head)
	}
	// damaged is the error for a record whose parts do not add up, unless
	// the record was replaced or deleted after its list of parts was read
	// (errRecordChanged), or reading the list again failed (that error: a
	// Keychain locked meanwhile is no reason to throw the login away).
	damaged := func(format string, args ...any) error {
		again, err := b.find(ctx, key)
		switch {
		case errors.Is(err, ErrNotFound):
			return errRecordChanged
		case err != nil:
			return err
		case !bytes.Equal(again, head):
			return errRecordChanged
		}
		return fmt.Errorf("cache: %s: "+format+": delete the record (credchain logout) and sign in again", append([]any{macSecurityName}, args...)...)
	}
	var payload []byte
	for i := range m.n {
		part, err := b.find(ctx, chunkAccount(key, m.gen, i))
		if errors.Is(err, ErrNotFound) {
			return nil, damaged("part %d of %d of the record of %q is missing from the Keychain", i+1, m.n, key)
		}
		if err != nil {
			return nil, err
		}
		payload = append(payload, part...)
	}
	if sum := sha256.Sum256(payload); hex.EncodeToString(sum[:]) != m.sum {
		return nil, damaged("the parts of the record of %q do not match its checksum", key)
	}
	return decodeSecurityValue(payload)
}

// set implements backend: parts first, then the record's own item, then
// the parts of the record it replaced.
func (b *securityBackend) set(key string, value []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), b.timeout)
	defer cancel()
	payload := encodeSecurityValue(value)

	var old *securityManifest
	if prev, err := b.find(ctx, key); err == nil {
		if m, ok, _ := parseManifest(prev); ok {
			old = &m
		}
	} else if !errors.Is(err, ErrNotFound) {
		return err
	}

	head := payload
	if len(b.writeLine(key, payload)) > securityMaxLine {
		gen, err := newChunkGen()
		if err != nil {
			return err
		}
		sum := sha256.Sum256(payload)
		list := func(n int) []byte {
			return fmt.Appendf(nil, "%s%s:%d:%s", securityManifestPrefix, gen, n, hex.EncodeToString(sum[:]))
		}
		// The list of parts must fit in a line, however many parts. Only a
		// service name of thousands of bytes leaves no room for it; then
		// nothing is written. Where it fits, a part has room for 94 bytes
		// or more.
		if len(b.writeLine(key, list(securityMaxChunks))) > securityMaxLine {
			return fmt.Errorf("cache: %s: the record of %q is %d bytes and must be split, but the service name of this store (%d bytes) leaves no room in a line of security -i (%d bytes) for the list of its parts: choose a shorter store.service",
				macSecurityName, key, len(value), len(b.service), securityMaxLine)
		}
		// Every part's line is as long as the longest account allows.
		room := securityMaxLine - len(b.writeLine(chunkAccount(key, gen, securityMaxChunks-1), nil))
		per := room / 2 // hex
		n := (len(payload) + per - 1) / per
		if n > securityMaxChunks {
			return fmt.Errorf("cache: %s: the record of %q is %d bytes, more than the Keychain backend stores (about %d): choose another backend with store.backend (CREDCHAIN_STORE_BACKEND)",
				macSecurityName, key, len(value), securityMaxChunks*per*3/4)
		}
		for i := range n {
			part := payload[i*per : min(len(payload), (i+1)*per)]
			if err := b.add(ctx, chunkAccount(key, gen, i), part); err != nil {
				return err
			}
		}
		head = list(n)
	}
	if err := b.add(ctx, key, head); err != nil {
		return err
	}
	// `security -i` exits with the low 8 bits of an OSStatus (and turns -1
	// into 0), so a failed write can look like success: read it back.
	got, err := b.find(ctx, key)
	if err != nil {
		return fmt.Errorf("cache: %s: reading back the record of %q after writing it: %w", macSecurityName, key, err)
	}
	if !bytes.Equal(got, head) {
		return fmt.Errorf("cache: %s: the Keychain did not take the new record of %q (security reported success): %s", macSecurityName, key, securityUnlockAdvice)
	}
	if old != nil {
		b.deleteChunks(ctx, key, *old)
	}
	return nil
}

// del implements backend.
func (b *securityBackend) del(key string) error {
	ctx, cancel := context.WithTimeout(context.Background(), b.timeout)
	defer cancel()
	head, err := b.find(ctx, key)
	if err != nil {
		return err
	}
	if err := b.remove(ctx, key); err != nil {
		return err
	}
	if m, ok, _ := parseManifest(head); ok {
		b.deleteChunks(ctx, key, m)
	}
	return nil
}

// deleteChunks removes the parts of a replaced or deleted record. A part
// that cannot be removed is unreferenced and harmless; the record itself is
// already gone or replaced, so it is not an error of the call.
func (b *securityBackend) deleteChunks(ctx context.Context, key string, m securityManifest) {
	for i := range m.n {
		_ = b.remove(ctx, chunkAccount(key, m.gen, i))
	}
}

// find reads one item's password.
func (b *securityBackend) find(ctx context.Context, account string) ([]byte, error) {
	out, err := b.run(ctx, "read", account, nil, "find-generic-password", "-s", b.service, "-a", account, "-w")
	if err != nil {
		return nil, err
	}
	// do_password_item_printing writes the password, then one newline.
	v, ok := bytes.CutSuffix(out, []byte("\n"))
	if !ok {
		return nil, fmt.Errorf("cache: %s: security printed an unterminated password for %q", macSecurityName, account)
	}
	return v, nil
}

// add writes one item through `security -i`, with the command on stdin.
func (b *securityBackend) add(ctx context.Context, account string, value []byte) error {
	line := b.writeLine(account, value)
	if len(line) > securityMaxLine {
		// Unreachable through set, which splits long records; the check
		// keeps a long line from being cut and half run as a command.
		return fmt.Errorf("cache: %s: the write line for %q is %d bytes, longer than security -i reads (%d)", macSecurityName, account, len(line), securityMaxLine)
	}
	_, err := b.run(ctx, "write", account, line, "-i")
	return err
}

// remove deletes one item.
func (b *securityBackend) remove(ctx context.Context, account string) error {
	_, err := b.run(ctx, "delete", account, nil, "delete-generic-password", "-s", b.service, "-a", account)
	return err
}

// writeLine is the add-generic-password command for `security -i`. The
// value travels as -X <hex>: the line splitter sees only hex digits of it.
func (b *securityBackend) writeLine(account string, value []byte) []byte {
	var l bytes.Buffer
	l.WriteString("add-generic-password -U -s ")
	l.WriteString(securityQuote(b.service))
	l.WriteString(" -a ")
	l.WriteString(securityQuote(account))
	l.WriteString(" -X ")
	l.WriteString(hex.EncodeToString(value))
	l.WriteByte('\n')
	return l.Bytes()
}

// securityQuote quotes one argument for the line splitter of `security -i`:
// inside double quotes a backslash takes the next character as it is.
// Line breaks were refused when the store was opened (and keys have none).
func securityQuote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}

// run runs security with args (never a secret) and stdin (the only place a
// secret goes), killing it when ctx ends.
func (b *securityBackend) run(ctx context.Context, op, account string, stdin []byte, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, b.program, args...)
	cmd.WaitDelay = securityWaitDelay
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		// The store reports its time box; this is for a call that ran out
		// of it inside a chunked read or write.
		return nil, fmt.Errorf("cache: %s: security did not finish the %s of %q within %v (is the Keychain locked and asking for its password? %s): %w",
			macSecurityName, op, account, b.timeout, securityUnlockAdvice, ErrTimeout)
	}
	var exit *exec.ExitError
	switch {
	case err == nil:
		return stdout.Bytes(), nil
	case !errors.As(err, &exit):
		return nil, fmt.Errorf("cache: %s: running %s: %w", macSecurityName, b.program, err)
	}
	msg := securityMessage(stderr.Bytes(), stdin)
	switch code := exit.ExitCode(); code {
	case securityExitNotFound:
		return nil, fmt.Errorf("cache: %s: no Keychain item %q for service %q: %w", macSecurityName, account, b.service, ErrNotFound)
	case securityExitNoUI:
		return nil, fmt.Errorf("cache: %s: %s of %q failed: the Keychain is locked and cannot ask for its password here (%s): %s, or choose another backend with store.backend (CREDCHAIN_STORE_BACKEND): %w",
			macSecurityName, op, account, msg, securityUnlockAdvice, ErrLocked)
	case securityExitAuthFailed:
		return nil, fmt.Errorf("cache: %s: %s of %q failed: the Keychain refused the password (%s): %s: %w", macSecurityName, op, account, msg, securityUnlockAdvice, ErrLocked)
	case securityExitUserCancel:
		return nil, fmt.Errorf("cache: %s: %s of %q failed: the Keychain prompt was cancelled (%s): allow credchain's access, or %s", macSecurityName, op, account, msg, securityUnlockAdvice)
	default:
		return nil, fmt.Errorf("cache: %s: %s of %q failed: security exited %d (%s)", macSecurityName, op, account, code, msg)
	}
}

// securityMessage is security's error output for an error message: one
// line, bounded, and with nothing of what was sent on stdin in it.
func securityMessage(stderr, stdin []byte) string {
	s, _, _ := strings.Cut(strings.TrimSpace(string(stderr)), "\n")
	if _, sent, ok := bytes.Cut(stdin, []byte(" -X ")); ok {
		if secret := strings.TrimSpace(string(sent)); secret != "" {
			s = strings.ReplaceAll(s, secret, "<redacted>")
		}
	}
	if len(s) > securityStderrMaxLength {
		// Cut at a character boundary: the message ends up in JSON output.
		cut := securityStderrMaxLength
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	if s == "" {
		s = "no message"
	}
	return s
}

// encodeSecurityValue returns value as the printable ASCII the Keychain
// item holds: itself when every byte is printable and it cannot be taken
// for a wrapper, else the base64 wrapper (an empty value too: -X needs a
// non-empty argument).
func encodeSecurityValue(value []byte) []byte {
	if len(value) > 0 && printableASCII(value) && !bytes.HasPrefix(value, []byte(securityWrapperPrefix)) {
		return value
	}
	return []byte(securityBase64Prefix + base64.StdEncoding.EncodeToString(value))
}

func decodeSecurityValue(stored []byte) ([]byte, error) {
	rest, ok := bytes.CutPrefix(stored, []byte(securityBase64Prefix))
	if !ok {
		return stored, nil
	}
	v, err := base64.StdEncoding.AppendDecode(nil, rest)
	if err != nil {
		return nil, fmt.Errorf("cache: %s: a Keychain item has a damaged base64 value: delete the record (credchain logout) and sign in again", macSecurityName)
	}
	return v, nil
}

// printableASCII is isprint in the C locale, which security uses to choose
// between printing a password as it is and as hex.
func printableASCII(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c > 0x7e {
			return false
		}
	}
	return true
}

// securityManifest is the content of the item of a record that was split:
// the parts' generation, their count and the SHA-256 of their concatenation.
type securityManifest struct {
	gen string
	n   int
	sum string
}

// parseManifest reports whether stored is a manifest, and parses it.
func parseManifest(stored []byte) (securityManifest, bool, error) {
	rest, ok := bytes.CutPrefix(stored, []byte(securityManifestPrefix))
	if !ok {
		return securityManifest{}, false, nil
	}
	f := strings.Split(string(rest), ":")
	if len(f) != 3 {
		return securityManifest{}, true, errors.New("malformed list of parts")
	}
	n, err := strconv.Atoi(f[1])
	if err != nil || n < 1 || n > securityMaxChunks || len(f[0]) != 16 || len(f[2]) != 64 {
		return securityManifest{}, true, errors.New("malformed list of parts")
	}
	return securityManifest{gen: f[0], n: n, sum: f[2]}, true, nil
}

// chunkAccount names part i of generation gen of key's record. '#' is not
// allowed in record keys, so a part never collides with a record.
func chunkAccount(key, gen string, i int) string {
	return key + securityChunkSeparator + gen + "." + strconv.Itoa(i)
}

func newChunkGen() (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("cache: %s: %w", macSecurityName, err)
	}
	return hex.EncodeToString(b[:]), nil
}
