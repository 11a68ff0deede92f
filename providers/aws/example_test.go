package aws_test

import (
	"context"
	"fmt"
	"net/http"

	"github.com/credchain/credchain/providers/aws"
	"github.com/credchain/credchain/resolver"
)

func ExampleNew() {
	src := aws.New(aws.Options{Enabled: true, Region: "us-east-1", Profile: "bedrock"})
	fmt.Println(src.Name(), src.Probe() == nil, src.Describe()["region"], src.Describe()["profile"])
	// Output: bedrock true us-east-1 bedrock
}

// A Bedrock client: the resolver keeps the AWS credentials fresh and the
// Signer signs every request (and every retry) with SigV4.
func ExampleNewSigner() {
	r, err := resolver.New(context.Background(), resolver.Config{
		Sources: []resolver.Source{aws.New(aws.Options{Region: "us-east-1"})},
		Signers: map[resolver.Kind]resolver.Signer{resolver.KindAWS: aws.NewSigner()},
	})
	if err != nil {
		panic(err)
	}
	defer r.Close()
	client := &http.Client{Transport: r.Transport(nil)}
	_ = client // POST https://bedrock-runtime.us-east-1.amazonaws.com/model/…/invoke
}
