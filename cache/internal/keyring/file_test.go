package keyring

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFileKeyringSetWhenEmpty(t *testing.T) {
	k := &fileKeyring{
		dir:          os.TempDir(),
		passwordFunc: FixedStringPrompt("no more secrets"),
	}
	item := Item{Key: "llamas", Data: []byte("llamas are great")}

	if err := k.Set(item); err != nil {
		t.Fatal(err)
	}

	foundItem, err := k.Get("llamas")
	if err != nil {
		t.Fatal(err)
	}

	if string(foundItem.Data) != "llamas are great" {
		t.Fatalf("Value stored was not the value retrieved: %q", foundItem.Data)
	}

	if foundItem.Key != "llamas" {
		t.Fatalf("Key wasn't persisted: %q", foundItem.Key)
	}
}

func TestFileKeyringGetWithSlashes(t *testing.T) {
	k := &fileKeyring{
		dir:          os.TempDir(),
		passwordFunc: FixedStringPrompt("no more secrets"),
	}

	item := Item{Key: "https://aws-sso-portal.awsapps.com/start", Data: []byte("https://aws-sso-portal.awsapps.com/start")}

	if err := k.Set(item); err != nil {
		t.Fatal(err)
	}

	if err := k.Remove(item.Key); err != nil {
		t.Fatal(err)
	}
}

func TestFilenameWithBadChars(t *testing.T) {
	a := `abc/.././123`
	e := filenameEscape(a)
	if e != `abc%2F..%2F.%2F123` {
		t.Fatalf("Unexpected result from filenameEscape: %s", e)
	}

	b := filenameUnescape(e)
	if b != a {
		t.Fatal("Unexpected filenameEscape")
	}
}

// countingPrompt returns a PromptFunc that answers password (or err) and
// counts how often it was asked.
func countingPrompt(password string, err error) (PromptFunc, *int) {
	n := new(int)
	return func(string) (string, error) {
		*n++
		return password, err
	}, n
}

// A directory given as "~/..." is the user's home directory: records are
// written there, not relative to the working directory.
func TestFileKeyringStoresUnderExpandedHome(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("USERPROFILE", home)
	t.Chdir(t.TempDir()) // a misresolved directory writes here, not in the source tree
	k := &fileKeyring{dir: "~/ring", passwordFunc: FixedStringPrompt("no more secrets")}

	if err := k.Set(Item{Key: "llamas", Data: []byte("great")}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(home, "ring", "llamas")); err != nil {
		t.Fatalf("the record is not in the home directory: %v", err)
	}
	if it, err := k.Get("llamas"); err != nil || string(it.Data) != "great" {
		t.Fatalf("Get = %q, %v; want the record back", it.Data, err)
	}
}

// Without a home directory, "~/..." cannot be resolved: every call fails
// rather than using some other directory.
func TestFileKeyringWithoutHomeFails(t *testing.T) {
	t.Setenv("HOME", "")
	t.Setenv("USERPROFILE", "")
	cwd := t.TempDir()
	t.Chdir(cwd)
	k := &fileKeyring{dir: "~/ring", passwordFunc: FixedStringPrompt("no more secrets")}

	if err := k.Set(Item{Key: "llamas", Data: []byte("great")}); err == nil {
		t.Error("Set succeeded without a home directory")
	}
	if _, err := k.Get("llamas"); err == nil || errors.Is(err, ErrKeyNotFound) {
		t.Errorf("Get: %v; want the home directory error", err)
	}
	if _, err := k.Keys(); err == nil {
		t.Error("Keys succeeded without a home directory")
	}
	if err := k.Remove("llamas"); err == nil {
		t.Error("Remove succeeded without a home directory")
	}
	if ents, _ := os.ReadDir(cwd); len(ents) != 0 {
		t.Errorf("wrote %d entries in the working directory", len(ents))
	}
}

// A regular file where the keyring directory should be is reported as such
// by every call, Keys included (which used to return an empty list).
func TestFileKeyringDirIsAFile(t *testing.T) {
	t.Chdir(t.TempDir()) // a misresolved directory writes here, not in the source tree
	dir := filepath.Join(t.TempDir(), "ring")
	if err := os.WriteFile(dir, []byte("not a directory"), 0o600); err != nil {
		t.Fatal(err)
	}
	k := &fileKeyring{dir: dir, passwordFunc: FixedStringPrompt("no more secrets")}
	const want = "is a file, not a directory"

	err := k.Set(Item{Key: "llamas", Data: []byte("great")})
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Set: %v; want %q", err, want)
	}
	if _, err := k.Get("llamas"); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Get: %v; want %q", err, want)
	}
	if keys, err := k.Keys(); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Keys = %q, %v; want %q", keys, err, want)
	}
	if err := k.Remove("llamas"); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Remove: %v; want %q", err, want)
	}
}

// The password is asked for once, on the first call that needs it, and
// reused: a terminal prompt must not be repeated for every record.
func TestFileKeyringPromptsOnce(t *testing.T) {
	t.Chdir(t.TempDir()) // a misresolved directory writes here, not in the source tree
	dir := t.TempDir()
	prompt, asked := countingPrompt("no more secrets", nil)
	k := &fileKeyring{dir: dir, passwordFunc: prompt}

	for _, key := range []string{"a", "b"} {
		if err := k.Set(Item{Key: key, Data: []byte("value " + key)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, key := range []string{"a", "b"} {
		if it, err := k.Get(key); err != nil || string(it.Data) != "value "+key {
			t.Fatalf("Get(%q) = %q, %v", key, it.Data, err)
		}
	}
	if *asked != 1 {
		t.Fatalf("asked for the password %d times; want once", *asked)
	}

	// The records are encrypted with that password: another keyring on the
	// directory with a wrong one cannot read them.
	wrong := &fileKeyring{dir: dir, passwordFunc: FixedStringPrompt("wrong")}
	if _, err := wrong.Get("a"); err == nil {
		t.Fatal("read a record with the wrong password")
	}
}

// A prompt that fails (the user cancelled) fails the call with its error;
// nothing is written with an empty password.
func TestFileKeyringPromptErrorIsReturned(t *testing.T) {
	t.Chdir(t.TempDir()) // a misresolved directory writes here, not in the source tree
	dir := t.TempDir()
	if err := (&fileKeyring{dir: dir, passwordFunc: FixedStringPrompt("no more secrets")}).Set(Item{Key: "old", Data: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	cancelled := errors.New("prompt cancelled")
	prompt, asked := countingPrompt("", cancelled)
	k := &fileKeyring{dir: dir, passwordFunc: prompt}

	if err := k.Set(Item{Key: "new", Data: []byte("y")}); !errors.Is(err, cancelled) {
		t.Errorf("Set: %v; want the prompt's error", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "new")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Set wrote the record despite the failed prompt (%v)", err)
	}
	if _, err := k.Get("old"); !errors.Is(err, cancelled) {
		t.Errorf("Get: %v; want the prompt's error", err)
	}
	if *asked != 2 {
		t.Errorf("asked %d times; want once per call, as no password was obtained", *asked)
	}
}

// Remove deletes the record: a later Get does not find it, and a second
// Remove reports that there is nothing to remove.
func TestFileKeyringRemoveDeletes(t *testing.T) {
	t.Chdir(t.TempDir()) // a misresolved directory writes here, not in the source tree
	k := &fileKeyring{dir: t.TempDir(), passwordFunc: FixedStringPrompt("no more secrets")}
	if err := k.Set(Item{Key: "llamas", Data: []byte("great")}); err != nil {
		t.Fatal(err)
	}
	if err := k.Remove("llamas"); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Get("llamas"); !errors.Is(err, ErrKeyNotFound) {
		t.Fatalf("Get after Remove: %v; want ErrKeyNotFound", err)
	}
	if err := k.Remove("llamas"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("second Remove: %v; want not exist", err)
	}
}
