package tls

import (
	cryptotls "crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// Certificate is a certificate chain with its private key, as crypto/tls
// uses it. LoadKeyPair and Issued.TLSCertificate make one.
type Certificate = cryptotls.Certificate

// ClientAuth is a server's policy for client certificates (mutual TLS).
type ClientAuth uint8

const (
	// NoClientCert does not ask the client for a certificate.
	NoClientCert ClientAuth = iota
	// RequestClientCert asks for a certificate; a client may send none, but a
	// certificate that is sent must verify against Config.ClientCAs.
	RequestClientCert
	// RequireClientCert demands a certificate that verifies against
	// Config.ClientCAs, and ends the handshake without one.
	RequireClientCert
)

// String names the policy.
func (a ClientAuth) String() string {
	switch a {
	case NoClientCert:
		return "no client certificate"
	case RequestClientCert:
		return "request client certificate"
	case RequireClientCert:
		return "require client certificate"
	}
	return fmt.Sprintf("ClientAuth(%d)", uint8(a))
}

// ProtocolHTTP11 is the ALPN name of HTTP/1.1 (RFC 7301 section 6), offered
// when Config.NextProtos is nil.
const ProtocolHTTP11 = "http/1.1"

// DefaultClientSessionCacheSize is the number of sessions a client keeps for
// resumption when Config.ClientSessionCache is nil.
const DefaultClientSessionCacheSize = 64

// tls12Suites are the TLS 1.2 suites allowed: ECDHE key exchange (forward
// secrecy) and AEAD ciphers only. RSA key exchange, CBC and RC4 are left out.
// TLS 1.3 suites (RFC 8446 section 9.1) are all AEAD and are not configurable
// in crypto/tls.
var tls12Suites = []uint16{
	cryptotls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	cryptotls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	cryptotls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	cryptotls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	cryptotls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	cryptotls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// Config configures TLS for a server, a client or both. The zero value of
// each field is a safe default. A Config may be shared by many connections
// and goroutines, but must not be changed after its first use: the session
// cache and the session ticket keys live in it from then on.
type Config struct {
	// Certificates holds the server's certificate chains with their keys.
	// On a client it holds the certificate offered for mutual TLS.
	// LoadKeyPair and Issued.TLSCertificate make them.
	Certificates []Certificate

	// RootCAs are the CAs a client trusts to sign server certificates. Nil
	// means the system's trusted roots.
	RootCAs *x509.CertPool

	// ServerName is the name a client sends as SNI and expects in the
	// server's certificate. A Dialer fills it in from the address it dials
	// when it is empty.
	ServerName string

	// InsecureSkipVerify makes a client accept any server certificate. It is
	// for experiments only: anyone in the middle can then read the traffic.
	InsecureSkipVerify bool

	// ClientAuth is the server's policy for client certificates.
	ClientAuth ClientAuth

	// ClientCAs are the CAs a server trusts to sign client certificates. It
	// must be set when ClientAuth is not NoClientCert.
	ClientCAs *x509.CertPool

	// NextProtos are the ALPN protocols offered (client) or accepted
	// (server), most preferred first. Nil means ["http/1.1"]; an empty,
	// non-nil slice turns ALPN off.
	NextProtos []string

	// MinVersion is the lowest version accepted; zero means TLS 1.2.
	// Versions below TLS 1.2 are refused.
	MinVersion uint16

	// MaxVersion is the highest version offered; zero means TLS 1.3.
	MaxVersion uint16

	// SessionTicketsDisabled stops a server from issuing session tickets
	// and a client from using them, so no handshake is resumed.
	SessionTicketsDisabled bool

	// ClientSessionCache stores a client's sessions for resumption. Nil
	// means an LRU cache of DefaultClientSessionCacheSize sessions, owned by
	// this Config.
	ClientSessionCache cryptotls.ClientSessionCache

	// KeyLogWriter, when set, receives the connection secrets in the
	// SSLKEYLOGFILE format (see OpenKeyLog). For debugging only.
	KeyLogWriter io.Writer

	// Trace, when set, receives every step of every handshake.
	Trace *Trace

	// Time returns the current time for certificate checks; nil means
	// time.Now.
	Time func() time.Time

	once sync.Once
	base *cryptotls.Config
	err  error
}

// Clone returns a copy of c's settings, not yet used, which may be changed
// before its own first use. The copy shares ClientSessionCache when c has
// one set, but not the cache or ticket keys c made for itself.
func (c *Config) Clone() *Config {
	return &Config{
		Certificates:           c.Certificates,
		RootCAs:                c.RootCAs,
		ServerName:             c.ServerName,
		InsecureSkipVerify:     c.InsecureSkipVerify,
		ClientAuth:             c.ClientAuth,
		ClientCAs:              c.ClientCAs,
		NextProtos:             c.NextProtos,
		MinVersion:             c.MinVersion,
		MaxVersion:             c.MaxVersion,
		SessionTicketsDisabled: c.SessionTicketsDisabled,
		ClientSessionCache:     c.ClientSessionCache,
		KeyLogWriter:           c.KeyLogWriter,
		Trace:                  c.Trace,
		Time:                   c.Time,
	}
}

// ErrBadConfig reports a Config that cannot be used; the error wrapping it
// says which field is wrong.
var ErrBadConfig = errors.New("tls: bad config")

// CryptoConfig returns the crypto/tls configuration built from c, for code
// that wants crypto/tls or net/http directly. It shares c's session cache
// and session ticket keys. Trace is not applied to it.
func (c *Config) CryptoConfig() (*cryptotls.Config, error) {
	base, err := c.build()
	if err != nil {
		return nil, err
	}
	clone := base.Clone()
	clone.GetConfigForClient = nil // the trace hook; it needs a *Conn
	return clone, nil
}

// build checks c and makes the crypto/tls configuration once.
func (c *Config) build() (*cryptotls.Config, error) {
	if c == nil {
		return nil, fmt.Errorf("%w: nil Config", ErrBadConfig)
	}
	c.once.Do(func() { c.base, c.err = c.makeBase() })
	return c.base, c.err
}

func (c *Config) makeBase() (*cryptotls.Config, error) {
	minVersion, maxVersion := c.MinVersion, c.MaxVersion
	if minVersion == 0 {
		minVersion = cryptotls.VersionTLS12
	}
	if maxVersion == 0 {
		maxVersion = cryptotls.VersionTLS13
	}
	if minVersion < cryptotls.VersionTLS12 {
		return nil, fmt.Errorf("%w: MinVersion %s is below TLS 1.2 (TLS 1.0 and 1.1 are deprecated by RFC 8996)",
			ErrBadConfig, cryptotls.VersionName(minVersion))
	}
	if maxVersion > cryptotls.VersionTLS13 || maxVersion < minVersion {
		return nil, fmt.Errorf("%w: MaxVersion %s with MinVersion %s",
			ErrBadConfig, cryptotls.VersionName(maxVersion), cryptotls.VersionName(minVersion))
	}

	var clientAuth cryptotls.ClientAuthType
	switch c.ClientAuth {
	case NoClientCert:
		clientAuth = cryptotls.NoClientCert
	case RequestClientCert:
		clientAuth = cryptotls.VerifyClientCertIfGiven
	case RequireClientCert:
		clientAuth = cryptotls.RequireAndVerifyClientCert
	default:
		return nil, fmt.Errorf("%w: unknown ClientAuth %d", ErrBadConfig, c.ClientAuth)
	}
	if c.ClientAuth != NoClientCert && c.ClientCAs == nil {
		return nil, fmt.Errorf("%w: ClientAuth is %q but ClientCAs is nil (which CA signs the client certificates?)",
			ErrBadConfig, c.ClientAuth)
	}

	protos := c.NextProtos
	if protos == nil {
		protos = []string{ProtocolHTTP11}
	}
	cache := c.ClientSessionCache
	if cache == nil && !c.SessionTicketsDisabled {
		cache = cryptotls.NewLRUClientSessionCache(DefaultClientSessionCacheSize)
	}

	base := &cryptotls.Config{
		Certificates:           c.Certificates,
		RootCAs:                c.RootCAs,
		ServerName:             c.ServerName,
		InsecureSkipVerify:     c.InsecureSkipVerify,
		ClientAuth:             clientAuth,
		ClientCAs:              c.ClientCAs,
		NextProtos:             protos,
		MinVersion:             minVersion,
		MaxVersion:             maxVersion,
		CipherSuites:           tls12Suites,
		SessionTicketsDisabled: c.SessionTicketsDisabled,
		ClientSessionCache:     cache,
		KeyLogWriter:           c.KeyLogWriter,
		Time:                   c.Time,
	}
	if c.Trace != nil {
		base.GetConfigForClient = traceServerHandshakes(c, base)
	}
	return base, nil
}
