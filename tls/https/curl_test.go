package https_test

import (
	"context"
	"fmt"
	"net"
	nethttp "net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	tundrahttp "github.com/tundra-net/tundra/http"
	"github.com/tundra-net/tundra/tls"
	"github.com/tundra-net/tundra/tls/https"
)

// TestCurlWithCACert is the promise of the certificate helpers: the CA
// written to ca.pem is all curl needs to trust our HTTPS server, with and
// without a client certificate.
func TestCurlWithCACert(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl is not installed; skipping")
	}
	dir := t.TempDir()
	path := func(name string) string { return filepath.Join(dir, name) }
	ca := must(tls.NewCA("curl test CA"))
	server := must(ca.IssueServer("localhost", "127.0.0.1"))
	client := must(ca.IssueClient("curl"))
	for _, err := range []error{
		ca.WriteFiles(path("ca.pem"), path("ca-key.pem")),
		client.WriteFiles(path("client.pem"), path("client-key.pem")),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}

	handler := nethttp.HandlerFunc(func(w nethttp.ResponseWriter, r *nethttp.Request) {
		who := "anonymous"
		if len(r.TLS.PeerCertificates) > 0 {
			who = r.TLS.PeerCertificates[0].Subject.CommonName
		}
		fmt.Fprintf(w, "hello, %s\n", who)
	})
	for _, tc := range []struct {
		name string
		cfg  *tls.Config
		args []string
		want string
	}{
		{"server only", &tls.Config{Certificates: []tls.Certificate{server.TLSCertificate()}}, nil, "hello, anonymous\n"},
		{"mutual TLS", &tls.Config{Certificates: []tls.Certificate{server.TLSCertificate()},
			ClientAuth: tls.RequireClientCert, ClientCAs: ca.Pool()},
			[]string{"--cert", path("client.pem"), "--key", path("client-key.pem")}, "hello, curl\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inner, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			srv := &tundrahttp.Server{Handler: handler}
			go https.Serve(srv, inner, tc.cfg)
			defer srv.Close()
			_, port, _ := net.SplitHostPort(inner.Addr().String())

			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			for _, host := range []string{"localhost", "127.0.0.1"} {
				args := append([]string{"--silent", "--show-error", "--max-time", "10",
					"--cacert", path("ca.pem"), "https://" + net.JoinHostPort(host, port) + "/"}, tc.args...)
				out, err := exec.CommandContext(ctx, curl, args...).CombinedOutput()
				if err != nil || string(out) != tc.want {
					t.Errorf("curl %s: %v: %q", host, err, out)
				}
			}
			if tc.args != nil {
				// Without the client certificate the server refuses curl.
				out, err := exec.CommandContext(ctx, curl, "--silent", "--show-error", "--max-time", "10",
					"--cacert", path("ca.pem"), "https://localhost:"+port+"/").CombinedOutput()
				if err == nil || strings.Contains(string(out), "hello") {
					t.Errorf("curl without a client certificate got %q", out)
				}
			}
		})
	}
}
