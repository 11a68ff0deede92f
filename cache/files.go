package cache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/credchain/credchain/cache/internal/keyring"
)

// plainRecord is one plaintext file: the record bytes (base64 in JSON)
// with a version, so a later credchain can migrate the format.
type plainRecord struct {
	Version int    `json:"version"`
	Key     string `json:"key"`
	Data    []byte `json:"data"`
}

const plainVersion = 1

// plaintextBackend keeps one JSON file per key, 0600 in a 0700 directory,
// replaced atomically.
type plaintextBackend struct {
	dir   string
	files files
}

func (b *plaintextBackend) path(key string) string { return filepath.Join(b.dir, key+".json") }

func (b *plaintextBackend) get(key string) ([]byte, error) {
	p := b.path(key)
	raw, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	var rec plainRecord
	if err := json.Unmarshal(raw, &rec); err != nil {
		// The syntax error is left out: it quotes the file's content.
		return nil, fmt.Errorf("cache: plaintext: %s is not a valid record file: delete it (or run `credchain logout`) and sign in again", p)
	}
	if rec.Version != plainVersion {
		return nil, fmt.Errorf("cache: plaintext: %s has version %d; this credchain reads version %d (upgrade credchain)", p, rec.Version, plainVersion)
	}
	if rec.Key != key {
		return nil, fmt.Errorf("cache: plaintext: %s holds the record of %q, not %q: delete it", p, rec.Key, key)
	}
	return rec.Data, nil
}

func (b *plaintextBackend) set(key string, value []byte) error {
	raw, err := json.Marshal(plainRecord{Version: plainVersion, Key: key, Data: value})
	if err != nil {
		return err
	}
	return b.files.writeAtomic(b.dir, key+".json", raw)
}

func (b *plaintextBackend) del(key string) error { return b.files.removeSync(b.dir, b.path(key)) }

func openPlaintext(ctx context.Context, o *options, name string) (*store, error) {
	dir := filepath.Join(o.Dir, "plaintext")
	if _, err := timeBox(ctx, o.Timeout, nil, func() ([]byte, error) { return nil, prepareDir(o.Dir, dir) }); err != nil {
		return nil, fmt.Errorf("plaintext: store directory %s: %w", dir, err)
	}
	s := newStore(o, name, &plaintextBackend{dir: dir, files: files{o.fs}}, false)
	s.info["path"] = dir
	s.info["encrypted"] = "no"
	return s, nil
}

// fileBackend is 99designs/keyring's encrypted file backend (JOSE,
// PBES2-HS256+A128KW / A256GCM, one file per key, compatible with other
// programs using that library) with atomic replacement: the library writes
// into a private staging directory next to the records and the finished file
// is renamed over the old one.
type fileBackend struct {
	dir   string
	o     *options
	jk    journalKey
	files files
}

func (b *fileBackend) keyring(dir string) (keyring.Keyring, error) {
	pw, err := b.o.password()
	if err != nil {
		return nil, err
	}
	return keyring.Open(keyring.Config{
		AllowedBackends:  []keyring.BackendType{keyring.FileBackend},
		FileDir:          dir,
		FilePasswordFunc: keyring.FixedStringPrompt(pw),
	})
}

// prepare asks for the password outside the time box, and only when it
// will be needed: reading a missing record or deleting needs none.
func (b *fileBackend) prepare(op, key string) error {
	switch op {
	case "delete":
		return nil
	case "get":
		if _, err := os.Stat(filepath.Join(b.dir, key)); errors.Is(err, fs.ErrNotExist) {
			if _, err := os.Stat(b.journalPath(key)); errors.Is(err, fs.ErrNotExist) {
				return nil
			}
		}
	}
	_, err := b.o.password()
	if err == nil {
		// A read comes before the refresh that writes: derive the journal
		// key now, off the write's critical path.
		b.jk.start(b.o.password)
	}
	return err
}

func (b *fileBackend) get(key string) ([]byte, error) {
	if v, err := b.readJournal(key); !errors.Is(err, fs.ErrNotExist) {
		return v, err
	}
	p := filepath.Join(b.dir, key)
	if _, err := os.Stat(p); err != nil {
		return nil, err
	}
	kr, err := b.keyring(b.dir)
	if err != nil {
		return nil, err
	}
	it, err := kr.Get(key)
	if err != nil {
		if isNotFound(err) {
			return nil, err
		}
		return nil, fmt.Errorf("cache: file: cannot decrypt %s: wrong password (%s) or a damaged file: %w", p, FilePasswordEnv, err)
	}
	return it.Data, nil
}

func (b *fileBackend) set(key string, value []byte) error {
	if err := b.writeJournal(key, value); err != nil {
		return err
	}
	staging, unlock, err := b.files.stagingDir(b.dir)
	if err != nil {
		return err
	}
	defer os.RemoveAll(staging)
	defer unlock()
	kr, err := b.keyring(staging)
	if err != nil {
		return err
	}
	if err := kr.Set(keyring.Item{Key: key, Data: value}); err != nil {
		return err
	}
	tmp := filepath.Join(staging, key)
	if err := b.files.syncFile(tmp); err != nil {
		return err
	}
	if err := b.files.fs.rename(tmp, filepath.Join(b.dir, key)); err != nil {
		return err
	}
	if err := b.files.syncDir(b.dir); err != nil {
		return err
	}
	return b.files.removeSync(b.dir, b.journalPath(key))
}

func (b *fileBackend) del(key string) error {
	if err := b.files.removeSync(b.dir, b.journalPath(key)); err != nil {
		return err
	}
	return b.files.removeSync(b.dir, filepath.Join(b.dir, key))
}

func openFile(ctx context.Context, o *options, name string) (*store, error) {
	dir := filepath.Join(o.Dir, "file")
	if _, err := timeBox(ctx, o.Timeout, nil, func() ([]byte, error) { return nil, prepareDir(o.Dir, dir) }); err != nil {
		return nil, fmt.Errorf("file: store directory %s: %w", dir, err)
	}
	s := newStore(o, name, &fileBackend{dir: dir, o: o, files: files{o.fs}}, false)
	s.info["path"] = dir
	s.info["encrypted"] = "yes (password from " + FilePasswordEnv + " or a prompt)"
	return s, nil
}

// prepareDir creates the store directory and a private subdirectory of it
// (0700, tightened if it exists with looser permissions), refuses a store
// directory another user could change, and removes temporary files a
// crashed writer left behind (at once, unless a live writer holds them:
// they may hold a cleartext record).
func prepareDir(base, dir string) error {
	if err := os.MkdirAll(base, 0o700); err != nil {
		return err
	}
	if err := checkTrusted(base); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory", dir)
	}
	if err := checkOwner(dir, fi); err != nil {
		return err
	}
	if fi.Mode().Perm() != 0o700 {
		if err := os.Chmod(dir, 0o700); err != nil {
			return err
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), ".tmp-") && !strings.HasPrefix(e.Name(), ".staging-") {
			continue
		}
		p := filepath.Join(dir, e.Name())
		if unlock := lockLeftover(p); unlock != nil {
			_ = os.RemoveAll(p)
			unlock()
		}
	}
	return nil
}

// fileSystem is the file-system calls whose order and errors decide
// whether a write is durable. osFS makes them; tests wrap it to record the
// order and to fail one call.
type fileSystem interface {
	createTemp(dir, pattern string) (*os.File, error)
	mkdirTemp(dir, pattern string) (string, error)
	open(name string, flag int) (*os.File, error)
	write(f *os.File, data []byte) error
	rename(oldpath, newpath string) error
	remove(name string) error
	// sync is fsync of an open file or directory.
	sync(f *os.File) error
}

type osFS struct{}

func (osFS) createTemp(dir, pattern string) (*os.File, error) { return os.CreateTemp(dir, pattern) }
func (osFS) mkdirTemp(dir, pattern string) (string, error)    { return os.MkdirTemp(dir, pattern) }
func (osFS) open(name string, flag int) (*os.File, error)     { return os.OpenFile(name, flag, 0) }
func (osFS) rename(oldpath, newpath string) error             { return os.Rename(oldpath, newpath) }
func (osFS) remove(name string) error                         { return os.Remove(name) }
func (osFS) sync(f *os.File) error                            { return f.Sync() }
func (osFS) write(f *os.File, data []byte) error {
	_, err := f.Write(data)
	return err
}

// files makes the store's writes durable over fs.
type files struct{ fs fileSystem }

// writeAtomic replaces dir/name with data so that a reader or a crash
// sees the old or the new content, never a mix: a 0600 temporary file in
// the same directory (locked while written, so the next open removes it
// only if this writer is gone), renamed into place, then fsync of the file
// and the directory. The rename comes before the fsyncs so that a killed
// process has already published the record when the slow part starts (a
// rotated refresh token must survive a kill); ext4, xfs and btrfs flush a
// file renamed over another before the rename is committed.
func (x files) writeAtomic(dir, name string, data []byte) (err error) {
	f, err := x.createLocked(dir, ".tmp-"+name+"-")
	if err != nil {
		return err
	}
	tmp := f.Name()
	renamed := false
	defer func() {
		_ = f.Close() // also releases the lock
		if err != nil && !renamed {
			_ = os.Remove(tmp)
		}
	}()
	if err = x.fs.write(f, data); err != nil {
		return err
	}
	if err = x.fs.rename(tmp, filepath.Join(dir, name)); err != nil {
		return err
	}
	renamed = true
	if err = x.fs.sync(f); err != nil {
		return err
	}
	return x.syncDir(dir)
}

// A store opened at the same moment as a write removes the temporary files
// and staging directories no live writer holds (prepareDir). Between its
// creation and its lock a writer's own file looks like that, so after
// locking the writer checks that its file is still there and, if it was
// removed, starts again with a new one.
const createAttempts = 8

// createLocked creates a temporary file in dir and locks it.
func (x files) createLocked(dir, pattern string) (*os.File, error) {
	for range createAttempts {
		f, err := x.fs.createTemp(dir, pattern)
		if err != nil {
			return nil, err
		}
		lockFile(f)
		if sameFile(f, f.Name()) {
			return f, nil
		}
		_ = f.Close()
	}
	return nil, fmt.Errorf("the temporary files of %s keep being removed by another process", dir)
}

// stagingDir creates a staging directory in dir and locks it; unlock
// releases the lock.
func (x files) stagingDir(dir string) (path string, unlock func(), err error) {
	for range createAttempts {
		path, err := x.fs.mkdirTemp(dir, ".staging-")
		if err != nil {
			return "", nil, err
		}
		if unlock := lockLeftover(path); unlock != nil {
			if _, err := os.Lstat(path); err == nil {
				return path, unlock, nil
			}
			unlock()
		}
		// Taken or removed by a store being opened: leave it to that one.
	}
	return "", nil, fmt.Errorf("the staging directories of %s keep being removed by another process", dir)
}

// sameFile reports whether path still names the open file f.
func sameFile(f *os.File, path string) bool {
	fi, err := f.Stat()
	if err != nil {
		return false
	}
	pi, err := os.Lstat(path)
	return err == nil && os.SameFile(fi, pi)
}

func (x files) syncFile(path string) error {
	f, err := x.fs.open(path, os.O_RDWR)
	if err != nil {
		return err
	}
	if err := x.fs.sync(f); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// syncDir makes a rename or remove in dir durable.
func (x files) syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil // directories cannot be opened for fsync there; rename is durable
	}
	d, err := x.fs.open(dir, os.O_RDONLY)
	if err != nil {
		return err
	}
	if err := x.fs.sync(d); err != nil {
		_ = d.Close()
		return err
	}
	return d.Close()
}

func (x files) removeSync(dir, path string) error {
	if err := x.fs.remove(path); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	return x.syncDir(dir)
}
