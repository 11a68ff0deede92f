//go:build unix

package cache_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/credchain/credchain/cache"
	"github.com/credchain/credchain/internal/testenv"
)

// securityStandIn is a stand-in for macOS's /usr/bin/security, run from a
// temporary directory put first on PATH. It records every call (argv, stdin,
// pid, in order) under $SECURITY_STANDIN_DIR/calls, keeps generic passwords
// as files under items/, and answers like the real program:
//
//   - find-generic-password -s S -a A -w prints the password and a newline:
//     as it is when every byte is printable ASCII, else as lowercase hex with
//     bytes >= 0x80 sign-extended ("ffffff80"), as keychain_find.c does;
//   - a missing item: "security: SecKeychainSearchCopyNext: The specified
//     item could not be found in the keychain." and exit 44;
//   - add-generic-password [-U] -s S -a A (-X HEX | -w PW); without -U an
//     existing item is exit 45;
//   - delete-generic-password -s S -a A;
//   - -i reads commands from stdin, one a line, split like security's
//     split_line (double quotes group, a backslash takes the next character),
//     and exits with the status of the last one.
//
// A file then/NAME (NAME as under items/) is a concurrent writer: it
// replaces item NAME right after a find-generic-password read it (an empty
// one deletes the item).
//
// A file after/NAME holds the mode (below) the stand-in switches to right
// after a find-generic-password looked NAME up, found or not.
//
// The file "mode" in the directory changes its behaviour: "locked" answers
// every keychain command with "User interaction is not allowed." and exit 36,
// "hang" never answers, "lie" makes -i exit 0 without doing anything.
const securityStandIn = `#!/usr/bin/env perl
use strict;
use warnings;
use Fcntl qw(:flock);
use Digest::SHA qw(sha256_hex);

my $dir = $ENV{SECURITY_STANDIN_DIR} or die "security stand-in: SECURITY_STANDIN_DIR is not set\n";
sub slurp { my ($p) = @_; open(my $f, '<:raw', $p) or return undef; local $/; my $s = <$f>; close $f; return $s; }
sub spew { my ($p, $s) = @_; open(my $f, '>:raw', $p) or die "security stand-in: $p: $!\n"; print $f $s; close $f or die; }

my $mode = slurp("$dir/mode") // '';
$mode =~ s/\s+$//;
my $stdin = do { local $/; binmode STDIN; <STDIN> } // '';

# Record the call: a sequence number taken under a lock keeps the order.
open(my $lock, '>>', "$dir/calls.lock") or die;
flock($lock, LOCK_EX) or die;
my $n = (slurp("$dir/calls.seq") // 0) + 1;
spew("$dir/calls.seq", $n);
my $base = sprintf("%s/calls/%06d", $dir, $n);
spew("$base.argv", join("\0", @ARGV));
spew("$base.stdin", $stdin);
spew("$base.pid", $$);
close $lock;

if ($mode eq 'hang') { sleep 3600; exit 0; }

# An item is the file items/HEX, HEX the hex of "service\0account", or
# items/sha256-SUM when that is too long a file name (names/sha256-SUM then
# holds the name).
sub item {
	my ($s, $a) = @_;
	my $h = unpack('H*', "$s\0$a");
	return "$dir/items/$h" if length($h) <= 200;
	$h = 'sha256-' . sha256_hex("$s\0$a");
	spew("$dir/names/$h", "$s\0$a");
	return "$dir/items/$h";
}
sub notfound { print STDERR "security: SecKeychainSearchCopyNext: The specified item could not be found in the keychain.\n"; return 44; }
sub opts {
	my %o;
	while (@_) {
		my $a = shift;
		if ($a =~ /^-[UwgA]$/ && !($a eq '-w' && @_ && $_[0] !~ /^-/)) { $o{$a} = 1; next; }
		$o{$a} = shift;
	}
	return %o;
}

sub command {
	my $cmd = shift;
	my %o = opts(@_);
	if ($mode eq 'locked') {
		print STDERR "security: SecKeychainSearchCopyNext: User interaction is not allowed.\n";
		return 36;
	}
	if ($cmd eq 'find-generic-password') {
		my $p = item($o{'-s'} // '', $o{'-a'} // '');
		my $v = slurp($p);
		# after/NAME: the mode the keychain is in once NAME was looked up.
		(my $after = $p) =~ s{/items/}{/after/};
		rename($after, "$dir/mode") or die "security stand-in: $after: $!\n" if -e $after;
		return notfound() unless defined $v;
		# A concurrent writer: then/NAME replaces item NAME once it was read.
		(my $then = $p) =~ s{/items/}{/then/};
		# An empty then/NAME deletes the item instead.
		if (-e $then) {
			if (-z $then) { unlink($p, $then) or die "security stand-in: $then: $!\n"; }
			else { rename($then, $p) or die "security stand-in: $then: $!\n"; }
		}
		if ($o{'-w'}) {
			if ($v =~ /[^\x20-\x7e]/) {
				print map { sprintf("%02x", $_ >= 0x80 ? 0xffffff00 | $_ : $_) } unpack('C*', $v);
			} else {
				print $v;
			}
			print "\n";
		}
		return 0;
	}
	if ($cmd eq 'add-generic-password') {
		my $p = item($o{'-s'} // '', $o{'-a'} // '');
		if (-e $p && !$o{'-U'}) {
			print STDERR "security: SecKeychainItemCreateFromContent (<default>): The specified item already exists in the keychain.\n";
			return 45;
		}
		my $v = defined $o{'-X'} ? pack('H*', $o{'-X'}) : $o{'-w'};
		spew($p, $v // '');
		return 0;
	}
	if ($cmd eq 'delete-generic-password') {
		my $p = item($o{'-s'} // '', $o{'-a'} // '');
		return notfound() unless -e $p;
		unlink $p or die;
		print "keychain: \"/Users/standin/Library/Keychains/login.keychain-db\"\nclass: \"genp\"\n";
		print "password has been deleted.\n";
		return 0;
	}
	print STDERR "security: unknown command \"$cmd\"\n";
	return 1;
}

sub split_line {
	my ($l) = @_;
	my (@w, $cur, $q);
	my @c = split //, $l;
	while (@c) {
		my $ch = shift @c;
		if ($ch eq '\\') { $cur .= shift(@c) // ''; next; }
		if ($ch eq '"') { $q = !$q; $cur //= ''; next; }
		if (!$q && $ch =~ /\s/) { push @w, $cur if defined $cur; undef $cur; next; }
		$cur .= $ch;
	}
	push @w, $cur if defined $cur;
	return @w;
}

if (@ARGV && $ARGV[0] eq '-i') {
	exit 0 if $mode eq 'lie';
	my $status = 0;
	for my $line (split /\n/, $stdin) {
		print "security> ";
		my @w = split_line($line);
		next unless @w;
		$status = command(@w);
	}
	exit $status;
}
exit command(@ARGV);
`

// standIn is one installed stand-in security program.
type standIn struct {
	t   *testing.T
	dir string
}

// newStandIn installs the stand-in first on PATH for the rest of the test.
func newStandIn(t *testing.T) *standIn {
	t.Helper()
	if _, err := exec.LookPath("perl"); err != nil {
		t.Fatalf("the stand-in for security(1) is a perl script and perl is not installed: %v", err)
	}
	dir := t.TempDir()
	for _, d := range []string{"bin", "calls", "items", "names", "then", "after"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "bin", "security"), []byte(securityStandIn), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SECURITY_STANDIN_DIR", dir)
	t.Setenv("PATH", filepath.Join(dir, "bin")+string(os.PathListSeparator)+os.Getenv("PATH"))
	return &standIn{t: t, dir: dir}
}

func (s *standIn) setMode(mode string) {
	s.t.Helper()
	if err := os.WriteFile(filepath.Join(s.dir, "mode"), []byte(mode), 0o600); err != nil {
		s.t.Fatal(err)
	}
}

// call is one recorded run of the stand-in.
type call struct {
	argv  []string
	stdin string
	pid   int
}

func (c call) String() string {
	s := "security " + strings.Join(c.argv, " ")
	if c.stdin != "" {
		s += " <<< " + strconv.Quote(c.stdin)
	}
	return s
}

// calls returns every recorded call, in order.
func (s *standIn) calls() []call {
	s.t.Helper()
	names, err := filepath.Glob(filepath.Join(s.dir, "calls", "*.argv"))
	if err != nil {
		s.t.Fatal(err)
	}
	slices.Sort(names)
	var out []call
	for _, n := range names {
		base := strings.TrimSuffix(n, ".argv")
		argv, err1 := os.ReadFile(n)
		stdin, err2 := os.ReadFile(base + ".stdin")
		pid, err3 := os.ReadFile(base + ".pid")
		if err := errors.Join(err1, err2, err3); err != nil {
			s.t.Fatalf("reading the stand-in's record %s: %v", base, err)
		}
		c := call{stdin: string(stdin)}
		if len(argv) > 0 {
			c.argv = strings.Split(string(argv), "\x00")
		}
		c.pid, _ = strconv.Atoi(string(pid))
		out = append(out, c)
	}
	return out
}

// since returns the calls after the first n.
func (s *standIn) since(n int) []call { return s.calls()[n:] }

// items returns the stand-in keychain: "service\x00account" → password.
func (s *standIn) items() map[string][]byte {
	s.t.Helper()
	ents, err := os.ReadDir(filepath.Join(s.dir, "items"))
	if err != nil {
		s.t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, e := range ents {
		var name []byte
		var err error
		if strings.HasPrefix(e.Name(), "sha256-") {
			name, err = os.ReadFile(filepath.Join(s.dir, "names", e.Name()))
		} else {
			name, err = hex.DecodeString(e.Name())
		}
		if err != nil {
			s.t.Fatalf("stand-in item %s: %v", e.Name(), err)
		}
		v, err := os.ReadFile(filepath.Join(s.dir, "items", e.Name()))
		if err != nil {
			s.t.Fatal(err)
		}
		out[string(name)] = v
	}
	return out
}

// assertNoSecretInArgv fails if any recorded argv holds a secret in any
// encoding the backend uses.
func (s *standIn) assertNoSecretInArgv(secrets ...[]byte) {
	s.t.Helper()
	for _, c := range s.calls() {
		for _, a := range c.argv {
			for _, sec := range secrets {
				for _, enc := range []string{string(sec), hex.EncodeToString(sec), base64.StdEncoding.EncodeToString(sec)} {
					if len(enc) >= 6 && strings.Contains(a, enc[:min(len(enc), 64)]) {
						s.t.Errorf("a secret is in the argv of %q", c.argv)
					}
				}
			}
		}
	}
}

// itemService is the Keychain service of a store on dir: the default
// service name and the first 8 hex digits of SHA-256 of the directory.
func itemService(dir string) string {
	sum := sha256.Sum256([]byte(dir))
	return "credchain-" + hex.EncodeToString(sum[:4])
}

func openSecurity(t *testing.T, dir string) cache.Store {
	t.Helper()
	return openT(t, cache.Options{Backend: "macos-security", Dir: dir, Timeout: 10 * time.Second})
}

// openSecurityStandIn installs a stand-in security program and opens a
// macos-security store on a new directory; it returns the stand-in, the
// store and the Keychain service of the store's items.
func openSecurityStandIn(t *testing.T) (*standIn, cache.Store, string) {
	t.Helper()
	testenv.Hermetic(t)
	sec := newStandIn(t)
	dir := t.TempDir()
	return sec, openSecurity(t, dir), itemService(dir)
}

func argvs(cs []call) [][]string {
	out := make([][]string, len(cs))
	for i, c := range cs {
		out[i] = c.argv
	}
	return out
}

// TestMacSecurityCommandLines checks the exact command lines and stdin of
// open, Set, Get and Delete.
func TestMacSecurityCommandLines(t *testing.T) {
	testenv.Hermetic(t)
	sec := newStandIn(t)
	dir := t.TempDir()
	svc := itemService(dir)
	ctx := context.Background()

	s := openSecurity(t, dir)
	want := [][]string{{"find-generic-password", "-s", svc, "-a", ".probe", "-w"}}
	if got := argvs(sec.calls()); !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("open ran %q; want %q", got, want)
	}
	d := s.(interface{ Describe() map[string]string }).Describe()
	if d["backend"] != "macos-security" || d["item_service"] != svc || d["program"] != filepath.Join(sec.dir, "bin", "security") {
		t.Errorf("Describe() = %v", d)
	}

	record := []byte(`{"version":1,"source":"oauth","kind":"bearer","token":"sk-ant-oat01-SECRETSECRET"}`)
	n := len(sec.calls())
	if err := s.Set(ctx, "oauth", record); err != nil {
		t.Fatalf("Set: %v", err)
	}
	got := sec.since(n)
	wantLine := `add-generic-password -U -s "` + svc + `" -a "oauth" -X ` + hex.EncodeToString(record) + "\n"
	if len(got) != 3 ||
		!slices.Equal(got[0].argv, []string{"find-generic-password", "-s", svc, "-a", "oauth", "-w"}) ||
		!slices.Equal(got[1].argv, []string{"-i"}) || got[1].stdin != wantLine ||
		!slices.Equal(got[2].argv, []string{"find-generic-password", "-s", svc, "-a", "oauth", "-w"}) {
		t.Fatalf("Set ran:\n%v\nwant: find (the record it replaces), security -i <<< %q, find (read back)", got, wantLine)
	}
	for _, c := range got {
		if c.argv[0] != "-i" && c.stdin != "" {
			t.Errorf("%v was given stdin", c)
		}
	}
	if v := sec.items()[svc+"\x00oauth"]; !bytes.Equal(v, record) {
		t.Fatalf("the Keychain item holds %q; want the record as it is", v)
	}

	n = len(sec.calls())
	v, err := s.Get(ctx, "oauth")
	if err != nil || !bytes.Equal(v, record) {
		t.Fatalf("Get = %q, %v; want the record", v, err)
	}
	if got := argvs(sec.since(n)); !slices.EqualFunc(got, [][]string{{"find-generic-password", "-s", svc, "-a", "oauth", "-w"}}, slices.Equal) {
		t.Fatalf("Get ran %q", got)
	}

	n = len(sec.calls())
	if err := s.Delete(ctx, "oauth"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if got := argvs(sec.since(n)); !slices.EqualFunc(got, [][]string{
		{"find-generic-password", "-s", svc, "-a", "oauth", "-w"},
		{"delete-generic-password", "-s", svc, "-a", "oauth"},
	}, slices.Equal) {
		t.Fatalf("Delete ran %q", got)
	}
	if len(sec.items()) != 0 {
		t.Fatalf("items left after Delete: %v", sec.items())
	}
	// Not found: exit 44 with security's message is ErrNotFound.
	if _, err := s.Get(ctx, "oauth"); !errors.Is(err, cache.ErrNotFound) {
		t.Fatalf("Get after Delete: %v; want ErrNotFound", err)
	}
	if err := s.Delete(ctx, "oauth"); err != nil {
		t.Fatalf("Delete of a missing record: %v", err)
	}
	sec.assertNoSecretInArgv(record, []byte("sk-ant-oat01-SECRETSECRET"))
}

// TestMacSecurityContract runs the Store contract (binary records, split
// records, overwrite, delete) and checks that two store directories never
// share an item and that no secret reached argv.
func TestMacSecurityContract(t *testing.T) {
	testenv.Hermetic(t)
	sec := newStandIn(t)
	dirA, dirB := t.TempDir(), t.TempDir()
	a, b := openSecurity(t, dirA), openSecurity(t, dirB)
	if itemService(dirA) == itemService(dirB) {
		t.Fatal("two directories got one service name")
	}
	roundTrip(t, a, b)

	ctx := context.Background()
	if err := a.Set(ctx, "shared", []byte("from A")); err != nil {
		t.Fatal(err)
	}
	if err := b.Set(ctx, "shared", []byte("from B")); err != nil {
		t.Fatal(err)
	}
	for s, want := range map[cache.Store]string{a: "from A", b: "from B"} {
		if v, err := s.Get(ctx, "shared"); err != nil || string(v) != want {
			t.Errorf("Get = %q, %v; want %q", v, err, want)
		}
	}
	items := sec.items()
	if len(items) != 2 || string(items[itemService(dirA)+"\x00shared"]) != "from A" || string(items[itemService(dirB)+"\x00shared"]) != "from B" {
		t.Errorf("items %q; want one per directory, named by its hash", slices.Sorted(func(yield func(string) bool) {
			for k := range items {
				if !yield(k) {
					return
				}
			}
		}))
	}
	// Values security would print as hex (not printable ASCII), empty
	// values and values that look like the backend's own wrapping survive.
	for _, v := range [][]byte{{}, []byte("tab\there"), []byte("é"), []byte("credchain:b64:AAAA"), []byte("credchain:chunks:v1:x"), []byte("00ff")} {
		if err := a.Set(ctx, "odd", v); err != nil {
			t.Fatalf("Set(%q): %v", v, err)
		}
		if got, err := a.Get(ctx, "odd"); err != nil || !bytes.Equal(got, v) {
			t.Errorf("Get after Set(%q) = %q, %v", v, got, err)
		}
	}
	for k, v := range sec.items() {
		if bytes.ContainsFunc(v, func(r rune) bool { return r < 0x20 || r > 0x7e }) {
			t.Errorf("item %q holds bytes security would print as hex: %q", k, v)
		}
	}

	// Start-up prefetch reads every record in parallel, one security
	// process each, like any other backend.
	long := bytes.Repeat([]byte("L"), 6000)
	if err := a.Set(ctx, "split", long); err != nil {
		t.Fatal(err)
	}
	n := len(sec.calls())
	p := cache.StartPrefetch(ctx, a, []string{"shared", "split", "missing"})
	for key, want := range map[string][]byte{"shared": []byte("from A"), "split": long} {
		if v, err := p.Wait(ctx, key); err != nil || !bytes.Equal(v, want) {
			t.Errorf("prefetched %q: %d bytes, %v", key, len(v), err)
		}
	}
	if _, err := p.Wait(ctx, "missing"); !errors.Is(err, cache.ErrNotFound) {
		t.Errorf("prefetched a missing record: %v; want ErrNotFound", err)
	}
	for _, c := range sec.since(n) {
		if c.argv[0] != "find-generic-password" {
			t.Errorf("prefetch ran %v", c)
		}
	}
	sec.assertNoSecretInArgv([]byte("from A"), []byte("from B"), []byte("tab\there"), long)
}

// TestMacSecurityLongRecord: a record longer than a `security -i` line is
// split over several items, each written by a line within the limit; it
// reads back whole, a shorter overwrite removes the parts, and a record too
// large for the Keychain is refused with a clear error that leaves the old
// one in place.
func TestMacSecurityLongRecord(t *testing.T) {
	sec, s, svc := openSecurityStandIn(t)
	ctx := context.Background()

	long := []byte(`{"version":1,"token":"` + strings.Repeat("Ab3-", 2500) + `"}`)
	n := len(sec.calls())
	if err := s.Set(ctx, "aws", long); err != nil {
		t.Fatalf("Set of a %d-byte record: %v", len(long), err)
	}
	writes := 0
	for _, c := range sec.since(n) {
		if c.argv[0] != "-i" {
			continue
		}
		writes++
		if len(c.stdin) > 4032 {
			t.Errorf("a write line is %d bytes; security -i reads 4096 at most and this backend promises 4032", len(c.stdin))
		}
		if strings.Count(c.stdin, "\n") != 1 || !strings.HasSuffix(c.stdin, "\n") {
			t.Errorf("a write sent %d lines; want one", strings.Count(c.stdin, "\n"))
		}
	}
	if writes < 3 {
		t.Fatalf("a %d-byte record was written in %d lines; it cannot fit in fewer than 3", len(long), writes)
	}
	items := sec.items()
	if len(items) != writes {
		t.Fatalf("%d items for %d writes", len(items), writes)
	}
	head := items[svc+"\x00aws"]
	if !bytes.HasPrefix(head, []byte("credchain:chunks:v1:")) {
		t.Fatalf("the record's own item holds %q; want the list of its parts", head)
	}
	if v, err := s.Get(ctx, "aws"); err != nil || !bytes.Equal(v, long) {
		t.Fatalf("Get of the split record: %d bytes, %v", len(v), err)
	}

	// Too large: refused before anything is written; the old record stays.
	huge := bytes.Repeat([]byte("x"), 200<<10)
	n = len(sec.calls())
	err := s.Set(ctx, "aws", huge)
	if err == nil || !strings.Contains(err.Error(), "more than the Keychain backend stores") || !strings.Contains(err.Error(), "CREDCHAIN_STORE_BACKEND") {
		t.Fatalf("Set of a 200 KiB record: %v; want a clear size error", err)
	}
	for _, c := range sec.since(n) {
		if c.argv[0] == "-i" || c.argv[0] == "delete-generic-password" {
			t.Errorf("a refused Set changed the Keychain: %v", c)
		}
	}
	if v, err := s.Get(ctx, "aws"); err != nil || !bytes.Equal(v, long) {
		t.Fatalf("after a refused Set, Get: %d bytes, %v; want the old record", len(v), err)
	}

	// A short overwrite leaves only the record's own item.
	if err := s.Set(ctx, "aws", []byte("short")); err != nil {
		t.Fatal(err)
	}
	if items := sec.items(); len(items) != 1 || string(items[svc+"\x00aws"]) != "short" {
		t.Fatalf("after a short overwrite the Keychain holds %d items", len(items))
	}

	// A missing part is a clear error, not a torn or empty record.
	if err := s.Set(ctx, "aws", long); err != nil {
		t.Fatal(err)
	}
	for k := range sec.items() {
		if strings.HasSuffix(k, ".1") {
			if err := os.Remove(filepath.Join(sec.dir, "items", hex.EncodeToString([]byte(k)))); err != nil {
				t.Fatal(err)
			}
		}
	}
	_, err = s.Get(ctx, "aws")
	if err == nil || errors.Is(err, cache.ErrNotFound) || !strings.Contains(err.Error(), "part 2 of") || !strings.Contains(err.Error(), "logout") {
		t.Fatalf("Get with a part missing: %v; want a clear damaged-record error", err)
	}
	// Delete removes the record and its parts.
	if err := s.Delete(ctx, "aws"); err != nil {
		t.Fatal(err)
	}
	if items := sec.items(); len(items) != 0 {
		t.Fatalf("Delete left %d items", len(items))
	}
	sec.assertNoSecretInArgv(long)
}

// replaceAfterRead makes the stand-in's keychain hold old as the item of
// account in service, replaced by new right after the next read of it: a
// concurrent writer that finishes just after a reader read the item. An
// empty new deletes the item then.
func (s *standIn) replaceAfterRead(service, account string, old, new []byte) {
	s.t.Helper()
	name := hex.EncodeToString([]byte(service + "\x00" + account))
	if err := errors.Join(os.WriteFile(filepath.Join(s.dir, "items", name), old, 0o600),
		os.WriteFile(filepath.Join(s.dir, "then", name), new, 0o600)); err != nil {
		s.t.Fatal(err)
	}
}

// modeAfterLookup makes the stand-in switch to mode right after the next
// lookup of account in service: the Keychain locked in the middle of a
// read.
func (s *standIn) modeAfterLookup(service, account, mode string) {
	s.t.Helper()
	name := hex.EncodeToString([]byte(service + "\x00" + account))
	if err := os.WriteFile(filepath.Join(s.dir, "after", name), []byte(mode), 0o600); err != nil {
		s.t.Fatal(err)
	}
}

// TestMacSecurityLockedWhileCheckingAMissingPart: when a part of a split
// record is missing, the list of parts is read again to tell a concurrent
// replacement from damage. If that read fails (the Keychain was locked in
// between), its error is the answer, not "damaged: delete it and sign in
// again", which would throw away a login that is intact.
func TestMacSecurityLockedWhileCheckingAMissingPart(t *testing.T) {
	sec, s, svc := openSecurityStandIn(t)
	ctx := context.Background()
	if err := s.Set(ctx, "aws", []byte(strings.Repeat("rec-", 3000))); err != nil {
		t.Fatal(err)
	}
	head := string(sec.items()[svc+"\x00aws"])
	fields := strings.Split(strings.TrimPrefix(head, "credchain:chunks:v1:"), ":")
	if len(fields) != 3 {
		t.Fatalf("the record's item %q is not a list of parts", head)
	}
	part := "aws#" + fields[0] + ".0"
	if err := os.Remove(filepath.Join(sec.dir, "items", hex.EncodeToString([]byte(svc+"\x00"+part)))); err != nil {
		t.Fatal(err)
	}
	sec.modeAfterLookup(svc, part, "locked")
	if _, err := s.Get(ctx, "aws"); !errors.Is(err, cache.ErrLocked) || strings.Contains(err.Error(), "sign in again") {
		t.Fatalf("Get with a part missing and the Keychain locked before the list was read again: %v; want ErrLocked", err)
	}
}

// TestMacSecuritySplitRecordDeletedWhileRead: a reader of a split record
// that finds a part missing because another process deleted the record
// (credchain logout) after the reader read its list reports no record, not
// a damaged one to delete.
func TestMacSecuritySplitRecordDeletedWhileRead(t *testing.T) {
	sec, s, svc := openSecurityStandIn(t)
	ctx := context.Background()
	if err := s.Set(ctx, "aws", []byte(strings.Repeat("old-", 3000))); err != nil {
		t.Fatal(err)
	}
	head := sec.items()[svc+"\x00aws"]
	if err := s.Delete(ctx, "aws"); err != nil {
		t.Fatal(err)
	}
	// The reader read the list just before the deleting process removed it.
	sec.replaceAfterRead(svc, "aws", head, nil)
	if v, err := s.Get(ctx, "aws"); !errors.Is(err, cache.ErrNotFound) {
		t.Fatalf("Get of a split record deleted while read: %d bytes, %v; want ErrNotFound", len(v), err)
	}
}

// TestMacSecuritySplitRecordReplacedWhileRead: a reader of a split record
// that finds a part missing because another process replaced the record
// (new parts, new list, old parts deleted) after the reader read the old
// list reads again and gets the new record; it does not report the record
// as damaged. A part missing under an unchanged list is damage (see
// TestMacSecurityLongRecord).
func TestMacSecuritySplitRecordReplacedWhileRead(t *testing.T) {
	sec, s, svc := openSecurityStandIn(t)
	ctx := context.Background()

	older := []byte(strings.Repeat("old-", 3000))
	newer := []byte(strings.Repeat("new-", 3000))
	if err := s.Set(ctx, "aws", older); err != nil {
		t.Fatal(err)
	}
	oldHead := sec.items()[svc+"\x00aws"]
	// The writer: newer's parts and list are in, older's parts are gone.
	if err := s.Set(ctx, "aws", newer); err != nil {
		t.Fatal(err)
	}
	newHead := sec.items()[svc+"\x00aws"]
	if !bytes.HasPrefix(oldHead, []byte("credchain:chunks:v1:")) || !bytes.HasPrefix(newHead, []byte("credchain:chunks:v1:")) || bytes.Equal(oldHead, newHead) {
		t.Fatalf("lists of parts %q and %q; want two different ones", oldHead, newHead)
	}
	// The reader read older's list just before the writer replaced it.
	sec.replaceAfterRead(svc, "aws", oldHead, newHead)
	n := len(sec.calls())
	v, err := s.Get(ctx, "aws")
	if err != nil || !bytes.Equal(v, newer) {
		t.Fatalf("Get of a split record replaced while read: %d bytes, %v; want the new record", len(v), err)
	}
	// It read the old list, found the old record's first part missing,
	// read the list again (the new one), and then the new record.
	if got := sec.since(n); len(got) < 4 || got[1].argv[4] == "aws" || got[2].argv[4] != "aws" {
		t.Fatalf("Get ran:\n%v\nwant: the list, a missing part, the list again, the new record", got)
	}
}

// TestMacSecurityLocked: a locked Keychain (exit 36, "User interaction is
// not allowed.") is ErrLocked with the unlock command, for open, Get and Set.
func TestMacSecurityLocked(t *testing.T) {
	testenv.Hermetic(t)
	sec := newStandIn(t)
	dir := t.TempDir()
	s := openSecurity(t, dir)
	ctx := context.Background()
	if err := s.Set(ctx, "oauth", []byte("v1")); err != nil {
		t.Fatal(err)
	}
	sec.setMode("locked")
	check := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, cache.ErrLocked) {
			t.Fatalf("%s on a locked Keychain: %v; want ErrLocked", what, err)
		}
		for _, want := range []string{"security unlock-keychain", "User interaction is not allowed", "CREDCHAIN_STORE_BACKEND"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: the error does not mention %q: %v", what, want, err)
			}
		}
	}
	_, err := s.Get(ctx, "oauth")
	check("Get", err)
	check("Set", s.Set(ctx, "oauth", []byte("v2")))
	_, err = cache.Open(ctx, cache.Options{Backend: "macos-security", Dir: dir})
	check("Open", err)

	sec.setMode("")
	if v, err := s.Get(ctx, "oauth"); err != nil || string(v) != "v1" {
		t.Fatalf("after unlocking, Get = %q, %v; want the record from before", v, err)
	}
}

// TestMacSecurityWriteNotTaken: security -i exits with the low 8 bits of the
// result, so a failed write can exit 0; the read-back catches it.
func TestMacSecurityWriteNotTaken(t *testing.T) {
	testenv.Hermetic(t)
	sec := newStandIn(t)
	s := openSecurity(t, t.TempDir())
	ctx := context.Background()
	if err := s.Set(ctx, "oauth", []byte("old")); err != nil {
		t.Fatal(err)
	}
	sec.setMode("lie")
	err := s.Set(ctx, "oauth", []byte("new"))
	if err == nil || !strings.Contains(err.Error(), "did not take") {
		t.Fatalf("Set whose write was dropped: %v; want an error", err)
	}
	if v, err := s.Get(ctx, "oauth"); err != nil || string(v) != "old" {
		t.Fatalf("Get = %q, %v; want the old record", v, err)
	}
}

// TestMacSecurityHang: a security that never answers (a Keychain prompt
// nobody sees) is ErrTimeout within the time box, and the process is killed.
func TestMacSecurityHang(t *testing.T) {
	testenv.Hermetic(t)
	sec := newStandIn(t)
	dir := t.TempDir()
	s := openT(t, cache.Options{Backend: "macos-security", Dir: dir, Timeout: 300 * time.Millisecond})
	sec.setMode("hang")
	n := len(sec.calls())
	done := make(chan error, 1)
	go func() { _, err := s.Get(context.Background(), "oauth"); done <- err }()
	var err error
	select {
	case err = <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Get on a hung security did not return")
	}
	if !errors.Is(err, cache.ErrTimeout) || !strings.Contains(err.Error(), "keychain locked") {
		t.Fatalf("Get on a hung security: %v; want ErrTimeout saying the keychain may be locked", err)
	}
	calls := sec.since(n)
	if len(calls) != 1 {
		t.Fatalf("%d calls; want the one that hung", len(calls))
	}
	deadline := time.Now().Add(10 * time.Second)
	for !testenv.ProcessGone(calls[0].pid) {
		if time.Now().After(deadline) {
			t.Fatalf("the hung security (pid %d) was not killed", calls[0].pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
	_, err = cache.Open(context.Background(), cache.Options{Backend: "macos-security", Dir: dir, Timeout: 300 * time.Millisecond})
	if !errors.Is(err, cache.ErrTimeout) {
		t.Fatalf("Open with a hung security: %v; want ErrTimeout", err)
	}
}

// TestMacSecurityQuoting: a service name with quotes, a backslash and spaces
// reaches the Keychain item intact through the -i line.
func TestMacSecurityQuoting(t *testing.T) {
	testenv.Hermetic(t)
	sec := newStandIn(t)
	dir := t.TempDir()
	service := `my "cred" chain`
	s := openT(t, cache.Options{Backend: "macos-security", Dir: dir, Service: service, Timeout: 10 * time.Second})
	if err := s.Set(context.Background(), "oauth", []byte("v")); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(dir))
	want := service + "-" + hex.EncodeToString(sum[:4]) + "\x00oauth"
	if _, ok := sec.items()[want]; !ok || len(sec.items()) != 1 {
		t.Fatalf("items %q; want %q", slices.Collect(func(yield func(string) bool) {
			for k := range sec.items() {
				yield(k)
			}
		}), want)
	}
	if _, err := cache.Open(context.Background(), cache.Options{Backend: "macos-security", Dir: dir, Service: "a\nb"}); err == nil || !strings.Contains(err.Error(), "line break") {
		t.Fatalf("a service with a line break: %v; want an error", err)
	}
}

// TestMacSecurityAutoAndMissing: auto never picks macos-security off macOS
// (and never runs security there), and an explicit choice without a security
// program says where it should be.
func TestMacSecurityAutoAndMissing(t *testing.T) {
	testenv.Hermetic(t)
	t.Setenv("PASSWORD_STORE_DIR", t.TempDir())
	sec := newStandIn(t)
	if runtime.GOOS != "darwin" { // on macOS auto may rightly pick it
		_, err := cache.OpenBroken(context.Background(), cache.Options{Dir: t.TempDir()}, "keyctl", "refused")
		if !errors.Is(err, cache.ErrNoBackend) || !strings.Contains(err.Error(), "macos-security: macOS only") {
			t.Fatalf("auto off macOS: %v; want ErrNoBackend listing macos-security as macOS only", err)
		}
		if c := sec.calls(); len(c) != 0 {
			t.Fatalf("auto ran security off macOS: %v", c)
		}
	}

	t.Setenv("PATH", t.TempDir())
	_, err := cache.Open(context.Background(), cache.Options{Backend: "macos-security", Dir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "security program is not on PATH") || !strings.Contains(err.Error(), "/usr/bin/security") {
		t.Fatalf("no security program: %v", err)
	}
}

// writeLineLen is the length of the backend's write line for an account of
// service holding a value of n bytes (its form is pinned by
// TestMacSecurityCommandLines): the fixed words, both names quoted (these
// tests use names that need no backslash), the value in hex, the newline.
func writeLineLen(service, account string, n int) int {
	return len(`add-generic-password -U -s "`+service+`" -a "`+account+`" -X `+"\n") + 2*n
}

// longestPart is the longest account a part of key's record can have:
// "<key>#<16 hex digits>.<index>", the index of the 64th part two digits.
func longestPart(key string) string { return key + "#0123456789abcdef.63" }

// writeLines returns the stdin of every `security -i` among calls.
func writeLines(calls []call) []string {
	var out []string
	for _, c := range calls {
		if c.argv[0] == "-i" {
			out = append(out, c.stdin)
		}
	}
	return out
}

// TestMacSecurityWholeRecordAtLineLimit: a record whose write line is
// exactly 4032 bytes (the longest line the backend sends to `security -i`)
// is written whole, in that one line; the same record under a key one
// letter longer (a 4033-byte line) is split.
func TestMacSecurityWholeRecordAtLineLimit(t *testing.T) {
	sec, s, svc := openSecurityStandIn(t)
	ctx := context.Background()

	key := "ab" // a key whose line can be exactly 4032 bytes: hex is even
	if (4032-writeLineLen(svc, key, 0))%2 != 0 {
		key = "abc"
	}
	value := bytes.Repeat([]byte("w"), (4032-writeLineLen(svc, key, 0))/2)
	n := len(sec.calls())
	if err := s.Set(ctx, key, value); err != nil {
		t.Fatalf("Set of a record whose line is 4032 bytes: %v", err)
	}
	if lines := writeLines(sec.since(n)); len(lines) != 1 || len(lines[0]) != 4032 {
		t.Fatalf("a record whose line is 4032 bytes was written in %d lines; want one of 4032 bytes", len(lines))
	}
	if v := sec.items()[svc+"\x00"+key]; !bytes.Equal(v, value) {
		t.Fatalf("its item holds %.40q…; want the record whole", v)
	}

	longer := key + "x"
	n = len(sec.calls())
	if err := s.Set(ctx, longer, value); err != nil {
		t.Fatalf("Set of a record whose line would be 4033 bytes: %v", err)
	}
	lines := writeLines(sec.since(n))
	if len(lines) < 2 || !bytes.HasPrefix(sec.items()[svc+"\x00"+longer], []byte("credchain:chunks:v1:")) {
		t.Fatalf("a record whose line would be 4033 bytes was written in %d lines; want it split", len(lines))
	}
	for _, l := range lines {
		if len(l) > 4032 {
			t.Errorf("a write line is %d bytes", len(l))
		}
	}
	for _, k := range []string{key, longer} {
		if v, err := s.Get(ctx, k); err != nil || !bytes.Equal(v, value) {
			t.Errorf("Get(%q): %d bytes, %v; want the record", k, len(v), err)
		}
	}
}

// TestMacSecuritySplitSizes pins how a long record is split: every part
// but the last holds per bytes, per the most that fits in a 4032-byte line
// with the longest part account (that of the 64th part), so the line of
// every full part with a two-digit index is exactly 4032 bytes; a record of
// k*per bytes is k parts, one byte more is k+1 parts; 64 parts are stored,
// one byte more is refused before anything is written, with an error whose
// number is what the arithmetic says (about 64*per*3/4: near what fits of
// a binary record, which is stored as base64) and a record of that size is
// stored.
func TestMacSecuritySplitSizes(t *testing.T) {
	sec, s, svc := openSecurityStandIn(t)
	ctx := context.Background()

	key := "tok" // a key that makes the room for a part's hex even
	if (4032-writeLineLen(svc, longestPart(key), 0))%2 != 0 {
		key = "toke"
	}
	per := (4032 - writeLineLen(svc, longestPart(key), 0)) / 2
	advertised := 64 * per * 3 / 4
	for _, tc := range []struct {
		size, parts int
	}{
		{3 * per, 3},
		{3*per + 1, 4},
		{4*per - 1, 4},
		{advertised, (advertised + per - 1) / per},
		{64 * per, 64},
	} {
		value := bytes.Repeat([]byte("p"), tc.size)
		n := len(sec.calls())
		if err := s.Set(ctx, key, value); err != nil {
			t.Fatalf("Set of %d bytes (%d parts of %d): %v", tc.size, tc.parts, per, err)
		}
		lines := writeLines(sec.since(n))
		if len(lines) != tc.parts+1 {
			t.Fatalf("a record of %d bytes was written in %d lines; want %d parts of at most %d bytes and the list", tc.size, len(lines), tc.parts, per)
		}
		for i, l := range lines[:tc.parts] {
			_, hexPart, _ := strings.Cut(strings.TrimSuffix(l, "\n"), " -X ")
			want := per
			if i == tc.parts-1 {
				want = tc.size - (tc.parts-1)*per
			}
			if len(hexPart) != 2*want {
				t.Errorf("%d bytes: part %d holds %d bytes; want %d", tc.size, i+1, len(hexPart)/2, want)
			}
			if want == per && i >= 10 && len(l) != 4032 {
				t.Errorf("%d bytes: the line of full part %d is %d bytes; want 4032", tc.size, i+1, len(l))
			}
		}
		if items := sec.items(); len(items) != tc.parts+1 {
			t.Errorf("%d bytes: %d items; want %d parts and the list", tc.size, len(items), tc.parts)
		}
		if v, err := s.Get(ctx, key); err != nil || !bytes.Equal(v, value) {
			t.Fatalf("Get of %d bytes in %d parts: %d bytes, %v", tc.size, tc.parts, len(v), err)
		}
	}

	n := len(sec.calls())
	err := s.Set(ctx, key, bytes.Repeat([]byte("p"), 64*per+1))
	if err == nil || !strings.Contains(err.Error(), " is "+strconv.Itoa(64*per+1)+" bytes, more than the Keychain backend stores (about "+strconv.Itoa(advertised)+")") {
		t.Fatalf("Set of 64 parts and a byte: %v; want refused, saying it stores about %d bytes", err, advertised)
	}
	if lines := writeLines(sec.since(n)); len(lines) != 0 {
		t.Fatalf("a refused record wrote %d lines", len(lines))
	}
	if v, err := s.Get(ctx, key); err != nil || len(v) != 64*per {
		t.Fatalf("after a refused Set, Get: %d bytes, %v; want the record of 64 parts", len(v), err)
	}
}

// TestMacSecurityLongServiceName: a store whose service name leaves no room
// in a 4032-byte line for the list of a split record's parts refuses to
// split a record, clearly and before writing anything (it used to write the
// parts and then fail on the list's line, or divide by zero when not a byte
// of a part fitted), and still stores a record
// that needs no split; a name one byte shorter stores split records, the
// list's line then exactly 4032 bytes.
func TestMacSecurityLongServiceName(t *testing.T) {
	testenv.Hermetic(t)
	sec := newStandIn(t)
	ctx := context.Background()
	const key = "k"
	// The longest list: "credchain:chunks:v1:<gen>:64:<sha256>".
	listLen := len("credchain:chunks:v1:0123456789abcdef:64:") + 64
	// The service is the store's name, "-" and 8 hex digits.
	fits := 4032 - writeLineLen("", key, listLen) - len("-0a1b2c3d")
	value := bytes.Repeat([]byte("v"), 1000)
	for _, tc := range []struct {
		name    string
		service int // bytes
		split   bool
	}{
		{"the list's line is 4032 bytes", fits, true},
		{"the list's line would be 4033 bytes", fits + 1, false},
		// No room at all for a part's hex: room/2 == 0.
		{"not a byte of a part fits", 4032 - writeLineLen("", longestPart(key), 0) - len("-0a1b2c3d"), false},
		{"not a line fits", 4100, false},
	} {
		dir := t.TempDir()
		service := strings.Repeat("s", tc.service)
		sum := sha256.Sum256([]byte(dir))
		svc := service + "-" + hex.EncodeToString(sum[:4])
		s := openT(t, cache.Options{Backend: "macos-security", Dir: dir, Service: service, Timeout: 10 * time.Second})
		n := len(sec.calls())
		err := s.Set(ctx, key, value)
		if tc.split {
			if err != nil {
				t.Fatalf("%s: Set: %v", tc.name, err)
			}
			lines := writeLines(sec.since(n))
			if len(lines) < 2 || len(lines[len(lines)-1]) != 4032 {
				t.Fatalf("%s: wrote %d lines, the list's %d bytes; want the parts, and the list in 4032", tc.name, len(lines), len(lines[len(lines)-1]))
			}
			if v, err := s.Get(ctx, key); err != nil || !bytes.Equal(v, value) {
				t.Fatalf("%s: Get: %d bytes, %v", tc.name, len(v), err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), "choose a shorter store.service") || strings.Contains(err.Error(), service) {
			t.Fatalf("%s: Set of a record to split: %v; want an error naming store.service (without quoting a name of %d bytes)", tc.name, err, tc.service)
		}
		if lines := writeLines(sec.since(n)); len(lines) != 0 {
			t.Fatalf("%s: a refused Set wrote %d lines", tc.name, len(lines))
		}
		if writeLineLen(svc, key, 1) <= 4032 {
			if err := s.Set(ctx, key, []byte("v")); err != nil {
				t.Fatalf("%s: Set of a record that needs no split: %v", tc.name, err)
			}
			if v, err := s.Get(ctx, key); err != nil || string(v) != "v" {
				t.Fatalf("%s: Get: %q, %v", tc.name, v, err)
			}
		}
	}
}
