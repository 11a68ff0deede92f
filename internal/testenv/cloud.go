package testenv

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"
)

// LoopbackDial dials only loopback addresses. Anything else fails before a
// DNS lookup, so an endpoint override a test forgot cannot reach a real
// cloud (or the instance metadata address).
func LoopbackDial(ctx context.Context, network, addr string) (net.Conn, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("testenv: dial guard: %w", err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("testenv: dial guard blocked a connection to %s (tests reach only 127.0.0.1)", addr)
	}
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

// LoopbackHTTPClient is an http.Client whose transport can reach only
// loopback addresses.
func LoopbackHTTPClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = LoopbackDial
	tr.Proxy = nil
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}
