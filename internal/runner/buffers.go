package runner

import (
	"io"
	"slices"
	"strings"
	"sync"
)

// head keeps the first max bytes written and drains the rest, so the
// command never blocks on a full pipe.
type head struct {
	buf      []byte
	max      int
	overflow bool
}

func (b *head) Write(p []byte) (int, error) {
	keep := len(p)
	if room := b.max - len(b.buf); keep > room {
		keep = max(room, 0)
		b.overflow = true
	}
	b.buf = append(b.buf, p[:keep]...)
	return len(p), nil
}

// tail keeps the last max bytes written. Standard output and standard
// error may write to it from two goroutines.
type tail struct {
	mu  sync.Mutex
	buf []byte
	max int
	cut bool
}

func (b *tail) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
		b.cut = true
	}
	return len(p), nil
}

func (b *tail) bytes() ([]byte, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.buf), b.cut
}

// redactWriter passes output on with the secrets replaced. It holds back
// the last len(longest secret)-1 bytes of what it was given, the most a
// secret cut by a write boundary can have arrived of, until more output or
// flush shows whether a secret follows.
type redactWriter struct {
	mu      sync.Mutex
	w       io.Writer
	secrets []string // longest first, each at least MinSecretLen
	pending []byte
}

func (r *redactWriter) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.secrets) == 0 {
		_, err := r.w.Write(p)
		return len(p), err
	}
	r.pending = append(r.pending, p...)
	s := Redact(string(r.pending), r.secrets)
	hold := len(r.secrets[0]) - 1
	// Hold back a suffix that could be the start of a secret; never cut
	// inside a replacement that was just made.
	keep := 0
	for k := min(hold, len(s)); k > 0; k-- {
		if couldStartSecret(s[len(s)-k:], r.secrets) {
			keep = k
			break
		}
	}
	out := s[:len(s)-keep]
	r.pending = append(r.pending[:0], s[len(s)-keep:]...)
	if out == "" {
		return len(p), nil
	}
	_, err := io.WriteString(r.w, out)
	return len(p), err
}

// flush writes what was held back.
func (r *redactWriter) flush() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.pending) > 0 {
		_, _ = r.w.Write(r.pending)
		r.pending = nil
	}
}

// couldStartSecret reports whether s is a proper prefix of a secret.
func couldStartSecret(s string, secrets []string) bool {
	for _, sec := range secrets {
		if len(s) < len(sec) && strings.HasPrefix(sec, s) {
			return true
		}
	}
	return false
}

// longestFirst returns the distinct secrets of at least MinSecretLen
// bytes, longest first.
func longestFirst(secrets []string) []string {
	var out []string
	for _, s := range secrets {
		if len(s) >= MinSecretLen && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	slices.SortFunc(out, func(a, b string) int { return len(b) - len(a) })
	return out
}
