package gcp_test

import (
	"context"
	"fmt"
	"net/http"

	"github.com/credchain/credchain/providers/gcp"
	"github.com/credchain/credchain/resolver"
)

func ExampleNew() {
	src := gcp.New(gcp.Options{Enabled: true, Project: "my-project", Region: "us-east5"})
	fmt.Println(src.Name(), src.Probe() == nil, src.Describe()["project"], src.Describe()["region"])
	// Output: vertex true my-project us-east5
}

// A Vertex client: tokens come from application default credentials and
// are sent as Authorization: Bearer by the resolver's transport.
func ExampleSource_Fetch() {
	r, err := resolver.New(context.Background(), resolver.Config{
		Sources: []resolver.Source{gcp.New(gcp.Options{})},
	})
	if err != nil {
		panic(err)
	}
	defer r.Close()
	client := &http.Client{Transport: r.Transport(nil)}
	_ = client // POST https://us-east5-aiplatform.googleapis.com/v1/projects/…:rawPredict
}
