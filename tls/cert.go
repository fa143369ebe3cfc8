package tls

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	cryptotls "crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"time"
)

// Errors from loading certificates and keys; the error wrapping one names
// the file.
var (
	// ErrNotPEM: a file holds no PEM block of the kind wanted.
	ErrNotPEM = errors.New("not PEM")
	// ErrKeyMismatch: the private key does not belong to the certificate.
	ErrKeyMismatch = errors.New("private key does not match the certificate")
)

// Validity periods of the certificates this package makes.
const (
	// CAValidity is how long a CA made by NewCA is valid.
	CAValidity = 5 * 365 * 24 * time.Hour
	// LeafValidity is how long an issued certificate is valid: 397 days,
	// the most that browsers accept for a server certificate.
	LeafValidity = 397 * 24 * time.Hour
	// clockSkew back-dates NotBefore, so that a peer whose clock is a little
	// behind still accepts a certificate made a moment ago.
	clockSkew = time.Hour
)

// LoadKeyPair reads a PEM certificate chain (leaf first) and its PEM private
// key (PKCS #8, SEC 1 "EC PRIVATE KEY" or PKCS #1 "RSA PRIVATE KEY"). The
// errors say what is wrong: a missing file, a file that is not PEM, a key
// that does not match the certificate, or a certificate that is expired or
// not yet valid (errors.Is with ErrNotPEM, ErrKeyMismatch, ErrExpired).
func LoadKeyPair(certFile, keyFile string) (Certificate, error) {
	var out Certificate
	chain, err := readCertificates(certFile)
	if err != nil {
		return out, err
	}
	key, err := readPrivateKey(keyFile)
	if err != nil {
		return out, err
	}
	leaf := chain[0]
	pub, ok := leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(key.Public()) {
		return out, fmt.Errorf("tls: %s and %s: %w (%s key in the certificate for %q, %s key in the key file)",
			certFile, keyFile, ErrKeyMismatch, keyType(leaf.PublicKey), leaf.Subject, keyType(key.Public()))
	}
	if now := time.Now(); now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
		return out, fmt.Errorf("tls: %s: certificate for %q %w: valid from %s to %s, and it is now %s",
			certFile, leaf.Subject, ErrExpired, leaf.NotBefore.UTC().Format(time.RFC3339),
			leaf.NotAfter.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	for _, c := range chain {
		out.Certificate = append(out.Certificate, c.Raw)
	}
	out.PrivateKey = key
	out.Leaf = leaf
	return out, nil
}

// LoadCertPool reads a PEM file of CA certificates (such as ca.pem written
// by CA.WriteFiles) into a pool for Config.RootCAs or Config.ClientCAs.
func LoadCertPool(caFile string) (*x509.CertPool, error) {
	certs, err := readCertificates(caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool, nil
}

// readCertificates parses every CERTIFICATE block of a PEM file.
func readCertificates(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tls: reading certificate: %w", err)
	}
	var certs []*x509.Certificate
	var otherTypes []string
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			otherTypes = append(otherTypes, block.Type)
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("tls: %s: certificate %d: %w", path, len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		if len(otherTypes) > 0 {
			return nil, fmt.Errorf("tls: %s: %w CERTIFICATE: it holds only %q blocks (are the certificate and key files swapped?)",
				path, ErrNotPEM, otherTypes)
		}
		return nil, fmt.Errorf("tls: %s: %w: no \"-----BEGIN CERTIFICATE-----\" block (is it DER, or empty?)", path, ErrNotPEM)
	}
	return certs, nil
}

// readPrivateKey parses the first private key block of a PEM file.
func readPrivateKey(path string) (crypto.Signer, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("tls: reading private key: %w", err)
	}
	var otherTypes []string
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		var key any
		switch block.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		default:
			otherTypes = append(otherTypes, block.Type)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("tls: %s: %s block: %w", path, block.Type, err)
		}
		signer, ok := key.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("tls: %s: %T cannot sign", path, key)
		}
		return signer, nil
	}
	if len(otherTypes) > 0 {
		return nil, fmt.Errorf("tls: %s: %w private key: it holds only %q blocks (are the certificate and key files swapped?)",
			path, ErrNotPEM, otherTypes)
	}
	return nil, fmt.Errorf("tls: %s: %w: no \"-----BEGIN PRIVATE KEY-----\" block (is it DER, or empty?)", path, ErrNotPEM)
}

// CA is a certificate authority for a test network: a self-signed ECDSA
// P-256 certificate and its key, which signs server and client
// certificates. Clients that trust CA.Cert (curl --cacert ca.pem, or
// Config.RootCAs = ca.Pool()) accept the servers it signed.
type CA struct {
	// Cert is the CA's self-signed certificate.
	Cert *x509.Certificate
	// Key is the CA's private key.
	Key crypto.Signer
}

// NewCA makes a CA named commonName, valid for CAValidity. It may sign end
// certificates only, not other CAs (path length zero).
func NewCA(commonName string) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	template := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: commonName, Organization: []string{"tundra test CA"}},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(CAValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, key.Public(), key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &CA{Cert: cert, Key: key}, nil
}

// LoadCA reads a CA written by CA.WriteFiles, so that a test network keeps
// one CA (and clients keep trusting it) across runs.
func LoadCA(certFile, keyFile string) (*CA, error) {
	pair, err := LoadKeyPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	if !pair.Leaf.IsCA {
		return nil, fmt.Errorf("tls: %s: %q is not a CA certificate", certFile, pair.Leaf.Subject)
	}
	return &CA{Cert: pair.Leaf, Key: pair.PrivateKey.(crypto.Signer)}, nil
}

// Pool returns a certificate pool holding only this CA.
func (ca *CA) Pool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	return pool
}

// CertPEM returns the CA's certificate in PEM form.
func (ca *CA) CertPEM() []byte { return encodeCertificate(ca.Cert) }

// WriteFiles writes the CA's certificate (for clients: curl --cacert) and
// its private key (mode 0600) as PEM files.
func (ca *CA) WriteFiles(certFile, keyFile string) error {
	return writePair(certFile, keyFile, ca.CertPEM(), ca.Key)
}

// Usage says what an issued certificate is for (its extended key usage,
// RFC 5280 section 4.2.1.12).
type Usage uint8

const (
	// ServerUsage is for a TLS server (id-kp-serverAuth).
	ServerUsage Usage = iota
	// ClientUsage is for a TLS client in mutual TLS (id-kp-clientAuth).
	ClientUsage
)

// CertRequest describes a certificate for CA.Issue.
type CertRequest struct {
	// CommonName is the subject's name. Servers are matched on DNSNames and
	// IPAddresses, never on it (RFC 6125 section 6.4.4).
	CommonName string
	// DNSNames and IPAddresses become subject alternative names.
	DNSNames    []string
	IPAddresses []net.IP
	// Usage is ServerUsage or ClientUsage.
	Usage Usage
	// NotBefore is the start of validity; zero means an hour ago.
	NotBefore time.Time
	// Validity is how long it is valid from NotBefore; zero means
	// LeafValidity.
	Validity time.Duration
}

// Issued is a certificate signed by a CA, with its new ECDSA P-256 key.
type Issued struct {
	// Cert is the certificate.
	Cert *x509.Certificate
	// Key is its private key.
	Key *ecdsa.PrivateKey
}

// IssueServer issues a server certificate valid for names, each a DNS name
// or an IP address (such as "localhost", "127.0.0.1", "198.18.0.1").
func (ca *CA) IssueServer(names ...string) (*Issued, error) {
	if len(names) == 0 {
		return nil, errors.New("tls: a server certificate needs at least one DNS name or IP address")
	}
	req := CertRequest{CommonName: names[0], Usage: ServerUsage}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			req.IPAddresses = append(req.IPAddresses, ip)
		} else {
			req.DNSNames = append(req.DNSNames, n)
		}
	}
	return ca.Issue(req)
}

// IssueClient issues a client certificate for mutual TLS, with commonName as
// its subject.
func (ca *CA) IssueClient(commonName string) (*Issued, error) {
	return ca.Issue(CertRequest{CommonName: commonName, Usage: ClientUsage})
}

// Issue makes a new key and a certificate for it signed by ca.
func (ca *CA) Issue(req CertRequest) (*Issued, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, err
	}
	notBefore := req.NotBefore
	if notBefore.IsZero() {
		notBefore = time.Now().Add(-clockSkew)
	}
	validity := req.Validity
	if validity == 0 {
		validity = LeafValidity
	}
	extUsage := x509.ExtKeyUsageServerAuth
	if req.Usage == ClientUsage {
		extUsage = x509.ExtKeyUsageClientAuth
	}
	template := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: req.CommonName},
		DNSNames:     req.DNSNames,
		IPAddresses:  req.IPAddresses,
		NotBefore:    notBefore,
		NotAfter:     notBefore.Add(validity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{extUsage},
	}
	der, err := x509.CreateCertificate(rand.Reader, template, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &Issued{Cert: cert, Key: key}, nil
}

// TLSCertificate returns the certificate and key for Config.Certificates.
func (i *Issued) TLSCertificate() cryptotls.Certificate {
	return cryptotls.Certificate{Certificate: [][]byte{i.Cert.Raw}, PrivateKey: i.Key, Leaf: i.Cert}
}

// CertPEM returns the certificate in PEM form.
func (i *Issued) CertPEM() []byte { return encodeCertificate(i.Cert) }

// KeyPEM returns the private key as a PEM "PRIVATE KEY" (PKCS #8) block.
func (i *Issued) KeyPEM() ([]byte, error) { return encodeKey(i.Key) }

// WriteFiles writes the certificate and its private key (mode 0600) as PEM
// files that LoadKeyPair, curl --cert/--key and openssl read.
func (i *Issued) WriteFiles(certFile, keyFile string) error {
	return writePair(certFile, keyFile, i.CertPEM(), i.Key)
}

func encodeCertificate(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

func encodeKey(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

func writePair(certFile, keyFile string, certPEM []byte, key crypto.Signer) error {
	keyPEM, err := encodeKey(key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(certFile, certPEM, 0o644); err != nil {
		return fmt.Errorf("tls: writing certificate: %w", err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		return fmt.Errorf("tls: writing private key: %w", err)
	}
	return nil
}

// randomSerial returns a random positive 128-bit serial number (RFC 5280
// section 4.1.2.2 allows up to 20 octets).
func randomSerial() (*big.Int, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	b[0] &= 0x7f
	b[0] |= 0x40 // never zero, and the same length every time
	return new(big.Int).SetBytes(b[:]), nil
}

// keyType names a public key's algorithm and size, as "ECDSA P-256".
func keyType(pub crypto.PublicKey) string {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		return "ECDSA " + k.Curve.Params().Name
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA %d-bit", k.N.BitLen())
	case ed25519.PublicKey:
		return "Ed25519"
	}
	return fmt.Sprintf("%T", pub)
}
