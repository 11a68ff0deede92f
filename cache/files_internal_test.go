package cache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
)

// recordingFS makes the real file-system calls and records each as one line
// ("rename .tmp-k.json-* k.json"), with paths relative to the store
// directory and the random part of temporary names replaced by "*". When
// failAt is n > 0, the n-th call fails with errInjected instead of being
// made.
type recordingFS struct {
	root   string
	failAt int
	// after, when set, runs after each successful create, mkdir or open
	// with that call's number (counting from 1) and its path.
	after func(n int, path string)

	mu    sync.Mutex
	calls []string
}

var errInjected = errors.New("injected disk failure")

var randomPart = regexp.MustCompile(`(\.tmp-[^/ ]*-|\.staging-)[0-9]+`)

func (r *recordingFS) name(p string) string {
	rel, err := filepath.Rel(r.root, p)
	if err != nil {
		rel = p
	}
	return randomPart.ReplaceAllString(filepath.ToSlash(rel), "$1*")
}

// call records a call and says whether to fail it.
func (r *recordingFS) call(op string, paths ...string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	line := op
	for _, p := range paths {
		line += " " + r.name(p)
	}
	r.calls = append(r.calls, line)
	if len(r.calls) == r.failAt {
		return fmt.Errorf("%s: %w", line, errInjected)
	}
	return nil
}

func (r *recordingFS) log() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.calls)
}

func (r *recordingFS) createTemp(dir, pattern string) (*os.File, error) {
	if err := r.call("create", filepath.Join(dir, pattern+"0")); err != nil {
		return nil, err
	}
	f, err := osFS{}.createTemp(dir, pattern)
	if err == nil && r.after != nil {
		r.after(len(r.log()), f.Name())
	}
	return f, err
}

func (r *recordingFS) mkdirTemp(dir, pattern string) (string, error) {
	if err := r.call("mkdir", filepath.Join(dir, pattern+"0")); err != nil {
		return "", err
	}
	p, err := osFS{}.mkdirTemp(dir, pattern)
	if err == nil && r.after != nil {
		r.after(len(r.log()), p)
	}
	return p, err
}

func (r *recordingFS) open(name string, flag int) (*os.File, error) {
	if err := r.call("open", name); err != nil {
		return nil, err
	}
	f, err := osFS{}.open(name, flag)
	if err == nil && r.after != nil {
		r.after(len(r.log()), name)
	}
	return f, err
}

func (r *recordingFS) write(f *os.File, data []byte) error {
	if err := r.call("write", f.Name()); err != nil {
		return err
	}
	return osFS{}.write(f, data)
}

func (r *recordingFS) rename(oldpath, newpath string) error {
	if err := r.call("rename", oldpath, newpath); err != nil {
		return err
	}
	return osFS{}.rename(oldpath, newpath)
}

func (r *recordingFS) remove(name string) error {
	if err := r.call("remove", name); err != nil {
		return err
	}
	return osFS{}.remove(name)
}

func (r *recordingFS) sync(f *os.File) error {
	if err := r.call("sync", f.Name()); err != nil {
		return err
	}
	return osFS{}.sync(f)
}

// openFileStore opens backend ("file" or "plaintext") in dir with fs as
// its file system.
func openFileStore(t *testing.T, backend, dir string, fs fileSystem) *store {
	t.Helper()
	o, err := resolveOptions(Options{Backend: backend, Dir: dir, FilePassword: func() (string, error) { return "correct horse", nil }})
	if err != nil {
		t.Fatal(err)
	}
	o.fs = fs
	open := openPlaintext
	if backend == "file" {
		open = openFile
	}
	s, err := open(context.Background(), o, backend)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The writes of the file backends are durable in the order the package
// documents: the new content is written to a temporary file and renamed
// over the record, then the file and the directory are fsynced; the
// encrypted file backend first journals the record the same way, and
// removes the journal only once the record file is in place and its
// directory synced. A write that skips a step (an fsync, the journal, the
// journal's removal) changes this list.
func TestFileStoreWritesAreDurableInOrder(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Fatal("the durable write order below is the Unix one (Windows cannot fsync a directory); run this test on Linux or macOS")
	}
	journal := []string{
		"create file/.tmp-_journal.k-*",
		"write file/.tmp-_journal.k-*",
		"rename file/.tmp-_journal.k-* file/_journal.k",
		"sync file/.tmp-_journal.k-*",
		"open file",
		"sync file",
	}
	for _, tc := range []struct {
		backend string
		set     []string
		del     []string
	}{
		{
			backend: "plaintext",
			set: []string{
				"create plaintext/.tmp-k.json-*",
				"write plaintext/.tmp-k.json-*",
				"rename plaintext/.tmp-k.json-* plaintext/k.json",
				"sync plaintext/.tmp-k.json-*",
				"open plaintext",
				"sync plaintext",
			},
			del: []string{"remove plaintext/k.json", "open plaintext", "sync plaintext"},
		},
		{
			backend: "file",
			set: append(slices.Clone(journal),
				"mkdir file/.staging-*",
				"open file/.staging-*/k",
				"sync file/.staging-*/k",
				"rename file/.staging-*/k file/k",
				"open file",
				"sync file",
				"remove file/_journal.k",
				"open file",
				"sync file",
			),
			// No journal is left after a Set: its removal finds nothing.
			del: []string{"remove file/_journal.k", "remove file/k", "open file", "sync file"},
		},
	} {
		t.Run(tc.backend, func(t *testing.T) {
			dir := t.TempDir()
			rec := &recordingFS{root: dir}
			s := openFileStore(t, tc.backend, dir, rec)
			ctx := context.Background()

			if err := s.Set(ctx, "k", []byte("v1")); err != nil {
				t.Fatal(err)
			}
			if got := rec.log(); !slices.Equal(got, tc.set) {
				t.Fatalf("Set made the calls\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(tc.set, "\n  "))
			}
			assertOnlyRecords(t, filepath.Join(dir, tc.backend), "k")

			n := len(rec.log())
			if err := s.Delete(ctx, "k"); err != nil {
				t.Fatal(err)
			}
			if got := rec.log()[n:]; !slices.Equal(got, tc.del) {
				t.Fatalf("Delete made the calls\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(tc.del, "\n  "))
			}
			assertOnlyRecords(t, filepath.Join(dir, tc.backend))
		})
	}
}

// storeWithOld opens backend in a new directory over a recording file
// system and stores "old" as the record of "k".
func storeWithOld(t *testing.T, backend string) (s *store, rec *recordingFS, dir string) {
	t.Helper()
	dir = t.TempDir()
	rec = &recordingFS{root: dir}
	s = openFileStore(t, backend, dir, rec)
	if err := s.Set(context.Background(), "k", []byte("old")); err != nil {
		t.Fatal(err)
	}
	return s, rec, dir
}

// replaceCalls returns the file-system calls that replacing the record
// "k" with "new", and then deleting it, makes with backend.
func replaceCalls(t *testing.T, backend string) (set, del []string) {
	t.Helper()
	ctx := context.Background()
	s, rec, _ := storeWithOld(t, backend)
	n0 := len(rec.log())
	if err := s.Set(ctx, "k", []byte("new")); err != nil {
		t.Fatal(err)
	}
	n1 := len(rec.log())
	if err := s.Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	calls := rec.log()
	return calls[n0:n1], calls[n1:]
}

// assertOnlyRecords fails unless dir holds exactly the records of keys:
// no journal, temporary file or staging directory is left behind.
func assertOnlyRecords(t *testing.T, dir string, keys ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, strings.TrimSuffix(e.Name(), ".json"))
	}
	if !slices.Equal(got, keys) {
		t.Fatalf("%s holds %q; want only the records %q", dir, got, keys)
	}
}

// Every file-system call of a Set or a Delete can fail (a full disk, an
// I/O error, a read-only remount). Each failure is reported by the call,
// nothing is left behind, and the record stays readable: the old one while
// the failure came before the new one was published (renamed into place,
// as the record or as its journal), the new one after.
func TestFileStoreDiskFailureIsReportedAndLosesNothing(t *testing.T) {
	ctx := context.Background()
	for _, backend := range []string{"plaintext", "file"} {
		setCalls, delCalls := replaceCalls(t, backend)
		published := slices.IndexFunc(setCalls, func(c string) bool { return strings.HasPrefix(c, "rename ") })

		for i, call := range setCalls {
			t.Run(fmt.Sprintf("%s/set/%s", backend, call), func(t *testing.T) {
				s, rec, dir := storeWithOld(t, backend)
				rec.failAt = len(rec.log()) + i + 1
				err := s.Set(ctx, "k", []byte("new"))
				if !errors.Is(err, errInjected) {
					t.Fatalf("Set with %q failing: %v; want the failure reported", call, err)
				}
				want := "old"
				if i > published {
					want = "new"
				}
				got, err := s.Get(ctx, "k")
				if err != nil || string(got) != want {
					t.Fatalf("after a Set whose %q failed, Get = %q, %v; want %q", call, got, err, want)
				}
				AssertNoTemporaries(t, filepath.Join(dir, backend))
			})
		}
		for i, call := range delCalls {
			t.Run(fmt.Sprintf("%s/delete/%s", backend, call), func(t *testing.T) {
				s, rec, dir := storeWithOld(t, backend)
				rec.failAt = len(rec.log()) + i + 1
				if err := s.Delete(ctx, "k"); !errors.Is(err, errInjected) {
					t.Fatalf("Delete with %q failing: %v; want the failure reported", call, err)
				}
				got, err := s.Get(ctx, "k")
				if strings.HasPrefix(call, "remove") {
					// Nothing was removed: the record is intact.
					if err != nil || string(got) != "old" {
						t.Fatalf("after a Delete whose %q failed, Get = %q, %v; want the record intact", call, got, err)
					}
				} else if !errors.Is(err, ErrNotFound) {
					t.Fatalf("after a Delete whose removal succeeded but %q failed, Get = %q, %v; want ErrNotFound", call, got, err)
				}
				AssertNoTemporaries(t, filepath.Join(dir, backend))
			})
		}
	}
}

// A record that is not there is read without the password, but a record
// that is there makes the read start deriving the journal key, so the write
// that follows the read (a refresh) does not spend its PBKDF2 time after
// the token endpoint has already rotated the refresh token.
func TestFileStoreReadStartsTheJournalKey(t *testing.T) {
	dir := t.TempDir()
	s := openFileStore(t, "file", dir, osFS{})
	be := s.be.(*fileBackend)
	if _, err := s.Get(context.Background(), "missing"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get of a missing record: %v", err)
	}
	if be.jk.done != nil {
		t.Fatal("reading a missing record started the journal key (it needs no password)")
	}

	other := openFileStore(t, "file", dir, osFS{})
	if err := other.Set(context.Background(), "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Get(context.Background(), "k"); err != nil || !bytes.Equal(got, []byte("v")) {
		t.Fatalf("Get = %q, %v", got, err)
	}
	if be.jk.done == nil {
		t.Fatal("reading a stored record did not start deriving the journal key")
	}
	<-be.jk.done
	if be.jk.err != nil || be.jk.aead == nil {
		t.Fatalf("journal key: %v", be.jk.err)
	}
}

// A store opened by another process removes the temporary files and
// staging directories no live writer holds. One that a writer has created
// but not yet locked looks like that; whichever of them the opener
// removes, the write still succeeds (with a new one) and the record is the
// new one. Before this was handled, the write failed, and a refresh token
// the provider had just rotated was lost with it.
func TestFileStoreWriteSurvivesAStoreOpenedBeforeItLocks(t *testing.T) {
	ctx := context.Background()
	for _, backend := range []string{"plaintext", "file"} {
		setCalls, _ := replaceCalls(t, backend)
		for i, call := range setCalls {
			if !strings.HasPrefix(call, "create ") && !strings.HasPrefix(call, "mkdir ") {
				continue
			}
			t.Run(backend+"/"+call, func(t *testing.T) {
				s, rec, dir := storeWithOld(t, backend)
				target := len(rec.log()) + i + 1
				removed := false
				rec.after = func(n int, path string) {
					if n != target {
						return
					}
					// What another process's Open does at this instant.
					if err := prepareDir(dir, filepath.Join(dir, backend)); err != nil {
						t.Error(err)
					}
					_, err := os.Lstat(path)
					removed = errors.Is(err, os.ErrNotExist)
				}
				if err := s.Set(ctx, "k", []byte("new")); err != nil {
					t.Fatalf("Set while another process opened the store: %v", err)
				}
				if !removed {
					t.Fatalf("the opener did not remove the unlocked %s; the test no longer tests the race", call)
				}
				if got, err := s.Get(ctx, "k"); err != nil || string(got) != "new" {
					t.Fatalf("Get = %q, %v; want the new record", got, err)
				}
				AssertNoTemporaries(t, filepath.Join(dir, backend))
			})
		}
	}
}

// The other order of the same race: the opener locks a staging directory
// the writer has just created (to remove it) before the writer could lock
// it, and removes it while the writer would be using it. The writer must
// not use a staging directory it could not lock.
func TestFileStoreWriteDoesNotUseAStagingDirItCouldNotLock(t *testing.T) {
	ctx := context.Background()
	s, rec, dir := storeWithOld(t, "file")
	var taken string
	var release func()
	rec.after = func(_ int, path string) {
		switch {
		case taken == "" && strings.Contains(path, ".staging-") && filepath.Base(filepath.Dir(path)) == "file":
			// The opener's lockLeftover, in the writer's window.
			taken, release = path, lockLeftover(path)
			if release == nil {
				t.Error("could not lock the new staging directory")
			}
		case taken != "" && release != nil && strings.HasPrefix(path, taken+string(filepath.Separator)):
			// The opener's RemoveAll and unlock, while the writer uses it.
			_ = os.RemoveAll(taken)
			release()
			release = nil
		}
	}
	if err := s.Set(ctx, "k", []byte("new")); err != nil {
		t.Fatalf("Set while another process was removing its staging directory: %v", err)
	}
	if release != nil {
		// The opener finishes with the directory the writer left to it.
		_ = os.RemoveAll(taken)
		release()
	}
	if got, err := s.Get(ctx, "k"); err != nil || string(got) != "new" {
		t.Fatalf("Get = %q, %v; want the new record", got, err)
	}
	AssertNoTemporaries(t, filepath.Join(dir, "file"))
}
