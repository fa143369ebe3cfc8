package main

import (
	"bytes"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tundra-net/tundra/tls"
)

// TestDemoOverTundraStacks runs TLS over tundra's own TCP: two stacks on an
// in-memory link, two connections, the second resumed.
func TestDemoOverTundraStacks(t *testing.T) {
	var out, traceOut bytes.Buffer
	if err := runDemo(&out, tls.NewTrace(&traceOut), nil); err != nil {
		t.Fatal(err)
	}
	want := "connection 1\necho: hello 1\nresumed: false\nconnection 2\necho: hello 2\nresumed: true\n"
	if out.String() != want {
		t.Errorf("output:\n%s\nwant:\n%s", &out, want)
	}
	trace := traceOut.String()
	for _, s := range []string{
		"[client 198.18.0.2:", "-> 198.18.0.1:443] ClientHello sent",
		"[server 198.18.0.1:443 <- 198.18.0.2:", "ClientHello received",
		"IP:198.18.0.1", "server certificate verified", `"198.18.0.1" matches`, "session:        yes, resumed",
	} {
		if !strings.Contains(trace, s) {
			t.Errorf("trace lacks %q", s)
		}
	}
	if t.Failed() {
		t.Logf("trace:\n%s", trace)
	}
}

func TestKernelServerAndClient(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pki")
	pki, err := loadOrMakePKI(dir, []string{"localhost", "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	// A second load reads the same files back.
	again, err := loadOrMakePKI(dir, nil)
	if err != nil || !again.CA.Cert.Equal(pki.CA.Cert) {
		t.Fatalf("reload: %v", err)
	}

	for _, mtls := range []bool{false, true} {
		inner, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ln, err := tls.NewListener(inner, serverConfig(pki, mtls, nil, nil))
		if err != nil {
			t.Fatal(err)
		}
		go echoServer(ln)

		var out bytes.Buffer
		d := &tls.Dialer{Config: clientConfig(pki, mtls, nil, nil)}
		if err := echoOnce(&out, d, ln.Addr().String(), "ping"); err != nil {
			t.Fatalf("mtls=%v: %v", mtls, err)
		}
		if !strings.HasPrefix(out.String(), "echo: ping\n") {
			t.Errorf("mtls=%v: output %q", mtls, &out)
		}
		if mtls {
			// Without the client certificate the server refuses us.
			d := &tls.Dialer{Config: clientConfig(pki, false, nil, nil)}
			err := echoOnce(&out, d, ln.Addr().String(), "ping")
			if !errors.Is(err, tls.ErrNoCertificate) {
				t.Errorf("without a client certificate: %v, want ErrNoCertificate", err)
			}
		}
		ln.Close()
	}
}
