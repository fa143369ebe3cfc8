package tls

import (
	"bytes"
	"context"
	cryptotls "crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/nettest"
)

// pipeMaker returns a nettest.MakePipe that puts TLS over raw pairs from
// newRaw and finishes the handshake before handing the pair out.
func pipeMaker(t *testing.T, version uint16, newRaw func() (net.Conn, net.Conn, error)) nettest.MakePipe {
	p := newTestPKI(t)
	serverCfg := p.serverConfig()
	serverCfg.MaxVersion = version
	clientCfg := p.clientConfig()
	return func() (c1, c2 net.Conn, stop func(), err error) {
		serverRaw, clientRaw, err := newRaw()
		if err != nil {
			return nil, nil, nil, err
		}
		server, err := Server(serverRaw, serverCfg)
		if err != nil {
			return nil, nil, nil, err
		}
		client, err := Client(clientRaw, clientCfg)
		if err != nil {
			return nil, nil, nil, err
		}
		errc := make(chan error, 1)
		go func() { errc <- server.Handshake() }()
		if err := client.Handshake(); err != nil {
			serverRaw.Close()
			clientRaw.Close()
			<-errc
			return nil, nil, nil, err
		}
		if err := <-errc; err != nil {
			return nil, nil, nil, err
		}
		stop = func() {
			client.Close()
			server.Close()
		}
		return client, server, stop, nil
	}
}

func loopbackPair() (net.Conn, net.Conn, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, nil, err
	}
	defer ln.Close()
	type accepted struct {
		c   net.Conn
		err error
	}
	ch := make(chan accepted, 1)
	go func() {
		c, err := ln.Accept()
		ch <- accepted{c, err}
	}()
	client, err := net.DialTimeout("tcp", ln.Addr().String(), 5*time.Second)
	if err != nil {
		return nil, nil, err
	}
	a := <-ch
	if a.err != nil {
		client.Close()
		return nil, nil, a.err
	}
	return a.c, client, nil
}

// TestConnBehavesAsNetConn runs nettest.TestConn over kernel loopback TCP.
// (On net.Pipe, Close reports that the close_notify alert could not be sent
// to a peer that has already closed, which nettest counts as an error; TCP
// accepts that last write.)
func TestConnBehavesAsNetConn(t *testing.T) {
	for _, tc := range []struct {
		name    string
		version uint16
		raw     func() (net.Conn, net.Conn, error)
	}{
		{"TLS13", cryptotls.VersionTLS13, loopbackPair},
		{"TLS12", cryptotls.VersionTLS12, loopbackPair},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nettest.TestConn(t, pipeMaker(t, tc.version, tc.raw))
		})
	}
}

func TestDefaultsNegotiateTLS13WithALPN(t *testing.T) {
	p := newTestPKI(t)
	r := handshakeLoopback(t, p.serverConfig(), p.clientConfig())
	if r.clientErr != nil || r.serverErr != nil {
		t.Fatalf("handshake: client %v, server %v", r.clientErr, r.serverErr)
	}
	state := r.client.ConnectionState()
	if state.Version != cryptotls.VersionTLS13 {
		t.Errorf("version = %s, want TLS 1.3", cryptotls.VersionName(state.Version))
	}
	if state.NegotiatedProtocol != ProtocolHTTP11 {
		t.Errorf("ALPN = %q, want %q", state.NegotiatedProtocol, ProtocolHTTP11)
	}
	if r.client.Side() != ClientSide || r.server.Side() != ServerSide {
		t.Errorf("sides = %v, %v", r.client.Side(), r.server.Side())
	}
}

func TestTLS12UsesOnlyECDHEWithAEAD(t *testing.T) {
	p := newTestPKI(t)
	clientCfg := p.clientConfig()
	clientCfg.MaxVersion = cryptotls.VersionTLS12
	r := handshakeLoopback(t, p.serverConfig(), clientCfg)
	if r.clientErr != nil || r.serverErr != nil {
		t.Fatalf("handshake: client %v, server %v", r.clientErr, r.serverErr)
	}
	name := cryptotls.CipherSuiteName(r.client.ConnectionState().CipherSuite)
	if !strings.HasPrefix(name, "TLS_ECDHE_") || !(strings.Contains(name, "GCM") || strings.Contains(name, "CHACHA20")) {
		t.Errorf("TLS 1.2 suite %s is not ECDHE with AEAD", name)
	}

	// A client that offers only a CBC suite finds no suite in common.
	p2 := newTestPKI(t)
	c1, c2 := net.Pipe()
	server, _ := Server(c1, p2.serverConfig())
	defer server.Close()
	go server.Handshake()
	weak := cryptotls.Client(c2, &cryptotls.Config{
		RootCAs: p2.ca.Pool(), ServerName: "localhost", MaxVersion: cryptotls.VersionTLS12,
		CipherSuites: []uint16{cryptotls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA},
	})
	defer weak.Close()
	if err := weak.Handshake(); err == nil {
		t.Error("a client offering only ECDHE-ECDSA-AES128-SHA (CBC) connected")
	}
}

func TestConfigClone(t *testing.T) {
	p := newTestPKI(t)
	cfg := p.serverConfig()
	cfg.ClientAuth = RequireClientCert
	cfg.ClientCAs = p.ca.Pool()
	if _, err := cfg.CryptoConfig(); err != nil { // used: its settings are fixed now
		t.Fatal(err)
	}
	clone := cfg.Clone()
	clone.ClientAuth = NoClientCert // a clone may still change
	base, err := clone.CryptoConfig()
	if err != nil {
		t.Fatal(err)
	}
	if base.ClientAuth != cryptotls.NoClientCert || len(base.Certificates) != 1 {
		t.Errorf("clone: ClientAuth %v, %d certificates", base.ClientAuth, len(base.Certificates))
	}
	orig, _ := cfg.CryptoConfig()
	if orig.ClientAuth != cryptotls.RequireAndVerifyClientCert {
		t.Errorf("original changed: ClientAuth %v", orig.ClientAuth)
	}
}

func TestConfigErrors(t *testing.T) {
	p := newTestPKI(t)
	for _, tc := range []struct {
		name string
		cfg  *Config
		do   func(*Config) error
		want string
	}{
		{"nil", nil, clientOn, "nil Config"},
		{"TLS 1.1", &Config{MinVersion: cryptotls.VersionTLS11, ServerName: "x"}, clientOn, "below TLS 1.2"},
		{"max below min", &Config{MaxVersion: cryptotls.VersionTLS12, MinVersion: cryptotls.VersionTLS13, ServerName: "x"}, clientOn, "MaxVersion"},
		{"mTLS without CAs", &Config{Certificates: p.serverConfig().Certificates, ClientAuth: RequireClientCert}, serverOn, "ClientCAs is nil"},
		{"server without certificate", &Config{}, serverOn, "needs Certificates"},
		{"listener without certificate", &Config{}, listenerOn, "needs Certificates"},
		{"client without name", &Config{RootCAs: p.ca.Pool()}, clientOn, "needs ServerName"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.do(tc.cfg)
			if !errors.Is(err, ErrBadConfig) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want ErrBadConfig mentioning %q", err, tc.want)
			}
		})
	}
}

func clientOn(cfg *Config) error {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	_, err := Client(a, cfg)
	return err
}

func serverOn(cfg *Config) error {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	_, err := Server(a, cfg)
	return err
}

func listenerOn(cfg *Config) error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	defer ln.Close()
	_, err = NewListener(ln, cfg)
	return err
}

func TestResumption(t *testing.T) {
	for _, version := range []uint16{cryptotls.VersionTLS13, cryptotls.VersionTLS12} {
		t.Run(cryptotls.VersionName(version), func(t *testing.T) {
			p := newTestPKI(t)
			serverCfg := p.serverConfig()
			serverCfg.MaxVersion = version
			clientCfg := p.clientConfig() // one Config: one session cache

			for i, wantResumed := range []bool{false, true, true} {
				r := handshakeLoopback(t, serverCfg, clientCfg)
				if r.clientErr != nil || r.serverErr != nil {
					t.Fatalf("connection %d: client %v, server %v", i, r.clientErr, r.serverErr)
				}
				// The TLS 1.3 ticket arrives after the handshake; reading
				// application data processes it.
				if ce, se := exchange(r.client, r.server); ce != nil || se != nil {
					t.Fatalf("connection %d: exchange: client %v, server %v", i, ce, se)
				}
				for _, c := range []*Conn{r.client, r.server} {
					if got := c.ConnectionState().DidResume; got != wantResumed {
						t.Errorf("connection %d, %s: DidResume = %v, want %v", i, c.Side(), got, wantResumed)
					}
				}
				// A resumed connection still knows the verified chain.
				if n := len(r.client.ConnectionState().VerifiedChains); n == 0 {
					t.Errorf("connection %d: no verified chain on the client", i)
				}
			}
		})
	}
}

func TestResumptionCanBeTurnedOff(t *testing.T) {
	p := newTestPKI(t)
	serverCfg := p.serverConfig()
	serverCfg.SessionTicketsDisabled = true
	clientCfg := p.clientConfig()
	for i := range 2 {
		r := handshakeLoopback(t, serverCfg, clientCfg)
		if r.clientErr != nil || r.serverErr != nil {
			t.Fatalf("connection %d: client %v, server %v", i, r.clientErr, r.serverErr)
		}
		exchange(r.client, r.server)
		if r.client.ConnectionState().DidResume {
			t.Errorf("connection %d resumed with tickets disabled", i)
		}
	}
}

// kernelEchoListener returns a TLS listener on kernel loopback whose
// connections echo what they read.
func kernelEchoListener(t *testing.T, cfg *Config) net.Listener {
	t.Helper()
	return serveLoopback(t, cfg, 10*time.Second, func(c net.Conn) { io.Copy(c, c) })
}

func TestListenerAndDialer(t *testing.T) {
	p := newTestPKI(t)
	ln := kernelEchoListener(t, p.serverConfig())
	_, port, _ := net.SplitHostPort(ln.Addr().String())

	var dials atomic.Int32
	var nd net.Dialer
	d := &Dialer{
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dials.Add(1)
			return nd.DialContext(ctx, network, addr)
		},
		Config: &Config{RootCAs: p.ca.Pool()}, // no ServerName: taken from the address
	}
	// The certificate names both localhost and 127.0.0.1.
	for _, host := range []string{"localhost", "127.0.0.1"} {
		c, err := d.Dial("tcp", net.JoinHostPort(host, port))
		if err != nil {
			t.Fatalf("dial %s: %v", host, err)
		}
		tc := c.(*Conn)
		if !tc.ConnectionState().HandshakeComplete {
			t.Errorf("%s: DialContext returned before the handshake", host)
		}
		msg := []byte("ping " + host)
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
			t.Errorf("%s: echo = %q, %v", host, got, err)
		}
		c.Close()
	}
	if dials.Load() != 2 {
		t.Errorf("NetDialContext called %d times, want 2", dials.Load())
	}

	// A name the certificate does not cover is refused with the reason.
	wrongName := &Dialer{Config: &Config{RootCAs: p.ca.Pool(), ServerName: "www.example.com"}}
	_, err := wrongName.Dial("tcp", ln.Addr().String())
	if !errors.Is(err, ErrWrongName) {
		t.Fatalf("error = %v, want ErrWrongName", err)
	}
	for _, want := range []string{"server certificate refused", "DNS:localhost", "IP:127.0.0.1", `"www.example.com"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}

func TestDialerHandshakeTimeout(t *testing.T) {
	// A server that accepts and never answers.
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer inner.Close()
	go func() {
		for {
			c, err := inner.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	d := &Dialer{Config: &Config{InsecureSkipVerify: true}, HandshakeTimeout: 100 * time.Millisecond}
	start := time.Now()
	_, err = d.Dial("tcp", inner.Addr().String())
	if err == nil {
		t.Fatal("handshake with a silent server succeeded")
	}
	if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("error = %v, want a deadline error", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Errorf("Dial took %v with a 100ms handshake timeout", time.Since(start))
	}
}

// HTTPS is our listener under net/http's server and our dialer under its
// client; tundra's own http package plugs in the same way.
func TestHTTPSWithNetHTTP(t *testing.T) {
	p := newTestPKI(t)
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := NewListener(inner, p.serverConfig())
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// net/http fills r.TLS only for a *crypto/tls.Conn; the
			// connection state is ours to look at through the Conn.
			io.WriteString(w, "hello, "+r.Proto+"\n")
		}),
		ReadHeaderTimeout: 5 * time.Second,
	}
	go srv.Serve(ln)
	defer srv.Close()

	d := &Dialer{Config: &Config{RootCAs: p.ca.Pool()}}
	client := &http.Client{
		Transport: &http.Transport{DialTLSContext: d.DialContext},
		Timeout:   10 * time.Second,
	}
	resp, err := client.Get("https://" + ln.Addr().String() + "/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if string(body) != "hello, HTTP/1.1\n" {
		t.Errorf("body = %q", body)
	}
}
