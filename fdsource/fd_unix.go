//go:build unix

package fdsource

import (
	"errors"
	"io"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// read drains the descriptor itself — a socket from a socketpair cannot be
// re-opened through /proc/self/fd — and closes it, so the secret cannot be
// read again by this process or leak to a child it starts later.
func (s *Source) read(fd int) ([]byte, error) {
	n := strconv.Itoa(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		if errors.Is(err, unix.EBADF) {
			return nil, s.fail(ErrNotOpen, err,
				"descriptor "+n+" is not open in this process",
				"start the program with the descriptor open, e.g. "+s.variable+"="+n+" app "+n+"<secret-file (a parent process must not mark it close-on-exec)")
		}
		return nil, s.fail(ErrNotReadable, err, "cannot inspect descriptor "+n, "pass a pipe, socket or file open for reading")
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG, unix.S_IFIFO, unix.S_IFSOCK, unix.S_IFCHR:
	default:
		// An epoll, event or directory descriptor is not a secret; closing
		// one the Go runtime opened itself would break the process.
		return nil, s.fail(ErrNotReadable, nil,
			"descriptor "+n+" is not a file, pipe, socket or character device (it is not one the program inherited for this purpose)",
			"check the number: start the program as "+s.variable+"="+n+" app "+n+"<secret-file")
	}
	target := fd
	if fd <= 2 {
		// Standard streams stay open: closing one would let the next file
		// the process opens take its number and receive its output.
		d, err := unix.Dup(fd)
		if err != nil {
			return nil, s.fail(ErrNotReadable, err, "cannot duplicate descriptor "+n, "pass the secret on a descriptor numbered 3 or higher")
		}
		unix.CloseOnExec(d)
		target = d
	}
	f := os.NewFile(uintptr(target), s.variable)
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, s.fail(ErrNotReadable, err,
			"reading descriptor "+n+" failed",
			"open it for reading ("+n+"<file, not "+n+">file) and keep the writer side for the secret only")
	}
	if len(data) > MaxSize {
		return nil, s.fail(ErrTooLarge, nil,
			"descriptor "+n+" held more than "+strconv.Itoa(MaxSize)+" bytes",
			"write only the secret into the descriptor")
	}
	return data, nil
}

// closeOnExec keeps an unread descriptor out of child processes. A
// descriptor that is not open is left for read to report.
func closeOnExec(fd int) { unix.CloseOnExec(fd) }
