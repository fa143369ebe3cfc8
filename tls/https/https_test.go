package https_test

import (
	"context"
	cryptotls "crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	nethttp "net/http"
	"testing"
	"time"

	tundrahttp "github.com/tundra-net/tundra/http"
	"github.com/tundra-net/tundra/tls"
	"github.com/tundra-net/tundra/tls/https"
)

// pki is a CA and a server certificate for 127.0.0.1 and localhost.
func pki(t testing.TB) (*tls.CA, tls.Certificate) {
	ca, err := tls.NewCA("https test CA")
	if err != nil {
		t.Fatal(err)
	}
	server, err := ca.IssueServer("localhost", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	return ca, server.TLSCertificate()
}

func TestServeAndClient(t *testing.T) {
	ca, cert := pki(t)
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &tundrahttp.Server{Handler: nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		if r.TLS == nil {
			io.WriteString(w, "no TLS\n")
			return
		}
		fmt.Fprintf(w, "%s over %s, ALPN %s\n", r.Proto, cryptotls.VersionName(r.TLS.Version), r.TLS.NegotiatedProtocol)
	})}
	go https.Serve(srv, inner, &tls.Config{Certificates: []tls.Certificate{cert}})
	defer srv.Close()

	client := https.NewClient(&tls.Config{RootCAs: ca.Pool()}, nil)
	client.Timeout = 10 * time.Second
	defer client.CloseIdleConnections()
	for _, host := range []string{"127.0.0.1", "localhost"} {
		_, port, _ := net.SplitHostPort(inner.Addr().String())
		resp, err := client.Get("https://" + net.JoinHostPort(host, port) + "/")
		if err != nil {
			t.Fatalf("%s: %v", host, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "HTTP/1.1 over TLS 1.3, ALPN http/1.1\n" {
			t.Errorf("%s: body %q", host, body)
		}
	}

	// A client that does not trust the CA is told why.
	stranger := https.NewClient(&tls.Config{RootCAs: must(tls.NewCA("other")).Pool()}, nil)
	_, err = stranger.Get("https://" + inner.Addr().String() + "/")
	if !errors.Is(err, tls.ErrUnknownAuthority) {
		t.Errorf("untrusting client: %v, want ErrUnknownAuthority", err)
	}
}

func TestServeRejectsBadConfig(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer inner.Close()
	if err := https.Serve(&tundrahttp.Server{}, inner, &tls.Config{}); !errors.Is(err, tls.ErrBadConfig) {
		t.Errorf("Serve without a certificate: %v, want ErrBadConfig", err)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		log.Fatal(err)
	}
	return v
}

// HTTPS with tundra's server and client. With a tundra stack, pass the
// stack's listener to Serve and its DialContext to NewClient.
func Example() {
	ca := must(tls.NewCA("example CA"))
	server := must(ca.IssueServer("localhost", "127.0.0.1"))

	inner := must(net.Listen("tcp", "127.0.0.1:0"))
	srv := &tundrahttp.Server{Handler: nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		fmt.Fprintf(w, "hello over %s\n", cryptotls.VersionName(r.TLS.Version))
	})}
	go https.Serve(srv, inner, &tls.Config{Certificates: []tls.Certificate{server.TLSCertificate()}})
	defer srv.Shutdown(context.Background())

	client := https.NewClient(&tls.Config{RootCAs: ca.Pool()}, nil)
	defer client.CloseIdleConnections()
	resp, err := client.Get("https://" + inner.Addr().String() + "/")
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Print(string(body))
	// Output:
	// hello over TLS 1.3
}
