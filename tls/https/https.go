// Package https serves and fetches HTTPS with tundra's HTTP server and
// client (package http) and its TLS layer (package tls).
//
// HTTPS is HTTP inside TLS (RFC 9110 section 4.2.2; RFC 2818): the server
// is an ordinary HTTP server on a TLS listener, and the client an ordinary
// HTTP client whose "https" connections come from a TLS dialer. Both TLS
// pieces work over any net.Listener or dial function, so the same code
// runs on the kernel's TCP and on a tundra stack. This package only joins
// them; it lives apart from package tls so that tls keeps depending on
// nothing but net.Conn.
package https

import (
	"context"
	"net"

	tundrahttp "github.com/tundra-net/tundra/http"
	"github.com/tundra-net/tundra/tls"
)

// Serve serves HTTPS with srv on connections accepted from inner (a kernel
// or tundra listener), with TLS configured by cfg. It returns when srv is
// shut down or inner fails, as http.Server.Serve does. Handlers find the
// TLS state of their connection in Request.TLS.
func Serve(srv *tundrahttp.Server, inner net.Listener, cfg *tls.Config) error {
	ln, err := tls.NewListener(inner, cfg)
	if err != nil {
		return err
	}
	return srv.Serve(ln)
}

// NewClient returns an HTTP client that opens connections with dial (nil
// means the kernel's TCP): plain for "http" URLs, wrapped in TLS with cfg
// for "https" URLs. A nil cfg trusts the system's roots.
func NewClient(cfg *tls.Config, dial func(ctx context.Context, network, addr string) (net.Conn, error)) *tundrahttp.Client {
	if dial == nil {
		var d net.Dialer
		dial = d.DialContext
	}
	d := &tls.Dialer{NetDialContext: dial, Config: cfg}
	return &tundrahttp.Client{DialContext: dial, DialTLSContext: d.DialContext}
}
