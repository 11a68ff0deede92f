//go:build unix

package fdsource_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"syscall"

	"github.com/credchain/credchain/fdsource"
	"github.com/credchain/credchain/resolver"
)

// A CI job starts the program as
//
//	CLAUDE_CODE_OAUTH_TOKEN_FILE_DESCRIPTOR=3 app 3<token-file
//
// Here a pipe stands in for the inherited descriptor, and a map for the
// environment.
func ExampleNew() {
	// A raw pipe: the source owns the read end and closes it after reading.
	var p [2]int
	if err := syscall.Pipe(p[:]); err != nil {
		fmt.Println(err)
		return
	}
	w := os.NewFile(uintptr(p[1]), "writer")
	go func() {
		fmt.Fprintln(w, "sk-ant-oat01-example-token-0123")
		w.Close()
	}()
	fd := p[0]
	env := map[string]string{"CLAUDE_CODE_OAUTH_TOKEN_FILE_DESCRIPTOR": strconv.Itoa(fd)}
	src := fdsource.New("oauth-token-fd", "CLAUDE_CODE_OAUTH_TOKEN_FILE_DESCRIPTOR", resolver.KindBearer,
		func(k string) string { return env[k] })

	res, err := resolver.New(context.Background(), resolver.Config{Sources: []resolver.Source{src}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer res.Close()
	cred, err := res.Resolve(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(cred.Source, cred.Kind, cred.Masked())
	// Output: oauth-token-fd bearer ****0123
}
