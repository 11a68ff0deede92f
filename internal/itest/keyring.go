//go:build unix && integration

package itest

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// keyringSetup is the hint every keyring helper gives when a program is
// missing.
const keyringSetup = "apt-get install gnome-keyring libsecret-tools pass keyutils dbus gnupg; .ci/setup.d/10-keyring.sh installs them"

// shortTempDir is a private directory with a short path: a Unix socket path
// (the bus, gpg-agent) must stay under 108 bytes, and t.TempDir's paths grow
// with the test's name.
func shortTempDir(t testing.TB, prefix string) string {
	t.Helper()
	d, err := os.MkdirTemp("", prefix)
	if err != nil {
		t.Fatalf("itest: %v", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(d) })
	return d
}

// startGroup starts cmd in its own process group and kills that group, then
// reaps cmd, when the test ends.
func startGroup(t testing.TB, cmd *exec.Cmd) {
	t.Helper()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("itest: starting %s: %v", cmd.Path, err)
	}
	pid := cmd.Process.Pid
	t.Cleanup(func() {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		_ = cmd.Wait()
	})
}

// SecretService starts a private D-Bus session bus (no service activation,
// so nothing else is ever started on it) and a gnome-keyring-daemon on it
// whose "login" keyring is created and unlocked, checks with secret-tool
// that it answers, and returns the bus address. Both processes are killed
// when the test ends. The daemon's HOME is a fresh existing directory:
// without one every client call hangs for two minutes.
//
// A program that imports github.com/99designs/keyring decides at start-up
// whether the Secret Service exists, so the code under test must run in a
// process started with DBUS_SESSION_BUS_ADDRESS set to the returned address.
func SecretService(t testing.TB) string {
	t.Helper()
	dbusDaemon := RequireCommand(t, "dbus-daemon", keyringSetup)
	gkd := RequireCommand(t, "gnome-keyring-daemon", keyringSetup)
	secretTool := RequireCommand(t, "secret-tool", keyringSetup)

	home := shortTempDir(t, "cc-ss-")
	run := filepath.Join(home, "run")
	for _, d := range []string{run, filepath.Join(home, ".cache"), filepath.Join(home, ".local", "share"), filepath.Join(home, ".config")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatalf("itest: %v", err)
		}
	}
	conf := filepath.Join(home, "bus.conf")
	if err := os.WriteFile(conf, []byte(`<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path=`+filepath.Join(run, "bus")+`</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
`), 0o600); err != nil {
		t.Fatalf("itest: %v", err)
	}
	env := append(os.Environ(), "HOME="+home, "XDG_RUNTIME_DIR="+run,
		"XDG_CACHE_HOME="+filepath.Join(home, ".cache"), "XDG_DATA_HOME="+filepath.Join(home, ".local", "share"),
		"XDG_CONFIG_HOME="+filepath.Join(home, ".config"))

	bus := exec.Command(dbusDaemon, "--config-file="+conf, "--nofork", "--print-address=1")
	bus.Env = env
	out, err := bus.StdoutPipe()
	if err != nil {
		t.Fatalf("itest: %v", err)
	}
	var busErr bytes.Buffer
	bus.Stderr = &busErr
	startGroup(t, bus)
	addrc := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		addrc <- strings.TrimSpace(line)
	}()
	var addr string
	select {
	case addr = <-addrc:
	case <-time.After(10 * time.Second):
	}
	if addr == "" {
		t.Fatalf("itest: dbus-daemon printed no address within 10s")
	}
	env = append(env, "DBUS_SESSION_BUS_ADDRESS="+addr)

	daemon := exec.Command(gkd, "--foreground", "--unlock", "--components=secrets")
	daemon.Env = env
	daemon.Stdin = strings.NewReader("credchain-test-keyring") // the login keyring's password, never in argv
	var daemonOut bytes.Buffer
	daemon.Stdout, daemon.Stderr = &daemonOut, &daemonOut
	startGroup(t, daemon)

	// The daemon takes its bus name shortly after it starts; with no
	// activation on this bus a call fails fast until then.
	deadline := time.Now().Add(10 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		probe := exec.CommandContext(ctx, secretTool, "store", "--label=credchain probe", "credchain-probe", "probe")
		probe.Env = env
		probe.Stdin = strings.NewReader("probe")
		msg, err := probe.CombinedOutput()
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("itest: the Secret Service (gnome-keyring-daemon) did not answer within 10s: secret-tool: %v: %s", err, msg)
		}
		time.Sleep(50 * time.Millisecond) // polling an external daemon becoming ready
	}
	clr := exec.Command(secretTool, "clear", "credchain-probe", "probe")
	clr.Env = env
	if msg, err := clr.CombinedOutput(); err != nil {
		t.Fatalf("itest: secret-tool clear: %v: %s", err, msg)
	}
	return addr
}

// PassStore makes a throwaway password store for the pass backend: a new
// GNUPGHOME with a key that has no passphrase, `pass init` with it in a new
// PASSWORD_STORE_DIR, both exported with t.Setenv. The gpg-agent started for
// that GNUPGHOME is killed when the test ends. It returns the store
// directory.
func PassStore(t testing.TB) string {
	t.Helper()
	gpg := RequireCommand(t, "gpg", keyringSetup)
	gpgconf := RequireCommand(t, "gpgconf", keyringSetup)
	pass := RequireCommand(t, "pass", keyringSetup)

	gnupg := shortTempDir(t, "cc-gpg-")
	if err := os.Chmod(gnupg, 0o700); err != nil {
		t.Fatalf("itest: %v", err)
	}
	t.Setenv("GNUPGHOME", gnupg)
	t.Cleanup(func() {
		kill := exec.Command(gpgconf, "--kill", "gpg-agent")
		kill.Env = append(os.Environ(), "GNUPGHOME="+gnupg)
		_ = kill.Run()
	})
	runCmd := func(name string, args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, name, args...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("itest: %s %s: %v: %s", filepath.Base(name), strings.Join(args, " "), err, stderr.String())
		}
		return string(out)
	}
	runCmd(gpg, "--batch", "--quiet", "--pinentry-mode", "loopback", "--passphrase", "",
		"--quick-gen-key", "credchain test <credchain-test@example.invalid>", "default", "default", "never")
	var fpr string
	for _, line := range strings.Split(runCmd(gpg, "--batch", "--list-secret-keys", "--with-colons"), "\n") {
		if f := strings.Split(line, ":"); len(f) > 9 && f[0] == "fpr" {
			fpr = f[9]
			break
		}
	}
	if fpr == "" {
		t.Fatalf("itest: gpg generated no key in %s", gnupg)
	}
	store := t.TempDir()
	t.Setenv("PASSWORD_STORE_DIR", store)
	runCmd(pass, "init", fpr)
	return store
}

// KeyCtl fails the test unless the kernel keyring is usable (keyctl present
// and the syscalls allowed).
func KeyCtl(t testing.TB) {
	t.Helper()
	keyctl := RequireCommand(t, "keyctl", keyringSetup)
	if out, err := exec.Command(keyctl, "show", "@s").CombinedOutput(); err != nil {
		t.Fatalf("itest: the kernel keyring is not usable here (keyctl show @s: %v: %s); a container needs keyctl allowed by its seccomp profile", err, out)
	}
}
