//go:build unix

package cache

import (
	"fmt"
	"os"
	"syscall"
)

// checkTrusted refuses a store directory that another user could change
// (group or world writable) or that another user owns, as ssh refuses such
// a ~/.ssh: whoever can write there can swap records or lock files.
func checkTrusted(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	if err := checkOwner(dir, fi); err != nil {
		return err
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("store directory %s is writable by other users (mode %04o): run `chmod go-w %s` (or `chmod 700 %s`)",
			dir, fi.Mode().Perm(), dir, dir)
	}
	return nil
}

// checkOwner refuses a directory owned by another user.
func checkOwner(dir string, fi os.FileInfo) error {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if uid := os.Getuid(); int(st.Uid) != uid {
		return fmt.Errorf("store directory %s is owned by uid %d, not by you (uid %d): use a directory of your own (store.dir / CREDCHAIN_STORE_DIR), or `chown %d %s` if it is yours",
			dir, st.Uid, uid, uid, dir)
	}
	return nil
}

// lockFile takes an exclusive flock on f, best effort: it marks a
// temporary file as in use by a live writer.
func lockFile(f *os.File) {
	_ = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
}

// lockLeftover locks a temporary file or staging directory of a writer
// without waiting; nil when a live writer holds it (or it is gone).
func lockLeftover(path string) (unlock func()) {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	if err := syscall.Flock(fd, syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = syscall.Close(fd)
		return nil
	}
	return func() { _ = syscall.Close(fd) }
}
