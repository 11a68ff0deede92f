package itest

import (
	"net/http"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"

	"github.com/credchain/credchain/internal/testenv"
)

// AWSLoopbackClient is the same guard for aws-sdk-go-v2. It is an
// awshttp.BuildableClient because the SDK applies AWS_CA_BUNDLE (set on
// these machines) only to that type; any other client fails to load.
func AWSLoopbackClient() *awshttp.BuildableClient {
	return awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		tr.DialContext = testenv.LoopbackDial
		tr.Proxy = nil
	})
}
