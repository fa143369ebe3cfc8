//go:build linux

package e2e

import (
	"bytes"
	"context"
	cryptotls "crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tundra-net/tundra/tls"
	"github.com/tundra-net/tundra/tls/https"
)

// TestCurlHTTPS: curl, trusting only the services' CA, gets our HTTPS page
// and verifies the certificate for the address it dialed; without the CA
// it refuses.
func TestCurlHTTPS(t *testing.T) {
	needTools(t, "curl")
	e := newEnv(t)
	url := "https://" + stackAddr + "/"
	for _, version := range []string{"--tlsv1.3", "--tls-max"} {
		args := []string{"-sS", "-v", "--max-time", "10", "--cacert", e.caFile, url}
		if version == "--tls-max" {
			args = append([]string{"--tls-max", "1.2"}, args...)
		}
		out := e.mustExec("curl", args...)
		if out.stdout != "hello, world\n" {
			t.Fatalf("%s: body %q\n%s", version, out.stdout, out.stderr)
		}
		wantVersion := "TLSv1.3"
		if version == "--tls-max" {
			wantVersion = "TLSv1.2"
		}
		for _, want := range []string{"SSL certificate verify ok", "SSL connection using " + wantVersion, "ALPN: server accepted http/1.1"} {
			if !strings.Contains(out.stderr, want) {
				t.Errorf("curl -v %s lacks %q:\n%s", version, want, out.stderr)
			}
		}
	}
	// A 20 MB body and a second request on the same TLS connection.
	out := e.mustExec("curl", "-sS", "-v", "--max-time", "20", "--cacert", e.caFile, url+"bytes/20000000", url)
	if want := string(contractBytes(20000000)) + "hello, world\n"; out.stdout != want {
		t.Fatalf("20 MB over TLS: got %d bytes, want %d", len(out.stdout), len(want))
	}
	if !strings.Contains(out.stderr, "Re-using existing connection") {
		t.Errorf("curl did not reuse the TLS connection:\n%s", out.stderr)
	}
	out, err := e.exec("curl", "-sS", "--max-time", "10", url)
	if err == nil || !strings.Contains(out.stderr, "self-signed certificate in certificate chain") && !strings.Contains(out.stderr, "unable to get local issuer certificate") {
		t.Fatalf("curl without the CA: %v\n%s", err, out.stderr)
	}
}

// TestOpenSSLVerifiesChain: openssl s_client, failing on any verification
// error, accepts our server's chain and its IP address.
func TestOpenSSLVerifiesChain(t *testing.T) {
	needTools(t, "openssl")
	e := newEnv(t)
	for _, version := range []string{"-tls1_3", "-tls1_2"} {
		out, err := e.execInput(strings.NewReader(""), "openssl", "s_client", version,
			"-verify_return_error", "-CAfile", e.caFile, "-verify_ip", stackAddr,
			"-connect", stackAddr+":443", "-alpn", "http/1.1")
		if err != nil {
			t.Fatalf("%s: %v\n%s", version, err, out.stdout)
		}
		for _, want := range []string{"Verify return code: 0 (ok)", "ALPN protocol: http/1.1"} {
			if !strings.Contains(out.stdout, want) {
				t.Errorf("openssl s_client %s lacks %q:\n%s", version, want, out.stdout)
			}
		}
		if !strings.Contains(out.stdout, strings.Replace(strings.TrimPrefix(version, "-tls"), "_", ".", 1)) {
			t.Errorf("%s: protocol not reported:\n%s", version, out.stdout)
		}
	}
	// A CA that did not sign it: openssl refuses.
	other, err := tls.NewCA("someone else")
	if err != nil {
		t.Fatal(err)
	}
	otherFile := filepath.Join(e.dir, "other-ca.pem")
	if err := os.WriteFile(otherFile, other.CertPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := e.execInput(strings.NewReader(""), "openssl", "s_client", "-verify_return_error",
		"-CAfile", otherFile, "-connect", stackAddr+":443")
	if err == nil || strings.Contains(out.stdout, "Verify return code: 0 (ok)") {
		t.Fatalf("openssl accepted a chain from a CA it does not trust:\n%s", out.stdout)
	}
}

// kernelServerCert issues a certificate for kernelAddr from a new CA and
// writes it, its key and the CA to files, for kernel-side servers.
func kernelServerCert(t *testing.T, dir string) (ca *tls.CA, certFile, keyFile string) {
	t.Helper()
	ca, err := tls.NewCA("kernel side CA")
	if err != nil {
		t.Fatal(err)
	}
	issued, err := ca.IssueServer(kernelAddr)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "kernel.pem"), filepath.Join(dir, "kernel.key")
	if err := issued.WriteFiles(certFile, keyFile); err != nil {
		t.Fatal(err)
	}
	return ca, certFile, keyFile
}

// TestOurClientAgainstOpenSSLServer: tundra's TLS client, over the stack's
// TCP, against openssl s_server on the kernel side, in TLS 1.3 and 1.2,
// both raw and as tundra's HTTPS client.
func TestOurClientAgainstOpenSSLServer(t *testing.T) {
	needTools(t, "openssl")
	e := newEnv(t)
	ca, certFile, keyFile := kernelServerCert(t, e.dir)
	addr := kernelAddr + ":4433"
	log := e.start("openssl", "s_server", "-accept", addr, "-cert", certFile, "-key", keyFile, "-www", "-naccept", "10")
	e.waitListening(addr, log)

	for _, version := range []uint16{cryptotls.VersionTLS13, cryptotls.VersionTLS12} {
		name := cryptotls.VersionName(version)
		cfg := &tls.Config{RootCAs: ca.Pool(), MaxVersion: version}
		d := &tls.Dialer{NetDialContext: e.st.DialContext, Config: cfg}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		c, err := d.DialContext(ctx, "tcp", addr)
		cancel()
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, log)
		}
		state := c.(*tls.Conn).ConnectionState()
		if state.Version != version {
			t.Errorf("negotiated %s, want %s", cryptotls.VersionName(state.Version), name)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, "GET / HTTP/1.0\r\n\r\n")
		page, err := io.ReadAll(c)
		c.Close()
		// s_server -www answers with a status page naming the protocol
		// and cipher it negotiated, then closes.
		if err != nil || !bytes.HasPrefix(page, []byte("HTTP/1.0 200 ok")) || !bytes.Contains(page, []byte("Protocol  : "+strings.ReplaceAll(name, " ", "v"))) {
			t.Fatalf("%s: %v, page:\n%s", name, err, page)
		}
	}

	client := https.NewClient(&tls.Config{RootCAs: ca.Pool()}, e.st.DialContext)
	client.Timeout = 10 * time.Second
	resp, err := client.Get("https://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || !bytes.Contains(page, []byte("Ciphers supported in s_server binary")) {
		t.Fatalf("https client: %s %v\n%s", resp.Status, err, page)
	}
}

// TestOurClientAgainstGoTLSServer: tundra's TLS client over the stack
// against a crypto/tls echo server on the kernel side: 1 MiB echoed, then
// the refusals a client must make (unknown CA, wrong name), each with the
// error that says why.
func TestOurClientAgainstGoTLSServer(t *testing.T) {
	e := newEnv(t)
	ca, certFile, keyFile := kernelServerCert(t, e.dir)
	cert, err := tls.LoadKeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	l := cryptotls.NewListener(e.kernelListen(), &cryptotls.Config{Certificates: []cryptotls.Certificate{cert}})
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(20 * time.Second))
				io.Copy(c, c)
			}()
		}
	}()
	dial := func(cfg *tls.Config) (net.Conn, error) {
		d := &tls.Dialer{NetDialContext: e.st.DialContext, Config: cfg}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return d.DialContext(ctx, "tcp", l.Addr().String())
	}

	// The same Config for both dials: its session cache lets the second
	// resume the first's session (RFC 8446 section 2.2).
	cfg := &tls.Config{RootCAs: ca.Pool()}
	for i, size := range []int{1 << 20, 64 << 10} {
		c, err := dial(cfg)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(20 * time.Second))
		body := randomBytes(size, uint64(i))
		go c.Write(body)
		got := make([]byte, len(body))
		if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, body) {
			t.Fatalf("echo over TLS: %v, equal %v", err, bytes.Equal(got, body))
		}
		if resumed := c.(*tls.Conn).ConnectionState().DidResume; resumed != (i == 1) {
			t.Errorf("connection %d: resumed %v", i, resumed)
		}
		c.Close()
	}

	other, err := tls.NewCA("someone else")
	if err != nil {
		t.Fatal(err)
	}
	_, err = dial(&tls.Config{RootCAs: other.Pool()})
	var verr *tls.VerifyError
	if !errors.As(err, &verr) || !errors.Is(err, tls.ErrUnknownAuthority) || verr.Owner != tls.ServerSide {
		t.Fatalf("dial trusting another CA: %v, want a VerifyError for ErrUnknownAuthority", err)
	}
	t.Logf("unknown CA: %v", err)
	_, err = dial(&tls.Config{RootCAs: ca.Pool(), ServerName: "elsewhere.test"})
	if !errors.Is(err, tls.ErrWrongName) || !strings.Contains(err.Error(), "elsewhere.test") {
		t.Fatalf("dial for another name: %v, want ErrWrongName naming elsewhere.test", err)
	}
	t.Logf("wrong name: %v", err)
}

// TestMutualTLS: our server on the stack requires a client certificate
// from its CA. A kernel-side client with a good certificate is served; one
// with none, or with one from a foreign CA, is refused, and both sides say
// why. curl with and without a certificate sees the same.
func TestMutualTLS(t *testing.T) {
	e := newEnv(t)
	ca, err := tls.NewCA("mtls CA")
	if err != nil {
		t.Fatal(err)
	}
	serverCert, err := ca.IssueServer(stackAddr)
	if err != nil {
		t.Fatal(err)
	}
	goodClient, err := ca.IssueClient("good client")
	if err != nil {
		t.Fatal(err)
	}
	foreignCA, err := tls.NewCA("foreign CA")
	if err != nil {
		t.Fatal(err)
	}
	foreignClient, err := foreignCA.IssueClient("foreign client")
	if err != nil {
		t.Fatal(err)
	}
	inner, err := e.st.Listen("tcp", ":8443")
	if err != nil {
		t.Fatal(err)
	}
	l, err := tls.NewListener(inner, &tls.Config{
		Certificates: []tls.Certificate{serverCert.TLSCertificate()},
		ClientAuth:   tls.RequireClientCert,
		ClientCAs:    ca.Pool(),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	// The server answers each client with the name on its certificate,
	// and reports each handshake's outcome.
	handshakes := make(chan error, 16)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				tc := c.(*tls.Conn)
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				err := tc.HandshakeContext(ctx)
				handshakes <- err
				if err != nil {
					return
				}
				c.SetDeadline(time.Now().Add(10 * time.Second))
				var line [64]byte
				n, _ := c.Read(line[:])
				fmt.Fprintf(c, "hello %s, you said %q\n", tc.ConnectionState().PeerCertificates[0].Subject.CommonName, line[:n])
			}()
		}
	}()
	talk := func(cert *tls.Issued) (string, error) {
		cfg := &tls.Config{RootCAs: ca.Pool()}
		if cert != nil {
			cfg.Certificates = []tls.Certificate{cert.TLSCertificate()}
		}
		d := &tls.Dialer{NetDialContext: e.kernelDialer(), Config: cfg}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := d.DialContext(ctx, "tcp", stackAddr+":8443")
		if err != nil {
			return "", err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		// In TLS 1.3 the client finishes its handshake before the server
		// has checked its certificate: a refusal arrives on the first read.
		if _, err := io.WriteString(c, "hi"); err != nil {
			return "", err
		}
		reply, err := io.ReadAll(c)
		return string(reply), err
	}
	serverSaw := func() error {
		select {
		case err := <-handshakes:
			return err
		case <-time.After(10 * time.Second):
			t.Fatal("the server never finished the handshake")
			return nil
		}
	}

	reply, err := talk(goodClient)
	if err != nil || reply != "hello good client, you said \"hi\"\n" {
		t.Fatalf("good certificate: %q, %v", reply, err)
	}
	if err := serverSaw(); err != nil {
		t.Fatalf("server refused a good certificate: %v", err)
	}

	for _, tc := range []struct {
		name   string
		cert   *tls.Issued
		reason error
	}{
		{"no certificate", nil, tls.ErrNoCertificate},
		{"foreign certificate", foreignClient, tls.ErrUnknownAuthority},
	} {
		_, clientErr := talk(tc.cert)
		serverErr := serverSaw()
		var verr *tls.VerifyError
		if !errors.As(serverErr, &verr) || verr.Owner != tls.ClientSide || !errors.Is(serverErr, tc.reason) {
			t.Errorf("%s: server error %v, want a VerifyError on the client's certificate for %v", tc.name, serverErr, tc.reason)
		}
		var aerr *tls.AlertError
		if !errors.As(clientErr, &aerr) || aerr.From != tls.ServerSide {
			t.Errorf("%s: client error %v, want an AlertError from the server", tc.name, clientErr)
		}
		t.Logf("%s:\n  server: %v\n  client: %v", tc.name, serverErr, clientErr)
	}

	if _, err := exec.LookPath("curl"); err != nil {
		t.Log("curl is not installed: skipping the curl half")
		return
	}
	caFile := filepath.Join(e.dir, "mtls-ca.pem")
	certFile, keyFile := filepath.Join(e.dir, "client.pem"), filepath.Join(e.dir, "client.key")
	if err := os.WriteFile(caFile, ca.CertPEM(), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := goodClient.WriteFiles(certFile, keyFile); err != nil {
		t.Fatal(err)
	}
	// The server is not HTTP: it answers the first bytes curl sends (its
	// request line) with a greeting and no status line, which curl
	// accepts as an HTTP/0.9 response.
	out, err := e.exec("curl", "-sS", "--max-time", "10", "--http0.9", "--cacert", caFile,
		"--cert", certFile, "--key", keyFile, "https://"+stackAddr+":8443/")
	if err != nil || !strings.HasPrefix(out.stdout, "hello good client, you said \"GET / HTTP/1.1") {
		t.Errorf("curl with a good certificate: %v, %q", err, out.stdout)
	}
	if err := serverSaw(); err != nil {
		t.Errorf("server refused curl's certificate: %v", err)
	}
	out, err = e.exec("curl", "-sS", "--max-time", "10", "--cacert", caFile, "https://"+stackAddr+":8443/")
	if err == nil {
		t.Errorf("curl without a certificate was served: %q", out.stdout)
	}
	if err := serverSaw(); !errors.Is(err, tls.ErrNoCertificate) {
		t.Errorf("server error for curl without a certificate: %v, want ErrNoCertificate", err)
	}
	t.Logf("curl without a certificate: %s", strings.TrimSpace(out.stderr))
}

// TestHTTPSUnderLoss: with iptables on the kernel side dropping 2% of the
// packets each way, curl still downloads 8 MB over HTTPS and uploads 2 MiB
// chunked over HTTP, byte for byte: TCP's recovery under the whole stack.
func TestHTTPSUnderLoss(t *testing.T) {
	needTools(t, "curl", "iptables")
	e := newEnv(t)
	for _, rule := range [][]string{
		{"-A", "OUTPUT", "-d", stackAddr, "-m", "statistic", "--mode", "random", "--probability", "0.02", "-j", "DROP"},
		{"-A", "INPUT", "-s", stackAddr, "-m", "statistic", "--mode", "random", "--probability", "0.02", "-j", "DROP"},
	} {
		if out, err := e.exec("iptables", rule...); err != nil {
			t.Skipf("iptables statistic match unavailable: %v: %s", err, out.stderr)
		}
	}
	out := e.mustExec("curl", "-sS", "--max-time", "25", "--cacert", e.caFile, "https://"+stackAddr+"/bytes/8000000")
	if !bytes.Equal([]byte(out.stdout), contractBytes(8000000)) {
		t.Fatalf("8 MB over HTTPS with 2%% loss: got %d bytes", len(out.stdout))
	}
	body := randomBytes(2<<20, 6)
	file := filepath.Join(e.dir, "upload.bin")
	if err := os.WriteFile(file, body, 0o644); err != nil {
		t.Fatal(err)
	}
	out = e.mustExec("curl", "-sS", "--max-time", "25", "-H", "Transfer-Encoding: chunked",
		"--data-binary", "@"+file, "http://"+stackAddr+"/echo")
	if !bytes.Equal([]byte(out.stdout), body) {
		t.Fatalf("2 MiB echo with 2%% loss: got %d bytes back, equal %v", len(out.stdout), bytes.Equal([]byte(out.stdout), body))
	}
	// The loss must have happened, or this test showed nothing.
	counters := e.mustExec("iptables", "-L", "-v", "-n", "-x")
	dropped := 0
	for _, m := range regexp.MustCompile(`(?m)^\s*(\d+)\s+\d+\s+DROP`).FindAllStringSubmatch(counters.stdout, -1) {
		n, _ := strconv.Atoi(m[1])
		dropped += n
	}
	if dropped == 0 {
		t.Fatalf("iptables dropped nothing:\n%s", counters.stdout)
	}
	t.Logf("iptables dropped %d packets", dropped)
}
