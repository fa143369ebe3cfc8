package tls

import (
	"bufio"
	"bytes"
	cryptotls "crypto/tls"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// recorder collects trace events.
type recorder struct {
	mu     sync.Mutex
	events []Event
}

func (r *recorder) handle(ev Event) {
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.mu.Unlock()
}

// of returns the events one side recorded, as type names in order.
func (r *recorder) of(side Side) (names []string, events []Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ev := range r.events {
		if ev.Header().Side == side {
			events = append(events, ev)
			names = append(names, strings.TrimPrefix(strings.TrimPrefix(typeName(ev), "*tls."), "tls."))
		}
	}
	return names, events
}

func typeName(ev Event) string {
	switch ev.(type) {
	case *ClientHelloEvent:
		return "ClientHello"
	case *ServerHelloEvent:
		return "ServerHello"
	case *CertificatesEvent:
		return "Certificates"
	case *VerificationEvent:
		return "Verification"
	case *DoneEvent:
		return "Done"
	}
	return "?"
}

func TestTraceEventsInOrder(t *testing.T) {
	p := newTestPKI(t)
	var rec recorder
	var text bytes.Buffer
	trace := &Trace{Writer: &text, Handler: rec.handle}
	serverCfg, clientCfg := mutualConfigs(p, RequireClientCert, 0)
	serverCfg.Trace = trace
	clientCfg.Trace = trace
	clientCfg.Certificates = []Certificate{p.client.TLSCertificate()}

	r := handshakeLoopback(t, serverCfg, clientCfg)
	if r.clientErr != nil || r.serverErr != nil {
		t.Fatalf("client %v, server %v", r.clientErr, r.serverErr)
	}
	exchange(r.client, r.server)

	want := []string{"ClientHello", "ServerHello", "Certificates", "Verification", "Done"}
	for _, side := range []Side{ClientSide, ServerSide} {
		names, events := rec.of(side)
		if !slices.Equal(names, want) {
			t.Fatalf("%s events = %v, want %v", side, names, want)
		}
		hello := events[0].(*ClientHelloEvent)
		if !slices.Contains(hello.Versions, cryptotls.VersionTLS13) || !slices.Contains(hello.Versions, cryptotls.VersionTLS12) {
			t.Errorf("%s: hello versions = %v", side, hello.Versions)
		}
		if hello.ServerName != "localhost" || !slices.Equal(hello.ALPN, []string{"http/1.1"}) {
			t.Errorf("%s: hello SNI %q, ALPN %q", side, hello.ServerName, hello.ALPN)
		}
		if !slices.Contains(hello.CipherSuites, cryptotls.TLS_AES_128_GCM_SHA256) ||
			slices.Contains(hello.CipherSuites, cryptotls.TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA) {
			t.Errorf("%s: hello suites = %v", side, hello.CipherSuites)
		}
		if len(hello.Groups) == 0 || len(hello.SignatureSchemes) == 0 {
			t.Errorf("%s: hello groups %v, signatures %v", side, hello.Groups, hello.SignatureSchemes)
		}
		if side == ClientSide && (len(hello.KeyShares) == 0 || !slices.Contains(hello.Groups, hello.KeyShares[0])) {
			t.Errorf("client: key shares %v not among groups %v", hello.KeyShares, hello.Groups)
		}
		sh := events[1].(*ServerHelloEvent)
		if sh.Version != cryptotls.VersionTLS13 || sh.ALPN != "http/1.1" || sh.Resumed {
			t.Errorf("%s: server hello %+v", side, sh)
		}
		certs := events[2].(*CertificatesEvent)
		if certs.Owner != side.peer() || len(certs.Chain) != 1 || certs.Chain[0].KeyType != "ECDSA P-256" {
			t.Errorf("%s: certificates %+v", side, certs)
		}
		v := events[3].(*VerificationEvent)
		if !v.Verified || !strings.Contains(v.TrustedCA, "tundra test CA") || len(v.Chain) != 2 {
			t.Errorf("%s: verification %+v", side, v)
		}
		done := events[4].(*DoneEvent)
		if done.Err != nil || done.Resumed || done.Duration <= 0 {
			t.Errorf("%s: done %+v", side, done)
		}
	}

	// The readable form has each field students look for.
	out := text.String()
	for _, want := range []string{
		"[client 127.0.0.1:", "] ClientHello sent", "[server 127.0.0.1:", "] ClientHello received",
		"versions:       TLS 1.3, TLS 1.2", "TLS_AES_128_GCM_SHA256", `server name:    "localhost"`,
		"ALPN:           http/1.1", "X25519", "key shares:", "ServerHello received",
		"cipher suite:", "server certificate chain (1)", "client certificate chain (1)",
		"subject:      CN=localhost", "issuer:       CN=tundra test CA", "DNS:localhost, IP:127.0.0.1",
		"key:          ECDSA P-256", "server certificate verified", "trusted CA:", `"localhost" matches`,
		"handshake done in", "session:        no, new (full handshake)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("trace output lacks %q", want)
		}
	}
	if t.Failed() {
		t.Logf("trace output:\n%s", out)
	}
}

func TestTraceResumedAndSkipped(t *testing.T) {
	p := newTestPKI(t)
	var rec recorder
	serverCfg := p.serverConfig()
	// The session cache is keyed by ServerName (without one, by the
	// server's address, which changes from test connection to connection).
	clientCfg := &Config{InsecureSkipVerify: true, ServerName: "localhost", Trace: &Trace{Handler: rec.handle}}
	serverCfg.Trace = clientCfg.Trace
	for range 2 {
		r := handshakeLoopback(t, serverCfg, clientCfg)
		if r.clientErr != nil || r.serverErr != nil {
			t.Fatalf("client %v, server %v", r.clientErr, r.serverErr)
		}
		exchange(r.client, r.server)
	}
	names, events := rec.of(ClientSide)
	want := []string{"ClientHello", "ServerHello", "Certificates", "Verification", "Done",
		"ClientHello", "ServerHello", "Verification", "Done"} // no certificates on resumption
	if !slices.Equal(names, want) {
		t.Fatalf("events = %v, want %v", names, want)
	}
	v := events[3].(*VerificationEvent)
	if v.Verified || !strings.Contains(v.How, "InsecureSkipVerify") {
		t.Errorf("verification = %+v, want skipped", v)
	}
	if !events[6].(*ServerHelloEvent).Resumed || !events[8].(*DoneEvent).Resumed {
		t.Error("second handshake not reported as resumed")
	}
	if !strings.Contains(events[8].String(), "session:        yes, resumed") {
		t.Errorf("done line = %q", events[8].String())
	}
	// A traced server resumes too: its ticket keys are shared by all
	// connections.
	names, events = rec.of(ServerSide)
	if !slices.Equal(names, []string{"ClientHello", "ServerHello", "Verification", "Done",
		"ClientHello", "ServerHello", "Verification", "Done"}) {
		t.Fatalf("server events = %v", names)
	}
	if !events[7].(*DoneEvent).Resumed {
		t.Error("server's second handshake not reported as resumed")
	}
}

func TestTraceFailure(t *testing.T) {
	p := newTestPKI(t)
	var rec recorder
	trace := &Trace{Handler: rec.handle}
	serverCfg := p.serverConfig()
	clientCfg := &Config{RootCAs: p.ca.Pool(), ServerName: "elsewhere.example", Trace: trace}
	r := handshakeLoopback(t, serverCfg, clientCfg)
	if r.clientErr == nil {
		t.Fatal("handshake with the wrong name succeeded")
	}
	names, events := rec.of(ClientSide)
	if !slices.Equal(names, []string{"ClientHello", "Done"}) {
		t.Fatalf("events = %v", names)
	}
	done := events[1].(*DoneEvent)
	if !errors.Is(done.Err, ErrWrongName) || !strings.Contains(done.String(), "handshake failed after") {
		t.Errorf("done = %v", done)
	}
	// Asking again gives the same error, and no second Done event.
	if err := r.client.Handshake(); !errors.Is(err, ErrWrongName) {
		t.Errorf("second Handshake = %v, want ErrWrongName", err)
	}
	if names, _ := rec.of(ClientSide); len(names) != 2 {
		t.Errorf("events after a second Handshake = %v", names)
	}
}

func TestServerTraceWithoutClientCertificate(t *testing.T) {
	p := newTestPKI(t)
	var rec recorder
	serverCfg := p.serverConfig()
	serverCfg.Trace = &Trace{Handler: rec.handle}
	r := handshakeLoopback(t, serverCfg, p.clientConfig())
	if r.clientErr != nil || r.serverErr != nil {
		t.Fatalf("client %v, server %v", r.clientErr, r.serverErr)
	}
	names, events := rec.of(ServerSide)
	if !slices.Equal(names, []string{"ClientHello", "ServerHello", "Verification", "Done"}) {
		t.Fatalf("events = %v", names)
	}
	if v := events[2].(*VerificationEvent); v.Verified || !strings.Contains(v.How, "no client certificate asked for") {
		t.Errorf("verification = %+v", v)
	}
}

// keyLogLine is the NSS key log format: a label, the 32-byte client random
// and a secret, in lowercase hex.
var keyLogLine = regexp.MustCompile(`^([A-Z_0-9]+) ([0-9a-f]{64}) ([0-9a-f]{64,96})$`)

func TestKeyLogFormat(t *testing.T) {
	p := newTestPKI(t)
	for _, tc := range []struct {
		version uint16
		labels  []string
	}{
		{cryptotls.VersionTLS13, []string{"CLIENT_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_TRAFFIC_SECRET_0",
			"SERVER_HANDSHAKE_TRAFFIC_SECRET", "SERVER_TRAFFIC_SECRET_0"}},
		{cryptotls.VersionTLS12, []string{"CLIENT_RANDOM"}},
	} {
		t.Run(cryptotls.VersionName(tc.version), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "keys.log")
			t.Setenv(KeyLogEnv, path)
			w, err := KeyLogFromEnv()
			if err != nil || w == nil {
				t.Fatalf("KeyLogFromEnv = %v, %v", w, err)
			}
			serverCfg := p.serverConfig()
			serverCfg.MaxVersion = tc.version
			clientCfg := p.clientConfig()
			clientCfg.KeyLogWriter = w
			r := handshakeLoopback(t, serverCfg, clientCfg)
			if r.clientErr != nil || r.serverErr != nil {
				t.Fatalf("client %v, server %v", r.clientErr, r.serverErr)
			}
			w.Close()

			info, err := os.Stat(path)
			if err != nil || info.Mode().Perm() != 0o600 {
				t.Errorf("key log mode = %v, %v; want 0600", info.Mode(), err)
			}
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			var labels []string
			randoms := map[string]bool{}
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				m := keyLogLine.FindStringSubmatch(sc.Text())
				if m == nil {
					t.Errorf("line %q is not in the key log format", sc.Text())
					continue
				}
				labels = append(labels, m[1])
				randoms[m[2]] = true
			}
			slices.Sort(labels)
			if !slices.Equal(labels, tc.labels) {
				t.Errorf("labels = %v, want %v", labels, tc.labels)
			}
			// Every line names the same connection: its client random.
			if len(randoms) != 1 {
				t.Errorf("%d client randoms, want 1", len(randoms))
			}
		})
	}
}

func TestKeyLogFromEnvUnset(t *testing.T) {
	t.Setenv(KeyLogEnv, "")
	w, err := KeyLogFromEnv()
	if w != nil || err != nil {
		t.Errorf("KeyLogFromEnv with SSLKEYLOGFILE empty = %v, %v; want nil, nil", w, err)
	}
	if _, err := OpenKeyLog(filepath.Join(t.TempDir(), "missing-dir", "keys.log")); err == nil {
		t.Error("OpenKeyLog in a missing directory succeeded")
	}
}

// captureClientHello returns the first record a client with cfg writes,
// and what a crypto/tls server made of the same hello.
func captureClientHello(t *testing.T, cfg *Config) ([]byte, *cryptotls.ClientHelloInfo) {
	t.Helper()
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	client, err := Client(a, cfg)
	if err != nil {
		t.Fatal(err)
	}
	go client.Handshake()
	var record bytes.Buffer
	var info *cryptotls.ClientHelloInfo
	tee := &teeConn{Conn: b, read: &record}
	server := cryptotls.Server(tee, &cryptotls.Config{
		GetConfigForClient: func(h *cryptotls.ClientHelloInfo) (*cryptotls.Config, error) {
			info = h
			return nil, errors.New("stop after the hello")
		},
	})
	server.Handshake()
	if info == nil {
		t.Fatal("server saw no ClientHello")
	}
	raw := record.Bytes()
	if len(raw) < recordHeaderLen {
		t.Fatal("no record captured")
	}
	n := recordHeaderLen + (int(raw[3])<<8 | int(raw[4]))
	return raw[:n], info
}

// teeConn copies what is read from it.
type teeConn struct {
	net.Conn
	read *bytes.Buffer
}

func (c *teeConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.read.Write(b[:n])
	return n, err
}

// TestClientHelloViewMatchesCryptoTLS parses real hellos with our view and
// compares with crypto/tls's own parse of the same bytes.
func TestClientHelloViewMatchesCryptoTLS(t *testing.T) {
	for _, cfg := range []*Config{
		{ServerName: "localhost", InsecureSkipVerify: true},
		{ServerName: "a.example", NextProtos: []string{"h2", "http/1.1"}},
		{InsecureSkipVerify: true, MaxVersion: cryptotls.VersionTLS12, NextProtos: []string{}},
	} {
		record, info := captureClientHello(t, cfg)
		v, err := parseClientHello(record)
		if err != nil {
			t.Fatalf("parse: %v (% x)", err, record)
		}
		ev := helloEventFromWire(v, &net.TCPConn{})
		if !slices.Equal(ev.CipherSuites, info.CipherSuites) {
			t.Errorf("suites %v, crypto/tls %v", ev.CipherSuites, info.CipherSuites)
		}
		if ev.ServerName != info.ServerName {
			t.Errorf("SNI %q, crypto/tls %q", ev.ServerName, info.ServerName)
		}
		if !slices.Equal(ev.ALPN, info.SupportedProtos) {
			t.Errorf("ALPN %q, crypto/tls %q", ev.ALPN, info.SupportedProtos)
		}
		if !slices.Equal(ev.Groups, info.SupportedCurves) {
			t.Errorf("groups %v, crypto/tls %v", ev.Groups, info.SupportedCurves)
		}
		if !slices.Equal(ev.SignatureSchemes, info.SignatureSchemes) {
			t.Errorf("signatures %v, crypto/tls %v", ev.SignatureSchemes, info.SignatureSchemes)
		}
		if !slices.Equal(ev.Versions, info.SupportedVersions) {
			t.Errorf("versions %v, crypto/tls %v", ev.Versions, info.SupportedVersions)
		}
	}
}

// TestClientHelloViewMatchesGopacket compares with gopacket's layers.TLS,
// the decoder the pcap tools use.
func TestClientHelloViewMatchesGopacket(t *testing.T) {
	record, _ := captureClientHello(t, &Config{ServerName: "gopacket.example", InsecureSkipVerify: true})
	v, err := parseClientHello(record)
	if err != nil {
		t.Fatal(err)
	}
	var layer layers.TLS
	if err := layer.DecodeFromBytes(record, gopacket.NilDecodeFeedback); err != nil {
		t.Fatal(err)
	}
	if len(layer.Handshake) != 1 {
		t.Fatalf("gopacket found %d handshake records", len(layer.Handshake))
	}
	theirs := layer.Handshake[0].ClientHello
	if string(theirs.SNI) != string(v.ServerName()) {
		t.Errorf("SNI %q, gopacket %q", v.ServerName(), theirs.SNI)
	}
	if !bytes.Equal(theirs.CipherSuits, v.suites) || !bytes.Equal(theirs.Extensions, v.extensions) {
		t.Error("cipher suites or extensions differ from gopacket's")
	}
	if uint16(theirs.ProtocolVersion) != v.LegacyVersion() {
		t.Errorf("version %#x, gopacket %#x", v.LegacyVersion(), theirs.ProtocolVersion)
	}
}

func TestClientHelloViewRejectsTruncation(t *testing.T) {
	record, _ := captureClientHello(t, &Config{ServerName: "localhost"})
	for n := range len(record) {
		if _, err := parseClientHello(record[:n]); err == nil {
			t.Fatalf("a record cut to %d of %d bytes parsed", n, len(record))
		}
	}
	corrupt := slices.Clone(record)
	corrupt[recordHeaderLen] = 2 // ServerHello, not ClientHello
	if _, err := parseClientHello(corrupt); err == nil {
		t.Error("a ServerHello parsed as a ClientHello")
	}
}

func TestClientHelloViewDoesNotAllocate(t *testing.T) {
	record, _ := captureClientHello(t, &Config{ServerName: "localhost"})
	var sum int
	allocs := testing.AllocsPerRun(100, func() {
		v, err := parseClientHello(record)
		if err != nil {
			t.Fatal(err)
		}
		v.CipherSuites(func(s uint16) bool { sum += int(s); return true })
		v.SupportedGroups(func(g uint16) bool { sum += int(g); return true })
		v.KeyShareGroups(func(g uint16) bool { sum += int(g); return true })
		v.ALPN(func(p []byte) bool { sum += len(p); return true })
		sum += len(v.ServerName())
	})
	if allocs != 0 {
		t.Errorf("parsing a ClientHello allocates %.0f times", allocs)
	}
}

func FuzzParseClientHello(f *testing.F) {
	// A minimal TLS 1.2 hello with SNI "a" and ALPN "h2", and an empty one.
	seed, _ := hex.DecodeString("160301" + "0042" + "01" + "00003e" + "0303" +
		strings.Repeat("00", 32) + "00" + "0002c02b" + "0100" + "0013" +
		"0000" + "0006" + "0004" + "00" + "0001" + "61" +
		"0010" + "0005" + "0003" + "02" + "6832")
	v, err := parseClientHello(seed)
	if err != nil || string(v.ServerName()) != "a" {
		f.Fatalf("seed: %v, SNI %q", err, v.ServerName())
	}
	f.Add(seed)
	f.Add([]byte{22, 3, 1, 0, 0})
	f.Fuzz(func(t *testing.T, record []byte) {
		v, err := parseClientHello(record)
		if err != nil {
			return
		}
		ev := helloEventFromWire(v, &net.TCPConn{})
		_ = ev.String()
	})
}
