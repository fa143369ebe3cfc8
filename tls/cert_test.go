package tls

import (
	"crypto/x509"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestIssuedCertificates(t *testing.T) {
	p := newTestPKI(t)
	ca := p.ca.Cert
	if !ca.IsCA || !ca.MaxPathLenZero || ca.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Errorf("CA: IsCA %v, MaxPathLenZero %v, KeyUsage %v", ca.IsCA, ca.MaxPathLenZero, ca.KeyUsage)
	}
	if keyType(ca.PublicKey) != "ECDSA P-256" {
		t.Errorf("CA key = %s", keyType(ca.PublicKey))
	}
	server := p.server.Cert
	if len(server.DNSNames) != 1 || server.DNSNames[0] != "localhost" ||
		len(server.IPAddresses) != 1 || !server.IPAddresses[0].Equal(net.IPv4(127, 0, 0, 1)) {
		t.Errorf("server SANs: DNS %v, IP %v", server.DNSNames, server.IPAddresses)
	}
	if server.IsCA || len(server.ExtKeyUsage) != 1 || server.ExtKeyUsage[0] != x509.ExtKeyUsageServerAuth {
		t.Errorf("server: IsCA %v, ExtKeyUsage %v", server.IsCA, server.ExtKeyUsage)
	}
	if got := server.NotAfter.Sub(server.NotBefore); got != LeafValidity {
		t.Errorf("server validity = %v, want %v", got, LeafValidity)
	}
	if !server.NotBefore.Before(time.Now()) {
		t.Errorf("server NotBefore %v is not in the past", server.NotBefore)
	}
	client := p.client.Cert
	if client.Subject.CommonName != "student-1" || client.ExtKeyUsage[0] != x509.ExtKeyUsageClientAuth {
		t.Errorf("client: %v, %v", client.Subject, client.ExtKeyUsage)
	}
	for name, c := range map[string]*x509.Certificate{"server": server, "client": client} {
		usage := x509.ExtKeyUsageServerAuth
		if name == "client" {
			usage = x509.ExtKeyUsageClientAuth
		}
		if _, err := c.Verify(x509.VerifyOptions{Roots: p.ca.Pool(), KeyUsages: []x509.ExtKeyUsage{usage}}); err != nil {
			t.Errorf("%s certificate does not verify against the CA: %v", name, err)
		}
	}
	if _, err := p.ca.IssueServer(); err == nil {
		t.Error("IssueServer with no names succeeded")
	}
}

func TestWriteAndLoadFiles(t *testing.T) {
	p := newTestPKI(t)
	dir := t.TempDir()
	path := func(name string) string { return filepath.Join(dir, name) }
	if err := p.ca.WriteFiles(path("ca.pem"), path("ca-key.pem")); err != nil {
		t.Fatal(err)
	}
	if err := p.server.WriteFiles(path("server.pem"), path("server-key.pem")); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"ca-key.pem", "server-key.pem"} {
		if info, err := os.Stat(path(key)); err != nil || info.Mode().Perm() != 0o600 {
			t.Errorf("%s mode = %v, %v; want 0600", key, info.Mode(), err)
		}
	}

	pair, err := LoadKeyPair(path("server.pem"), path("server-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if !pair.Leaf.Equal(p.server.Cert) {
		t.Error("loaded certificate differs from the written one")
	}
	pool, err := LoadCertPool(path("ca.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if !pool.Equal(p.ca.Pool()) {
		t.Error("loaded CA pool differs")
	}
	ca, err := LoadCA(path("ca.pem"), path("ca-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	again, err := ca.IssueServer("198.18.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := again.Cert.Verify(x509.VerifyOptions{Roots: pool}); err != nil {
		t.Errorf("certificate from the reloaded CA does not verify: %v", err)
	}
	if _, err := LoadCA(path("server.pem"), path("server-key.pem")); err == nil || !strings.Contains(err.Error(), "not a CA") {
		t.Errorf("LoadCA of a server certificate: %v", err)
	}
}

func TestLoadKeyPairErrors(t *testing.T) {
	p := newTestPKI(t)
	dir := t.TempDir()
	path := func(name string) string { return filepath.Join(dir, name) }
	if err := p.server.WriteFiles(path("server.pem"), path("server-key.pem")); err != nil {
		t.Fatal(err)
	}
	if err := p.client.WriteFiles(path("client.pem"), path("client-key.pem")); err != nil {
		t.Fatal(err)
	}
	expired, err := p.ca.Issue(CertRequest{CommonName: "old", DNSNames: []string{"old.example"},
		NotBefore: time.Now().Add(-10 * 24 * time.Hour), Validity: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if err := expired.WriteFiles(path("old.pem"), path("old-key.pem")); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(path("empty.pem"), nil, 0o600)
	os.WriteFile(path("der.cer"), p.server.Cert.Raw, 0o600)

	for _, tc := range []struct {
		name      string
		cert, key string
		is        error
		mentions  []string
	}{
		{"missing certificate", "nope.pem", "server-key.pem", fs.ErrNotExist, []string{"nope.pem"}},
		{"missing key", "server.pem", "nope-key.pem", fs.ErrNotExist, []string{"nope-key.pem"}},
		{"empty certificate", "empty.pem", "server-key.pem", ErrNotPEM, []string{"empty.pem", "BEGIN CERTIFICATE"}},
		{"DER certificate", "der.cer", "server-key.pem", ErrNotPEM, []string{"DER"}},
		{"swapped", "server-key.pem", "server.pem", ErrNotPEM, []string{"PRIVATE KEY", "swapped"}},
		{"key of another certificate", "server.pem", "client-key.pem", ErrKeyMismatch, []string{"CN=localhost"}},
		{"expired", "old.pem", "old-key.pem", ErrExpired, []string{"CN=old", "valid from"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadKeyPair(path(tc.cert), path(tc.key))
			if !errors.Is(err, tc.is) {
				t.Fatalf("error = %v, want %v", err, tc.is)
			}
			wantContains(t, err, tc.mentions...)
		})
	}
}

func TestDescribeCertificate(t *testing.T) {
	p := newTestPKI(t)
	info := DescribeCertificate(p.server.Cert)
	if info.Subject != "CN=localhost" || info.Issuer != "CN=tundra test CA,O=tundra test CA" ||
		info.KeyType != "ECDSA P-256" || info.IsCA || len(info.IPAddresses) != 1 || info.IPAddresses[0] != "127.0.0.1" {
		t.Errorf("info = %+v", info)
	}
}
