// Command awschild is the long-running AWS SDK program of credchain's exec
// --serve test. Started once by credchain exec --serve, it checks that the
// container-credentials endpoint refuses requests without the run's token,
// then reads credentials through the SDK's default chain until it has seen
// the keys change twice: proof that it gets refreshed keys without a
// restart. It prints each new access key id and exits 0, or exits 1 with
// the reason.
package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "awschild:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, v := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"} {
		if os.Getenv(v) != "" {
			return fmt.Errorf("%s is in the environment; exec --serve must not export keys", v)
		}
	}
	uri := os.Getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI")
	if uri == "" || os.Getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN") == "" {
		return fmt.Errorf("AWS_CONTAINER_CREDENTIALS_FULL_URI or AWS_CONTAINER_AUTHORIZATION_TOKEN is missing")
	}
	for _, auth := range []string{"", "wrong-token"} {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			return fmt.Errorf("a request with Authorization %q got HTTP %d, want 401", auth, resp.StatusCode)
		}
	}
	fmt.Println("refused: no token, wrong token")

	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return err
	}
	var last string
	seen := 0
	for seen < 3 {
		c, err := cfg.Credentials.Retrieve(ctx)
		if err != nil {
			return fmt.Errorf("after %d keys: %w", seen, err)
		}
		if c.AccessKeyID != last {
			last = c.AccessKeyID
			seen++
			fmt.Printf("key %s source %s expires %v\n", c.AccessKeyID, c.Source, c.CanExpire)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("saw only %d distinct keys: %w", seen, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}
