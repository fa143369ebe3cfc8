package tls

import (
	cryptotls "crypto/tls"
	"errors"
	"strings"
	"testing"
	"time"
)

// mutualConfigs returns a server that asks for client certificates signed
// by the test CA, and a client that trusts the test CA.
func mutualConfigs(p testPKI, policy ClientAuth, version uint16) (server, client *Config) {
	server = p.serverConfig()
	server.ClientAuth = policy
	server.ClientCAs = p.ca.Pool()
	server.MaxVersion = version
	client = p.clientConfig()
	return server, client
}

func TestMutualTLS(t *testing.T) {
	p := newTestPKI(t)
	foreignCA, err := NewCA("someone else's CA")
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := foreignCA.IssueClient("intruder")
	if err != nil {
		t.Fatal(err)
	}

	for _, version := range []uint16{cryptotls.VersionTLS13, cryptotls.VersionTLS12} {
		t.Run(cryptotls.VersionName(version), func(t *testing.T) {
			t.Run("good certificate", func(t *testing.T) {
				serverCfg, clientCfg := mutualConfigs(p, RequireClientCert, version)
				clientCfg.Certificates = []Certificate{p.client.TLSCertificate()}
				for i, wantResumed := range []bool{false, true} {
					r := handshakeLoopback(t, serverCfg, clientCfg)
					ce, se := exchange(r.client, r.server)
					if r.clientErr != nil || r.serverErr != nil || ce != nil || se != nil {
						t.Fatalf("client %v/%v, server %v/%v", r.clientErr, ce, r.serverErr, se)
					}
					// A resumed session remembers the client's certificate.
					state := r.server.ConnectionState()
					if len(state.PeerCertificates) == 0 || state.PeerCertificates[0].Subject.CommonName != "student-1" {
						t.Errorf("connection %d: server sees client certificate %v, want CN=student-1", i, state.PeerCertificates)
					}
					if state.DidResume != wantResumed {
						t.Errorf("connection %d: DidResume = %v, want %v", i, state.DidResume, wantResumed)
					}
				}
			})

			t.Run("no certificate", func(t *testing.T) {
				serverCfg, clientCfg := mutualConfigs(p, RequireClientCert, version)
				serverErr, clientErr := failedMutual(t, serverCfg, clientCfg)
				var verr *VerifyError
				if !errors.As(serverErr, &verr) || verr.Owner != ClientSide || !errors.Is(serverErr, ErrNoCertificate) {
					t.Errorf("server error = %v, want a VerifyError about the client with ErrNoCertificate", serverErr)
				}
				wantContains(t, serverErr, "client certificate refused", "no certificate given")
				var aerr *AlertError
				if !errors.As(clientErr, &aerr) || aerr.From != ServerSide {
					t.Fatalf("client error = %v, want an AlertError from the server", clientErr)
				}
				// TLS 1.3 sends certificate_required (RFC 8446 section
				// 4.4.2.4), TLS 1.2 handshake_failure; the client knows it
				// was asked for a certificate and had none either way.
				if !errors.Is(clientErr, ErrNoCertificate) {
					t.Errorf("client error = %v, want ErrNoCertificate", clientErr)
				}
				wantContains(t, clientErr, "asked for a client certificate")
			})

			t.Run("foreign certificate", func(t *testing.T) {
				serverCfg, clientCfg := mutualConfigs(p, RequireClientCert, version)
				clientCfg.Certificates = []Certificate{foreign.TLSCertificate()}
				serverErr, clientErr := failedMutual(t, serverCfg, clientCfg)
				if !errors.Is(serverErr, ErrUnknownAuthority) {
					t.Errorf("server error = %v, want ErrUnknownAuthority", serverErr)
				}
				wantContains(t, serverErr, "client certificate refused", "CN=intruder", "someone else's CA", "not among the trusted CAs")
				if !errors.Is(clientErr, ErrUnknownAuthority) {
					t.Errorf("client error = %v, want ErrUnknownAuthority (alert unknown_ca)", clientErr)
				}
				wantContains(t, clientErr, "the server sent alert 48", "does not trust the CA")
			})

			t.Run("request without certificate", func(t *testing.T) {
				serverCfg, clientCfg := mutualConfigs(p, RequestClientCert, version)
				r := handshakeLoopback(t, serverCfg, clientCfg)
				ce, se := exchange(r.client, r.server)
				if r.clientErr != nil || r.serverErr != nil || ce != nil || se != nil {
					t.Fatalf("client %v/%v, server %v/%v", r.clientErr, ce, r.serverErr, se)
				}
				if n := len(r.server.ConnectionState().PeerCertificates); n != 0 {
					t.Errorf("server sees %d client certificates, want 0", n)
				}
			})

			t.Run("request with foreign certificate", func(t *testing.T) {
				// Asking is optional; a certificate that is sent must verify.
				serverCfg, clientCfg := mutualConfigs(p, RequestClientCert, version)
				clientCfg.Certificates = []Certificate{foreign.TLSCertificate()}
				serverErr, _ := failedMutual(t, serverCfg, clientCfg)
				if !errors.Is(serverErr, ErrUnknownAuthority) {
					t.Errorf("server error = %v, want ErrUnknownAuthority", serverErr)
				}
			})
		})
	}
}

// failedMutual runs a handshake and a message exchange that must fail, and
// returns the first error each side saw. In TLS 1.3 the client finishes its
// handshake before the server has checked the client's certificate, and
// learns of the refusal from the alert on its next read.
func failedMutual(t *testing.T, serverCfg, clientCfg *Config) (serverErr, clientErr error) {
	t.Helper()
	r := handshakeLoopback(t, serverCfg, clientCfg)
	serverErr, clientErr = r.serverErr, r.clientErr
	if serverErr == nil || clientErr == nil {
		ce, se := exchange(r.client, r.server)
		if serverErr == nil {
			serverErr = se
		}
		if clientErr == nil {
			clientErr = ce
		}
	}
	if serverErr == nil || clientErr == nil {
		t.Fatalf("handshake succeeded: server error %v, client error %v", serverErr, clientErr)
	}
	return serverErr, clientErr
}

func wantContains(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("error is nil, want one mentioning %q", parts)
		return
	}
	for _, part := range parts {
		if !strings.Contains(err.Error(), part) {
			t.Errorf("error %q does not mention %q", err, part)
		}
	}
}

func TestClientRefusesServerCertificate(t *testing.T) {
	p := newTestPKI(t)
	otherCA, err := NewCA("untrusted CA")
	if err != nil {
		t.Fatal(err)
	}
	stranger, err := otherCA.IssueServer("localhost")
	if err != nil {
		t.Fatal(err)
	}
	expired, err := p.ca.Issue(CertRequest{CommonName: "localhost", DNSNames: []string{"localhost"},
		NotBefore: time.Now().Add(-48 * time.Hour), Validity: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name       string
		cert       *Issued
		serverName string
		reason     error
		mentions   []string
	}{
		{"unknown authority", stranger, "localhost", ErrUnknownAuthority,
			[]string{"server certificate refused", "CN=untrusted CA", "not among the trusted CAs"}},
		{"expired", expired, "localhost", ErrExpired,
			[]string{"server certificate refused", "expired or not yet valid", "valid from"}},
		{"wrong name", p.server, "example.org", ErrWrongName,
			[]string{"server certificate refused", "wrong name", "DNS:localhost", `"example.org"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			serverCfg := &Config{Certificates: []Certificate{tc.cert.TLSCertificate()}}
			clientCfg := &Config{RootCAs: p.ca.Pool(), ServerName: tc.serverName}
			r := handshakeLoopback(t, serverCfg, clientCfg)
			var verr *VerifyError
			if !errors.As(r.clientErr, &verr) || verr.Owner != ServerSide || !errors.Is(r.clientErr, tc.reason) {
				t.Fatalf("client error = %v, want a VerifyError about the server with %v", r.clientErr, tc.reason)
			}
			var certErr *cryptotls.CertificateVerificationError
			if !errors.As(r.clientErr, &certErr) {
				t.Errorf("client error does not wrap the crypto/tls error")
			}
			wantContains(t, r.clientErr, tc.mentions...)
			// The server learns of it from the client's alert.
			var aerr *AlertError
			if !errors.As(r.serverErr, &aerr) || aerr.From != ClientSide {
				t.Errorf("server error = %v, want an AlertError from the client", r.serverErr)
			}
		})
	}

	t.Run("InsecureSkipVerify", func(t *testing.T) {
		serverCfg := &Config{Certificates: []Certificate{stranger.TLSCertificate()}}
		clientCfg := &Config{InsecureSkipVerify: true}
		r := handshakeLoopback(t, serverCfg, clientCfg)
		if r.clientErr != nil || r.serverErr != nil {
			t.Fatalf("client %v, server %v", r.clientErr, r.serverErr)
		}
	})
}

func TestExplainLeavesOtherErrorsAlone(t *testing.T) {
	plain := errors.New("something else")
	if got := explain(plain, ClientSide); got != plain {
		t.Errorf("explain changed %v to %v", plain, got)
	}
	if explain(nil, ServerSide) != nil {
		t.Error("explain(nil) is not nil")
	}
	if len(alertCodes) < 20 || alertCodes["tls: unknown certificate authority"] != alertUnknownCA {
		t.Errorf("alert text table has %d entries, unknown_ca -> %d", len(alertCodes), alertCodes["tls: unknown certificate authority"])
	}
}
