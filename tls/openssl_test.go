package tls

import (
	"bufio"
	"bytes"
	"context"
	cryptotls "crypto/tls"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// These tests check interoperability with OpenSSL on kernel loopback:
// openssl s_client verifies our server, and our client talks to openssl
// s_server. They skip when openssl is not installed.

func needOpenSSL(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl is not installed; skipping the interoperability test")
	}
	return path
}

// writePKI writes the test CA, server and client files into a new temporary
// directory and returns a function that names files in it.
func writePKI(t *testing.T, p testPKI) func(string) string {
	t.Helper()
	dir := t.TempDir()
	path := func(name string) string { return filepath.Join(dir, name) }
	for _, err := range []error{
		p.ca.WriteFiles(path("ca.pem"), path("ca-key.pem")),
		p.server.WriteFiles(path("server.pem"), path("server-key.pem")),
		p.client.WriteFiles(path("client.pem"), path("client-key.pem")),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	return path
}

// lineServer answers each connection's first line with "pong: ", the line
// and the negotiated ALPN protocol, then closes it.
func lineServer(t *testing.T, cfg *Config) net.Listener {
	t.Helper()
	return serveLoopback(t, cfg, 10*time.Second, func(c net.Conn) {
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil {
			return
		}
		alpn := c.(*Conn).ConnectionState().NegotiatedProtocol
		io.WriteString(c, "pong: "+strings.TrimSpace(line)+" alpn="+alpn+"\n")
	})
}

func TestOpenSSLClientVerifiesOurServer(t *testing.T) {
	openssl := needOpenSSL(t)
	p := newTestPKI(t)
	path := writePKI(t, p)

	for _, tc := range []struct {
		name     string
		server   func() *Config
		args     []string
		protocol string
	}{
		{"TLS 1.3", p.serverConfig, nil, "TLSv1.3"},
		{"TLS 1.2", p.serverConfig, []string{"-tls1_2"}, "TLSv1.2"},
		{"mutual TLS", func() *Config {
			cfg, _ := mutualConfigs(p, RequireClientCert, 0)
			return cfg
		}, []string{"-cert", path("client.pem"), "-key", path("client-key.pem")}, "TLSv1.3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln := lineServer(t, tc.server())
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			args := append([]string{"s_client", "-connect", ln.Addr().String(),
				"-servername", "localhost", "-verify_hostname", "localhost",
				"-CAfile", path("ca.pem"), "-verify_return_error", "-alpn", "http/1.1",
				"-brief", "-ign_eof"}, tc.args...)
			cmd := exec.CommandContext(ctx, openssl, args...)
			cmd.Stdin = strings.NewReader("ping\n")
			var stdout, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			if err := cmd.Run(); err != nil {
				t.Fatalf("openssl s_client: %v\nstdout:\n%s\nstderr:\n%s", err, &stdout, &stderr)
			}
			for _, want := range []string{"Verification: OK", "Protocol version: " + tc.protocol, "Verified peername: localhost"} {
				if !strings.Contains(stderr.String(), want) {
					t.Errorf("s_client output lacks %q:\n%s", want, &stderr)
				}
			}
			if !strings.Contains(stdout.String(), "pong: ping alpn=http/1.1") {
				t.Errorf("s_client got %q, want the echo", &stdout)
			}
		})
	}

	t.Run("refuses a foreign CA", func(t *testing.T) {
		other, err := NewCA("not the CA s_client trusts")
		if err != nil {
			t.Fatal(err)
		}
		stranger, err := other.IssueServer("localhost")
		if err != nil {
			t.Fatal(err)
		}
		ln := lineServer(t, &Config{Certificates: []Certificate{stranger.TLSCertificate()}})
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, openssl, "s_client", "-connect", ln.Addr().String(),
			"-servername", "localhost", "-CAfile", path("ca.pem"), "-verify_return_error", "-brief")
		cmd.Stdin = strings.NewReader("")
		out, err := cmd.CombinedOutput()
		if err == nil {
			t.Fatalf("s_client accepted a certificate from a foreign CA:\n%s", out)
		}
	})
}

// startOpenSSLServer runs openssl s_server on a free loopback port and
// returns its address once it accepts connections. The process is killed
// when the test ends.
func startOpenSSLServer(t *testing.T, openssl string, args ...string) string {
	t.Helper()
	probe, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := probe.Addr().(*net.TCPAddr).Port
	probe.Close()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))

	args = append([]string{"s_server", "-accept", addr, "-naccept", "10"}, args...)
	cmd := exec.Command(openssl, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "ACCEPT") {
				ready <- true
			}
		}
		close(ready)
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatalf("openssl s_server exited: %s", &stderr)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("openssl s_server did not start: %s", &stderr)
	}
	return addr
}

func TestOurClientAgainstOpenSSLServer(t *testing.T) {
	openssl := needOpenSSL(t)
	p := newTestPKI(t)
	path := writePKI(t, p)

	for _, tc := range []struct {
		name    string
		args    []string
		client  func() *Config
		version uint16
	}{
		{"TLS 1.3", nil, p.clientConfig, cryptotls.VersionTLS13},
		{"TLS 1.2", []string{"-tls1_2"}, p.clientConfig, cryptotls.VersionTLS12},
		{"mutual TLS", []string{"-Verify", "1", "-CAfile", path("ca.pem")}, func() *Config {
			cfg := p.clientConfig()
			cfg.Certificates = []Certificate{p.client.TLSCertificate()}
			return cfg
		}, cryptotls.VersionTLS13},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"-cert", path("server.pem"), "-key", path("server-key.pem"), "-www"}, tc.args...)
			addr := startOpenSSLServer(t, openssl, args...)
			d := &Dialer{Config: tc.client()}
			for i, wantResumed := range []bool{false, true} {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				c, err := d.DialContext(ctx, "tcp", addr)
				cancel()
				if err != nil {
					t.Fatalf("connection %d: %v", i, err)
				}
				c.SetDeadline(time.Now().Add(10 * time.Second))
				io.WriteString(c, "GET / HTTP/1.0\r\n\r\n")
				page, err := io.ReadAll(c)
				if err != nil && !strings.Contains(err.Error(), "close notify") {
					t.Errorf("connection %d: reading the page: %v", i, err)
				}
				c.Close()
				if !strings.HasPrefix(string(page), "HTTP/1.0 200 ok") {
					t.Errorf("connection %d: s_server answered %.80q", i, page)
				}
				state := c.(*Conn).ConnectionState()
				if state.Version != tc.version {
					t.Errorf("connection %d: version %s, want %s", i, cryptotls.VersionName(state.Version), cryptotls.VersionName(tc.version))
				}
				if state.DidResume != wantResumed {
					t.Errorf("connection %d: DidResume = %v, want %v", i, state.DidResume, wantResumed)
				}
			}
		})
	}
}
