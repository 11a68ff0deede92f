package testenv

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// ProcStat is what /proc/<pid>/stat says about one process (Linux).
type ProcStat struct {
	PID   int
	State byte // R, S, D, Z, T, …
	PPID  int
	PGID  int
}

// ReadProcStat parses /proc/<pid>/stat. The command name may contain spaces
// and parentheses, so the fields are taken after its last ')'.
func ReadProcStat(pid int) (ProcStat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return ProcStat{}, err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return ProcStat{}, os.ErrInvalid
	}
	f := strings.Fields(string(b[i+2:]))
	if len(f) < 3 || len(f[0]) != 1 {
		return ProcStat{}, os.ErrInvalid
	}
	st := ProcStat{PID: pid, State: f[0][0]}
	st.PPID, _ = strconv.Atoi(f[1])
	st.PGID, _ = strconv.Atoi(f[2])
	return st, nil
}

// ProcessGroup lists the live (not zombie) processes whose process group is
// pgid, by scanning /proc.
func ProcessGroup(pgid int) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		st, err := ReadProcStat(pid)
		if err != nil || st.PGID != pgid || st.State == 'Z' {
			continue
		}
		out = append(out, pid)
	}
	return out
}

// ProcessGone reports whether pid has exited: it is absent or a zombie
// (an orphan may stay a zombie when PID 1 does not reap).
func ProcessGone(pid int) bool {
	st, err := ReadProcStat(pid)
	return err != nil || st.State == 'Z'
}

// WaitProcessGroupGone polls, up to timeout, until no live process is left
// in process group pgid, and fails the test naming the survivors otherwise.
// Polling is right here: a killed process's exit is not observable from an
// unrelated process by any other means.
func WaitProcessGroupGone(t testing.TB, pgid int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		left := ProcessGroup(pgid)
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			var desc []string
			for _, pid := range left {
				desc = append(desc, strconv.Itoa(pid)+" "+Cmdline(pid))
			}
			t.Fatalf("testenv: process group %d still has live processes after %v: %s", pgid, timeout, strings.Join(desc, "; "))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// WaitProcessesGone polls, up to timeout, until every pid has exited, and
// fails the test naming the survivors otherwise.
func WaitProcessesGone(t testing.TB, pids []int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var left []string
		for _, pid := range pids {
			if !ProcessGone(pid) {
				left = append(left, strconv.Itoa(pid)+" "+Cmdline(pid))
			}
		}
		if len(left) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("testenv: processes still running after %v: %s", timeout, strings.Join(left, "; "))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Cmdline returns /proc/<pid>/cmdline with its NUL separators shown as
// spaces ("" when the process is gone).
func Cmdline(pid int) string {
	b, _ := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	return strings.TrimRight(strings.ReplaceAll(string(b), "\x00", " "), " ")
}

// Environ returns /proc/<pid>/environ, one "NAME=value" per element (nil
// when the process is gone or not ours).
func Environ(pid int) []string {
	b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "environ"))
	if err != nil || len(b) == 0 {
		return nil
	}
	return strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
}
