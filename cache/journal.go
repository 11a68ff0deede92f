package cache

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// The encrypted file backend writes a record through 99designs/keyring,
// which derives a new key (PBKDF2) for every write: several milliseconds in
// which a killed process would lose a refresh token the provider has
// already rotated. So a record is first written to a journal, sealed with
// AES-256-GCM under a key derived once per process (before the token
// request, while the record is read), then to the keyring file, and the
// journal is removed. A journal left by a crash is newer than the record
// next to it and is what Get returns until the next Set.

// journalPrefix starts a journal's file name; no record key starts with it
// (dirKeys skips it).
const journalPrefix = "_journal."

// journalIterations is the PBKDF2-SHA256 cost of the journal key, the same
// as the keyring files' (jose2go's PBES2 p2c).
const journalIterations = 8192

type journalFile struct {
	Version int    `json:"version"`
	Salt    []byte `json:"salt"`
	Nonce   []byte `json:"nonce"`
	Sealed  []byte `json:"sealed"`
}

// journalKey derives this process's journal key once, in the background
// from the first read on (so a later write does not wait for it).
type journalKey struct {
	once sync.Once
	done chan struct{}
	salt []byte
	aead cipher.AEAD
	err  error
}

func (j *journalKey) start(password func() (string, error)) {
	j.once.Do(func() {
		j.done = make(chan struct{})
		go func() {
			defer close(j.done)
			pw, err := password()
			if err != nil {
				j.err = err
				return
			}
			j.salt = make([]byte, 16)
			_, _ = rand.Read(j.salt)
			j.aead, j.err = deriveAEAD(pw, j.salt)
		}()
	})
}

func (j *journalKey) get(password func() (string, error)) (cipher.AEAD, []byte, error) {
	j.start(password)
	<-j.done
	return j.aead, j.salt, j.err
}

func deriveAEAD(password string, salt []byte) (cipher.AEAD, error) {
	key, err := pbkdf2.Key(sha256.New, password, salt, journalIterations, 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func (b *fileBackend) journalPath(key string) string {
	return filepath.Join(b.dir, journalPrefix+key)
}

// writeJournal seals value for key and puts it in place atomically.
func (b *fileBackend) writeJournal(key string, value []byte) error {
	aead, salt, err := b.jk.get(b.o.password)
	if err != nil {
		return err
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return err
	}
	raw, err := json.Marshal(journalFile{Version: 1, Salt: salt, Nonce: nonce, Sealed: aead.Seal(nil, nonce, value, []byte(key))})
	if err != nil {
		return err
	}
	return b.files.writeAtomic(b.dir, journalPrefix+key, raw)
}

// readJournal returns the journaled value of key, or an error matching
// fs.ErrNotExist when there is none.
func (b *fileBackend) readJournal(key string) ([]byte, error) {
	raw, err := os.ReadFile(b.journalPath(key))
	if err != nil {
		return nil, err
	}
	var jf journalFile
	if err := json.Unmarshal(raw, &jf); err != nil || jf.Version != 1 {
		return nil, fmt.Errorf("cache: file: the journal %s is damaged: delete it", b.journalPath(key))
	}
	pw, err := b.o.password()
	if err != nil {
		return nil, err
	}
	aead, err := deriveAEAD(pw, jf.Salt)
	if err != nil {
		return nil, err
	}
	if len(jf.Nonce) != aead.NonceSize() {
		return nil, errors.New("cache: file: the journal's nonce is damaged")
	}
	v, err := aead.Open(nil, jf.Nonce, jf.Sealed, []byte(key))
	if err != nil {
		return nil, fmt.Errorf("cache: file: cannot decrypt %s: wrong password (%s) or a damaged file: %w", b.journalPath(key), FilePasswordEnv, err)
	}
	return v, nil
}
