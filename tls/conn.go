package tls

import (
	"context"
	cryptotls "crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Side is one end of a TLS connection.
type Side uint8

const (
	// ClientSide is the side that sends the ClientHello.
	ClientSide Side = iota
	// ServerSide is the side that answers it.
	ServerSide
)

// String returns "client" or "server".
func (s Side) String() string {
	if s == ServerSide {
		return "server"
	}
	return "client"
}

// peer returns the other side.
func (s Side) peer() Side { return 1 - s }

// Conn is a TLS connection over a net.Conn. It is a *cryptotls.Conn (and so
// a net.Conn) whose handshake errors are explained (see VerifyError and
// AlertError) and whose handshake is traced when the Config asks for it.
//
// The handshake runs on the first Read or Write, or on an explicit call to
// Handshake or HandshakeContext.
type Conn struct {
	*cryptotls.Conn
	side  Side
	trace *Trace         // nil when not tracing
	raw   *resumableConn // what crypto/tls writes to
	inner net.Conn       // the connection underneath, for NetConn

	// writeDeadline is the write deadline in Unix nanoseconds, 0 for none.
	// See Write.
	writeDeadline atomic.Int64

	// What a client did about a CertificateRequest, to explain the alert a
	// server sends back (see clientCertificate).
	certRequested, certSent atomic.Bool
	clientCerts             []Certificate // Config.Certificates of a client

	// Handshake bookkeeping, used only when tracing.
	startOnce sync.Once
	start     time.Time
	done      atomic.Bool
}

// Server returns the server side of a TLS connection over conn. cfg must
// hold at least one certificate.
func Server(conn net.Conn, cfg *Config) (*Conn, error) {
	base, err := cfg.build()
	if err != nil {
		return nil, err
	}
	if len(base.Certificates) == 0 {
		return nil, fmt.Errorf("%w: a server needs Certificates", ErrBadConfig)
	}
	c := &Conn{side: ServerSide, trace: cfg.Trace, inner: conn}
	c.raw = &resumableConn{Conn: conn, owner: c}
	c.Conn = cryptotls.Server(c.raw, base)
	return c, nil
}

// traceServerHandshakes returns the GetConfigForClient hook that a traced
// server's configuration gets. crypto/tls calls it with each ClientHello;
// the hook records the hello, then answers with a clone of base whose
// VerifyConnection callback knows its connection. The clone has no session
// ticket keys of its own, so crypto/tls seals and opens tickets with base's
// keys, shared by all connections: resumption keeps working. (Cloning
// before base has made its keys would give every connection new ones.)
func traceServerHandshakes(cfg *Config, base *cryptotls.Config) func(*cryptotls.ClientHelloInfo) (*cryptotls.Config, error) {
	return func(hello *cryptotls.ClientHelloInfo) (*cryptotls.Config, error) {
		raw, ok := hello.Conn.(*resumableConn)
		if !ok || raw.owner == nil { // base used directly, as from CryptoConfig
			return nil, nil
		}
		c := raw.owner
		c.markStart()
		c.trace.clientHelloReceived(c.inner, hello)
		perConn := base.Clone()
		perConn.GetConfigForClient = nil
		perConn.VerifyConnection = func(state cryptotls.ConnectionState) error {
			c.trace.negotiated(ServerSide, c.inner, &state, cfg, "")
			return nil
		}
		return perConn, nil
	}
}

// Client returns the client side of a TLS connection over conn. cfg must
// name the server (ServerName) unless InsecureSkipVerify is set; a Dialer
// fills the name in from the address.
func Client(conn net.Conn, cfg *Config) (*Conn, error) {
	base, err := cfg.build()
	if err != nil {
		return nil, err
	}
	return newClient(conn, cfg, base, base.ServerName)
}

// newClient makes a client Conn for serverName.
func newClient(conn net.Conn, cfg *Config, base *cryptotls.Config, serverName string) (*Conn, error) {
	if serverName == "" && !base.InsecureSkipVerify {
		return nil, fmt.Errorf("%w: a client needs ServerName (the name to check in the server's certificate) or InsecureSkipVerify", ErrBadConfig)
	}
	c := &Conn{side: ClientSide, trace: cfg.Trace, inner: conn}
	c.raw = &resumableConn{Conn: conn, owner: c}
	// A clone per connection lets the callbacks below know their connection;
	// the session cache is shared through the pointer in base.
	perConn := base.Clone()
	perConn.ServerName = serverName
	perConn.GetClientCertificate = c.clientCertificate
	c.clientCerts = base.Certificates
	if c.trace != nil {
		perConn.VerifyConnection = func(state cryptotls.ConnectionState) error {
			c.trace.negotiated(ClientSide, conn, &state, cfg, serverName)
			return nil
		}
		// crypto/tls offers no hook that shows the ClientHello it sends, so
		// the trace reads it off the wire on its way out.
		c.raw.Conn = &helloCapture{Conn: conn, onHello: func(hello *ClientHelloEvent) {
			c.trace.emit(hello)
		}, onFirstWrite: c.markStart}
	}
	c.Conn = cryptotls.Client(c.raw, perConn)
	return c, nil
}

// clientCertificate answers a server's CertificateRequest (RFC 8446 section
// 4.3.2). With one certificate it is always sent, as curl and openssl do,
// even when the server lists other CAs as acceptable: the server then says
// clearly why it refuses it, instead of "no certificate". With several, the
// first that the server accepts is sent, or else the first. The answer is
// remembered to explain the server's alert if it refuses.
func (c *Conn) clientCertificate(req *cryptotls.CertificateRequestInfo) (*cryptotls.Certificate, error) {
	c.certRequested.Store(true)
	switch len(c.clientCerts) {
	case 0:
		return &cryptotls.Certificate{}, nil // sends an empty Certificate message
	case 1:
	default:
		for i := range c.clientCerts {
			if req.SupportsCertificate(&c.clientCerts[i]) == nil {
				c.certSent.Store(true)
				return &c.clientCerts[i], nil
			}
		}
	}
	c.certSent.Store(true)
	return &c.clientCerts[0], nil
}

// explain makes err clear (see the package function explain), and on a
// client uses what it knows about the certificate request to say why a
// server refused the handshake.
func (c *Conn) explain(err error) error {
	err = explain(err, c.side)
	var aerr *AlertError
	if c.side != ClientSide || !c.certRequested.Load() || !errors.As(err, &aerr) {
		return err
	}
	switch uint8(aerr.Alert) {
	case alertHandshakeFailure, alertBadCertificate, alertCertificateRequired:
		explained := *aerr // the error may be shared: a handshake error is sticky
		if !c.certSent.Load() {
			// TLS 1.2 has no certificate_required alert: a server that
			// requires a certificate answers handshake_failure.
			explained.Reason = ErrNoCertificate
			explained.Hint = "the server asked for a client certificate and we had none to send (Config.Certificates)"
		} else if aerr.Reason == nil {
			explained.Reason = ErrBadCertificate
			explained.Hint = "the server refused our client certificate"
		}
		return &explained
	}
	return err
}

// NetConn returns the connection underneath, as given to Server or Client.
// Writing to it directly corrupts the TLS stream.
func (c *Conn) NetConn() net.Conn { return c.inner }

// Side reports whether c is the client or the server end.
func (c *Conn) Side() Side { return c.side }

// Handshake runs the handshake if it has not run yet. See HandshakeContext.
func (c *Conn) Handshake() error {
	return c.HandshakeContext(context.Background())
}

// HandshakeContext runs the handshake if it has not run yet, and returns its
// result. Certificate problems come back as *VerifyError, alerts from the
// peer as *AlertError.
func (c *Conn) HandshakeContext(ctx context.Context) error {
	if c.trace == nil {
		return c.explain(c.Conn.HandshakeContext(ctx))
	}
	c.markStart()
	err := c.explain(c.Conn.HandshakeContext(ctx)) // at once if already done
	if c.done.CompareAndSwap(false, true) {
		c.trace.finished(c.side, c.inner, c.Conn, time.Since(c.start), err)
	}
	return err
}

// markStart records when the handshake began.
func (c *Conn) markStart() {
	c.startOnce.Do(func() { c.start = time.Now() })
}

// Read reads application data, running the handshake first if needed.
func (c *Conn) Read(b []byte) (int, error) {
	if c.trace != nil && !c.done.Load() {
		if err := c.HandshakeContext(context.Background()); err != nil {
			return 0, err
		}
	}
	n, err := c.Conn.Read(b)
	if err != nil {
		err = c.explain(err)
	}
	return n, err
}

// Write writes application data, running the handshake first if needed.
//
// Deadlines work as on any net.Conn, and a write that times out leaves the
// connection usable (crypto/tls alone breaks it for good). A Write whose
// deadline has passed before it starts sends nothing and returns 0. One
// that times out on the way returns the count of bytes committed to the
// stream, a prefix of b, and a timeout error; the rest of a record cut off
// by the deadline is sent before anything else on the next Write or Close.
func (c *Conn) Write(b []byte) (int, error) {
	if c.deadlinePassed() {
		return 0, c.timeoutError()
	}
	if !c.raw.armed.Load() {
		if err := c.HandshakeContext(context.Background()); err != nil {
			return 0, err
		}
		c.raw.armed.Store(true)
	}
	written := 0
	for written < len(b) {
		chunk := b[written:min(len(b), written+maxRecordPayload)]
		n, err := c.Conn.Write(chunk)
		written += n
		if err != nil {
			return written, c.explain(err)
		}
		if c.raw.takeTimeout() {
			return written, c.timeoutError()
		}
	}
	return written, nil
}

func (c *Conn) deadlinePassed() bool {
	d := c.writeDeadline.Load()
	return d != 0 && time.Now().UnixNano() >= d
}

func (c *Conn) timeoutError() error {
	return &net.OpError{Op: "write", Net: "tls", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: os.ErrDeadlineExceeded}
}

// SetDeadline sets the read and write deadlines, as net.Conn.SetDeadline.
func (c *Conn) SetDeadline(t time.Time) error {
	c.storeWriteDeadline(t)
	return c.Conn.SetDeadline(t)
}

// SetWriteDeadline sets the write deadline, as net.Conn.SetWriteDeadline.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	c.storeWriteDeadline(t)
	return c.Conn.SetWriteDeadline(t)
}

func (c *Conn) storeWriteDeadline(t time.Time) {
	if t.IsZero() {
		c.writeDeadline.Store(0)
	} else {
		c.writeDeadline.Store(t.UnixNano())
	}
}

// listener accepts connections from an inner listener and wraps them in TLS.
type listener struct {
	net.Listener
	cfg *Config
}

// NewListener returns a listener whose Accept wraps each connection from
// inner in the server side of TLS. Accept does not wait for the handshake,
// so a slow client cannot hold up the accept loop; the handshake runs on
// the connection's first Read or Write.
func NewListener(inner net.Listener, cfg *Config) (net.Listener, error) {
	base, err := cfg.build()
	if err != nil {
		return nil, err
	}
	if len(base.Certificates) == 0 {
		return nil, fmt.Errorf("%w: a server needs Certificates", ErrBadConfig)
	}
	return &listener{Listener: inner, cfg: cfg}, nil
}

// Accept waits for the next connection and returns it as a *Conn.
func (l *listener) Accept() (net.Conn, error) {
	conn, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc, err := Server(conn, l.cfg)
	if err != nil { // cannot happen: NewListener checked the Config
		conn.Close()
		return nil, err
	}
	return tc, nil
}

// DefaultHandshakeTimeout bounds a Dialer's connect and handshake when
// Dialer.HandshakeTimeout is zero.
const DefaultHandshakeTimeout = 10 * time.Second

// Dialer opens TLS client connections over any dial function, such as a
// tundra stack's DialContext or a net.Dialer's. Its DialContext has the
// shape an HTTP client's transport expects.
type Dialer struct {
	// NetDialContext opens the plain connection underneath. Nil means a
	// zero net.Dialer's DialContext (the kernel's TCP).
	NetDialContext func(ctx context.Context, network, addr string) (net.Conn, error)

	// Config is the TLS configuration. When its ServerName is empty the
	// host part of the dialed address is used. Nil means a zero Config:
	// the system's roots, the defaults of this package.
	Config *Config

	// HandshakeTimeout bounds the connect and the handshake together; zero
	// means DefaultHandshakeTimeout. A context deadline applies as well.
	HandshakeTimeout time.Duration
}

// defaultClientConfig is used by Dialers without a Config, so that they
// share one session cache.
var defaultClientConfig = &Config{}

// Dial connects to addr and runs the TLS handshake. See DialContext.
func (d *Dialer) Dial(network, addr string) (net.Conn, error) {
	return d.DialContext(context.Background(), network, addr)
}

// DialContext connects to addr with NetDialContext and runs the TLS
// handshake before it returns. The result is a *Conn.
func (d *Dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	cfg := d.Config
	if cfg == nil {
		cfg = defaultClientConfig
	}
	base, err := cfg.build()
	if err != nil {
		return nil, err
	}
	serverName := base.ServerName
	if serverName == "" {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			host = addr
		}
		serverName = host
	}

	timeout := d.HandshakeTimeout
	if timeout == 0 {
		timeout = DefaultHandshakeTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	dial := d.NetDialContext
	if dial == nil {
		var nd net.Dialer
		dial = nd.DialContext
	}
	raw, err := dial(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	conn, err := newClient(raw, cfg, base, serverName)
	if err != nil {
		raw.Close()
		return nil, err
	}
	if err := conn.HandshakeContext(ctx); err != nil {
		raw.Close()
		return nil, err
	}
	return conn, nil
}
