package tls

import (
	cryptotls "crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"
)

// Trace reports each step of every handshake made with a Config whose
// Trace field points to it: readable lines to Writer, events to Handler,
// or both. Steps come in protocol order for each connection:
//
//	ClientHelloEvent   what the client offered (sent, or as the server got it)
//	ServerHelloEvent   what was chosen: version, cipher suite, ALPN
//	CertificatesEvent  the peer's certificate chain, when it sent one
//	VerificationEvent  how the chain was checked, or why it was not
//	DoneEvent          success or failure, duration, and resumption
//
// A Trace may be shared by many connections; events of one connection are
// never interleaved with each other, and each is written with one Write.
type Trace struct {
	// Writer receives each event as readable lines; nil writes nothing.
	Writer io.Writer
	// Handler receives each event; nil means none. It is called with the
	// Trace's lock held, so it must not block for long.
	Handler func(Event)

	mu sync.Mutex
}

// NewTrace returns a Trace that writes readable lines to w.
func NewTrace(w io.Writer) *Trace { return &Trace{Writer: w} }

// Event is one step of a handshake: *ClientHelloEvent, *ServerHelloEvent,
// *CertificatesEvent, *VerificationEvent or *DoneEvent.
type Event interface {
	// Header says which connection, which side and when.
	Header() EventHeader
	// String renders the event as readable lines, the header first.
	String() string
}

// EventHeader is what every event carries.
type EventHeader struct {
	// Side is the side that recorded the event.
	Side Side
	// Local and Remote are the addresses of the connection underneath.
	Local, Remote string
	// Time is when the event was recorded.
	Time time.Time
}

// Header returns h itself; the event types get it by embedding.
func (h EventHeader) Header() EventHeader { return h }

// line renders the header as "[client 10.0.0.1:5000 -> 10.0.0.2:443] title".
func (h EventHeader) line(title string) string {
	arrow := "->"
	if h.Side == ServerSide {
		arrow = "<-"
	}
	return fmt.Sprintf("[%s %s %s %s] %s\n", h.Side, h.Local, arrow, h.Remote, title)
}

func newHeader(side Side, conn net.Conn) EventHeader {
	h := EventHeader{Side: side, Time: time.Now()}
	if a := conn.LocalAddr(); a != nil {
		h.Local = a.String()
	}
	if a := conn.RemoteAddr(); a != nil {
		h.Remote = a.String()
	}
	return h
}

// ClientHelloEvent is the client's first message (RFC 8446 section 4.1.2).
// A client records it as sent, read off the wire; a server records it as
// crypto/tls parsed it.
type ClientHelloEvent struct {
	EventHeader
	// Versions are the offered versions, most preferred first.
	Versions []uint16
	// CipherSuites are the offered suites, most preferred first.
	CipherSuites []uint16
	// ServerName is the SNI host name, empty if none was sent.
	ServerName string
	// ALPN are the offered application protocols.
	ALPN []string
	// Groups are the key exchange groups the client supports.
	Groups []cryptotls.CurveID
	// KeyShares are the groups the client already sent a key share for.
	// Only a client knows them; a server records none.
	KeyShares []cryptotls.CurveID
	// SignatureSchemes are the signature algorithms the client accepts.
	SignatureSchemes []cryptotls.SignatureScheme
}

// String renders the hello.
func (e *ClientHelloEvent) String() string {
	var b strings.Builder
	if e.Side == ClientSide {
		b.WriteString(e.line("ClientHello sent"))
	} else {
		b.WriteString(e.line("ClientHello received"))
	}
	field(&b, "versions", joinMapped(e.Versions, cryptotls.VersionName))
	field(&b, "cipher suites", joinMapped(e.CipherSuites, cryptotls.CipherSuiteName))
	field(&b, "server name", quoteOrNone(e.ServerName))
	field(&b, "ALPN", joinOrNone(e.ALPN))
	field(&b, "groups", joinMapped(e.Groups, cryptotls.CurveID.String))
	if e.Side == ClientSide {
		field(&b, "key shares", joinMapped(e.KeyShares, cryptotls.CurveID.String))
	}
	field(&b, "signatures", joinMapped(e.SignatureSchemes, cryptotls.SignatureScheme.String))
	return b.String()
}

// ServerHelloEvent is what the server chose (RFC 8446 sections 4.1.3 and
// 4.3.1).
type ServerHelloEvent struct {
	EventHeader
	// Version is the negotiated version.
	Version uint16
	// CipherSuite is the negotiated suite.
	CipherSuite uint16
	// ALPN is the chosen application protocol, empty if none.
	ALPN string
	// ServerName is the SNI name the server saw (server side) or the name
	// the client asked for (client side).
	ServerName string
	// Resumed reports a resumed session: no certificates were sent.
	Resumed bool
}

// String renders the choice.
func (e *ServerHelloEvent) String() string {
	var b strings.Builder
	if e.Side == ClientSide {
		b.WriteString(e.line("ServerHello received"))
	} else {
		b.WriteString(e.line("ServerHello sent"))
	}
	field(&b, "version", cryptotls.VersionName(e.Version))
	field(&b, "cipher suite", cryptotls.CipherSuiteName(e.CipherSuite))
	field(&b, "ALPN", quoteOrNone(e.ALPN))
	field(&b, "resumed", yesNo(e.Resumed, "session ticket accepted, no certificates sent", "full handshake"))
	return b.String()
}

// CertificateInfo describes one certificate for people: who it is for,
// who signed it, which names it covers and when it is valid.
type CertificateInfo struct {
	// Subject and Issuer are the distinguished names, as "CN=x,O=y".
	Subject, Issuer string
	// DNSNames and IPAddresses are the subject alternative names.
	DNSNames, IPAddresses []string
	// NotBefore and NotAfter bound the validity period.
	NotBefore, NotAfter time.Time
	// KeyType names the public key, as "ECDSA P-256" or "RSA 2048-bit".
	KeyType string
	// IsCA reports a CA certificate.
	IsCA bool
}

// DescribeCertificate summarizes c.
func DescribeCertificate(c *x509.Certificate) CertificateInfo {
	info := CertificateInfo{
		Subject:   c.Subject.String(),
		Issuer:    c.Issuer.String(),
		DNSNames:  c.DNSNames,
		NotBefore: c.NotBefore,
		NotAfter:  c.NotAfter,
		KeyType:   keyType(c.PublicKey),
		IsCA:      c.IsCA,
	}
	for _, ip := range c.IPAddresses {
		info.IPAddresses = append(info.IPAddresses, ip.String())
	}
	return info
}

// CertificatesEvent is the certificate chain the peer sent (RFC 8446
// section 4.4.2), leaf first, as it arrived. A resumed handshake has none.
type CertificatesEvent struct {
	EventHeader
	// Owner is the side that sent the chain.
	Owner Side
	// Chain is the chain, leaf first.
	Chain []CertificateInfo
}

// String renders the chain, one certificate per block.
func (e *CertificatesEvent) String() string {
	var b strings.Builder
	b.WriteString(e.line(fmt.Sprintf("%s certificate chain (%d)", e.Owner, len(e.Chain))))
	for i, c := range e.Chain {
		fmt.Fprintf(&b, "    %d subject:      %s\n", i, c.Subject)
		fmt.Fprintf(&b, "      issuer:       %s\n", c.Issuer)
		var sans []string
		for _, n := range c.DNSNames {
			sans = append(sans, "DNS:"+n)
		}
		for _, ip := range c.IPAddresses {
			sans = append(sans, "IP:"+ip)
		}
		fmt.Fprintf(&b, "      names:        %s\n", joinOrNone(sans))
		fmt.Fprintf(&b, "      valid:        %s to %s\n",
			c.NotBefore.UTC().Format(time.RFC3339), c.NotAfter.UTC().Format(time.RFC3339))
		ca := ""
		if c.IsCA {
			ca = ", CA"
		}
		fmt.Fprintf(&b, "      key:          %s%s\n", c.KeyType, ca)
	}
	return b.String()
}

// VerificationEvent says how the peer's certificate was checked.
type VerificationEvent struct {
	EventHeader
	// Owner is the side whose certificate was checked.
	Owner Side
	// Verified reports that the chain was checked and leads to a trusted
	// CA. When false, How says why nothing was checked.
	Verified bool
	// Chain lists the subjects of the verified chain, leaf to root.
	Chain []string
	// TrustedCA is the subject of the trusted root the chain ends in.
	TrustedCA string
	// Name is the server name checked against the certificate (client
	// side), empty on a server.
	Name string
	// How says in words how the check was done, or why it was skipped.
	How string
}

// String renders the check.
func (e *VerificationEvent) String() string {
	var b strings.Builder
	if e.Verified {
		b.WriteString(e.line(fmt.Sprintf("%s certificate verified", e.Owner)))
		field(&b, "chain", strings.Join(e.Chain, " <- "))
		field(&b, "trusted CA", e.TrustedCA)
		if e.Name != "" {
			field(&b, "name", fmt.Sprintf("%q matches the certificate", e.Name))
		}
	} else {
		b.WriteString(e.line(fmt.Sprintf("%s certificate not verified", e.Owner)))
	}
	field(&b, "how", e.How)
	return b.String()
}

// DoneEvent ends a handshake, with its outcome.
type DoneEvent struct {
	EventHeader
	// Duration is the time from the first handshake message to the end.
	Duration time.Duration
	// Resumed reports a resumed session (ConnectionState.DidResume).
	Resumed bool
	// Version and CipherSuite are what was negotiated; zero on failure.
	Version, CipherSuite uint16
	// Err is why the handshake failed, nil on success.
	Err error
}

// String renders the outcome.
func (e *DoneEvent) String() string {
	var b strings.Builder
	if e.Err != nil {
		b.WriteString(e.line(fmt.Sprintf("handshake failed after %v", e.Duration.Round(time.Microsecond))))
		field(&b, "error", e.Err.Error())
		return b.String()
	}
	b.WriteString(e.line(fmt.Sprintf("handshake done in %v", e.Duration.Round(time.Microsecond))))
	field(&b, "session", yesNo(e.Resumed, "resumed", "new (full handshake)"))
	field(&b, "protected by", cryptotls.VersionName(e.Version)+", "+cryptotls.CipherSuiteName(e.CipherSuite))
	return b.String()
}

// emit delivers ev to the writer and the handler.
func (t *Trace) emit(ev Event) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.Writer != nil {
		io.WriteString(t.Writer, ev.String())
	}
	if t.Handler != nil {
		t.Handler(ev)
	}
}

// clientHelloReceived records a hello as a server's crypto/tls parsed it.
func (t *Trace) clientHelloReceived(conn net.Conn, hello *cryptotls.ClientHelloInfo) {
	versions := hello.SupportedVersions
	t.emit(&ClientHelloEvent{
		EventHeader:      newHeader(ServerSide, conn),
		Versions:         versions,
		CipherSuites:     hello.CipherSuites,
		ServerName:       hello.ServerName,
		ALPN:             hello.SupportedProtos,
		Groups:           hello.SupportedCurves,
		SignatureSchemes: hello.SignatureSchemes,
	})
}

// helloEventFromWire builds a client's hello event from the record it sent.
func helloEventFromWire(v clientHelloView, conn net.Conn) *ClientHelloEvent {
	e := &ClientHelloEvent{EventHeader: newHeader(ClientSide, conn), ServerName: string(v.ServerName())}
	v.SupportedVersions(func(ver uint16) bool {
		e.Versions = append(e.Versions, ver)
		return true
	})
	if len(e.Versions) == 0 { // TLS 1.2 and older: no supported_versions
		e.Versions = []uint16{v.LegacyVersion()}
	}
	v.CipherSuites(func(s uint16) bool {
		e.CipherSuites = append(e.CipherSuites, s)
		return true
	})
	v.ALPN(func(p []byte) bool {
		e.ALPN = append(e.ALPN, string(p))
		return true
	})
	v.SupportedGroups(func(g uint16) bool {
		e.Groups = append(e.Groups, cryptotls.CurveID(g))
		return true
	})
	v.KeyShareGroups(func(g uint16) bool {
		e.KeyShares = append(e.KeyShares, cryptotls.CurveID(g))
		return true
	})
	v.SignatureAlgorithms(func(s uint16) bool {
		e.SignatureSchemes = append(e.SignatureSchemes, cryptotls.SignatureScheme(s))
		return true
	})
	return e
}

// negotiated records, from inside crypto/tls's VerifyConnection callback,
// what the server chose, the peer's chain and how it was verified.
// serverName is the name a client checked the certificate against (SNI
// carries no IP addresses, so state.ServerName may be empty).
func (t *Trace) negotiated(side Side, conn net.Conn, state *cryptotls.ConnectionState, cfg *Config, serverName string) {
	header := newHeader(side, conn)
	t.emit(&ServerHelloEvent{
		EventHeader: header,
		Version:     state.Version,
		CipherSuite: state.CipherSuite,
		ALPN:        state.NegotiatedProtocol,
		ServerName:  state.ServerName,
		Resumed:     state.DidResume,
	})
	owner := side.peer()
	// A resumed session restores the peer's certificates from the ticket;
	// none crossed the wire, so there is no Certificate message to show.
	if len(state.PeerCertificates) > 0 && !state.DidResume {
		ev := &CertificatesEvent{EventHeader: header, Owner: owner}
		for _, c := range state.PeerCertificates {
			ev.Chain = append(ev.Chain, DescribeCertificate(c))
		}
		t.emit(ev)
	}

	v := &VerificationEvent{EventHeader: header, Owner: owner}
	switch {
	case len(state.VerifiedChains) > 0:
		v.Verified = true
		chain := state.VerifiedChains[0]
		for _, c := range chain {
			v.Chain = append(v.Chain, c.Subject.String())
		}
		v.TrustedCA = chain[len(chain)-1].Subject.String()
		pool := "the system's roots"
		if side == ClientSide && cfg.RootCAs != nil {
			pool = "Config.RootCAs"
		} else if side == ServerSide {
			pool = "Config.ClientCAs"
		}
		v.How = fmt.Sprintf("signatures, validity dates and key usage checked up to a CA in %s", pool)
		if side == ClientSide {
			v.Name = serverName
			v.How += ", and the name against the certificate's SANs"
		}
		if state.DidResume {
			v.How += " (on the connection that made the session; a resumed session carries the result)"
		}
	case side == ClientSide:
		v.How = "skipped: InsecureSkipVerify is set, so any certificate is accepted"
	case cfg.ClientAuth == NoClientCert:
		v.How = "no client certificate asked for (ClientAuth: no client certificate)"
	case len(state.PeerCertificates) == 0:
		v.How = "the client sent no certificate, which ClientAuth allows (request, not require)"
	default:
		v.How = "the certificate was not checked"
	}
	t.emit(v)
}

// finished records the end of a handshake.
func (t *Trace) finished(side Side, conn net.Conn, tc *cryptotls.Conn, took time.Duration, err error) {
	ev := &DoneEvent{EventHeader: newHeader(side, conn), Duration: took, Err: err}
	if err == nil {
		state := tc.ConnectionState()
		ev.Resumed = state.DidResume
		ev.Version = state.Version
		ev.CipherSuite = state.CipherSuite
	}
	t.emit(ev)
}

func field(b *strings.Builder, name, value string) {
	fmt.Fprintf(b, "    %-15s %s\n", name+":", value)
}

func joinMapped[T any](items []T, name func(T) string) string {
	if len(items) == 0 {
		return "(none)"
	}
	parts := make([]string, len(items))
	for i, it := range items {
		parts[i] = name(it)
	}
	return strings.Join(parts, ", ")
}

func joinOrNone(items []string) string {
	if len(items) == 0 {
		return "(none)"
	}
	return strings.Join(items, ", ")
}

func quoteOrNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return fmt.Sprintf("%q", s)
}

func yesNo(v bool, yes, no string) string {
	if v {
		return "yes, " + yes
	}
	return "no, " + no
}
