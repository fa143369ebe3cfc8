package http

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	nethttp "net/http"
	"net/url"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// Server serves HTTP/1.0 and HTTP/1.1 on any net.Listener, calling an
// ordinary net/http Handler for each request.
//
// Each connection is served by one goroutine that reads a request, runs the
// handler, writes the response and goes on to the next request; pipelined
// requests are therefore answered in the order they came. The zero value is
// ready to use and serves nethttp.DefaultServeMux.
//
// A request's context is cancelled when its connection ends (the client
// closes it after the handler returns, or Close is called). Unlike net/http,
// the server does not read ahead in the background while a handler runs,
// so a client that disconnects in the middle of a request is noticed only
// when the handler next writes or reads the body.
//
// Request reuse: to save allocations, the Server reuses the *nethttp.Request,
// its URL and its Header map for the next request on the same connection
// once ServeHTTP has returned (net/http's rules already say a handler must
// not use the ResponseWriter or read the Body after returning). A handler
// that keeps the Request, its URL or its Header beyond ServeHTTP, for
// example in another goroutine, must copy it with Request.Clone, or the
// Server must be given DisableRequestReuse.
type Server struct {
	// Handler answers requests; nil means nethttp.DefaultServeMux.
	Handler nethttp.Handler

	// ReadHeaderTimeout bounds reading a request head, from its first byte.
	// Zero means DefaultReadHeaderTimeout; negative means no limit.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request, head and body, from its
	// first byte. Zero or negative means no limit.
	ReadTimeout time.Duration
	// WriteTimeout bounds writing a response, from the end of the request
	// head. Zero or negative means no limit.
	WriteTimeout time.Duration
	// IdleTimeout bounds how long a kept-alive connection waits for the
	// first byte of its next request. Zero means DefaultIdleTimeout;
	// negative means no limit.
	IdleTimeout time.Duration

	// Limits bounds request heads; zero fields take their defaults.
	Limits Limits
	// MaxBodyDrainBytes is how much of a request body the handler did not
	// read the server will read and drop to keep the connection alive; a
	// longer remainder closes the connection instead. Zero means
	// DefaultMaxBodyDrainBytes.
	MaxBodyDrainBytes int64

	// DisableKeepAlives closes every connection after one response.
	DisableKeepAlives bool
	// DisableGeneralOptionsHandler passes "OPTIONS *" requests to Handler.
	// By default the server answers them itself with 200 and an empty body,
	// as net/http does, since routers cannot match "*".
	DisableGeneralOptionsHandler bool
	// DisableRequestReuse gives each request a freshly allocated Request,
	// URL and Header, for handlers that keep them after returning.
	DisableRequestReuse bool

	// Logger receives handler panics and other server errors; nil means
	// slog.Default().
	Logger *slog.Logger

	mu           sync.Mutex
	listeners    map[*net.Listener]struct{}
	conns        map[*conn]struct{}
	shuttingDown atomic.Bool
}

// Server defaults.
const (
	DefaultReadHeaderTimeout = 30 * time.Second
	DefaultIdleTimeout       = 120 * time.Second
	DefaultMaxBodyDrainBytes = 256 << 10
)

// ServerContextKey is the context key under which a request's context holds
// the *Server that serves it.
var ServerContextKey = &contextKey{"tundra-http-server"}

type contextKey struct{ name string }

func (k *contextKey) String() string { return "http context value " + k.name }

// Serve accepts connections on l and serves each in its own goroutine
// until the Server is shut down or closed, when it returns
// nethttp.ErrServerClosed. Any other Accept error that is not temporary
// ends Serve and is returned. Serve closes l when it returns.
func (s *Server) Serve(l net.Listener) error {
	lp := &l
	if !s.trackListener(lp, true) {
		l.Close()
		return nethttp.ErrServerClosed
	}
	defer s.trackListener(lp, false)
	defer l.Close()

	base := context.WithValue(context.Background(), ServerContextKey, s)
	var backoff time.Duration
	for {
		rwc, err := l.Accept()
		if err != nil {
			if s.shuttingDown.Load() {
				return nethttp.ErrServerClosed
			}
			var temp interface{ Temporary() bool }
			if errors.As(err, &temp) && temp.Temporary() {
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.logger().Warn("http: accept error; retrying", "err", err, "delay", backoff)
				time.Sleep(backoff)
				continue
			}
			return err
		}
		backoff = 0
		c := s.newConn(base, rwc)
		if !s.trackConn(c, true) {
			rwc.Close()
			return nethttp.ErrServerClosed
		}
		go c.serve()
	}
}

// Shutdown stops the server gracefully: it closes the listeners, closes
// connections that are idle, and waits for active ones to finish their
// current request (they are told to close by a "Connection: close" on the
// response) and close. It returns nil when all are gone, or ctx's error if
// ctx ends first; connections then still open are left running, and Close
// ends them.
func (s *Server) Shutdown(ctx context.Context) error {
	s.shuttingDown.Store(true)
	s.closeListeners()
	wait := time.Millisecond
	for {
		if s.closeIdleConns() {
			return nil
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		wait = min(2*wait, 100*time.Millisecond)
	}
}

// Close stops the server at once: it closes the listeners and every
// connection, active or idle. Hijacked connections belong to their handlers
// and are left alone.
func (s *Server) Close() error {
	s.shuttingDown.Store(true)
	err := s.closeListeners()
	s.mu.Lock()
	for c := range s.conns {
		c.rwc.Close()
		c.cancelCtx() // handlers watching r.Context() learn of it now
	}
	s.mu.Unlock()
	return err
}

func (s *Server) trackListener(l *net.Listener, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if add {
		if s.shuttingDown.Load() {
			return false
		}
		if s.listeners == nil {
			s.listeners = make(map[*net.Listener]struct{})
		}
		s.listeners[l] = struct{}{}
	} else {
		delete(s.listeners, l)
	}
	return true
}

func (s *Server) closeListeners() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var err error
	for l := range s.listeners {
		if cerr := (*l).Close(); cerr != nil && err == nil && !errors.Is(cerr, net.ErrClosed) {
			err = cerr
		}
	}
	return err
}

func (s *Server) trackConn(c *conn, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if add {
		if s.shuttingDown.Load() {
			return false
		}
		if s.conns == nil {
			s.conns = make(map[*conn]struct{})
		}
		s.conns[c] = struct{}{}
	} else {
		delete(s.conns, c)
	}
	return true
}

// closeIdleConns closes the connections waiting for a request and reports
// whether no connection is left.
func (s *Server) closeIdleConns() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if c.state.CompareAndSwap(stateIdle, stateClosed) {
			c.rwc.Close()
		}
	}
	return len(s.conns) == 0
}

func (s *Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

func timeoutOr(d, def time.Duration) time.Duration {
	switch {
	case d == 0:
		return def
	case d < 0:
		return 0
	}
	return d
}

// Connection states, for graceful shutdown: only an idle connection may be
// closed under a client's feet.
const (
	stateIdle   int32 = iota // waiting for the first byte of a request
	stateActive              // reading a request or running its handler
	stateClosed              // closed by Shutdown while idle
)

var (
	bufReaderPool sync.Pool
	bufWriterPool sync.Pool
)

const (
	connReadBufferSize  = 4 << 10
	connWriteBufferSize = 4 << 10
	pendingBufferSize   = 4 << 10
)

func newBufReader(r io.Reader) *bufio.Reader {
	if br, ok := bufReaderPool.Get().(*bufio.Reader); ok {
		br.Reset(r)
		return br
	}
	return bufio.NewReaderSize(r, connReadBufferSize)
}

func newBufWriter(w io.Writer) *bufio.Writer {
	if bw, ok := bufWriterPool.Get().(*bufio.Writer); ok {
		bw.Reset(w)
		return bw
	}
	return bufio.NewWriterSize(w, connWriteBufferSize)
}

// conn is the server side of one connection and everything it reuses from
// one request to the next.
type conn struct {
	srv        *Server
	rwc        net.Conn
	br         *bufio.Reader
	bw         *bufio.Writer
	state      atomic.Int32
	cancelCtx  context.CancelFunc
	remoteAddr string
	tlsState   *tls.ConnectionState
	lim        Limits

	readHeaderTimeout, readTimeout, writeTimeout, idleTimeout time.Duration

	hr          headReader
	fields      fieldStore
	reqTemplate nethttp.Request // carries the connection's context
	req         nethttp.Request
	url         url.URL
	header      nethttp.Header
	chunkedTE   []string
	body        requestBody
	resp        response
	respHeader  nethttp.Header
	pending     []byte
	hijacked    bool
}

func (s *Server) newConn(base context.Context, rwc net.Conn) *conn {
	ctx := context.WithValue(base, nethttp.LocalAddrContextKey, rwc.LocalAddr())
	ctx, cancel := context.WithCancel(ctx)
	c := &conn{
		srv:               s,
		rwc:               rwc,
		cancelCtx:         cancel,
		remoteAddr:        rwc.RemoteAddr().String(),
		lim:               s.Limits.withDefaults(),
		readHeaderTimeout: timeoutOr(s.ReadHeaderTimeout, DefaultReadHeaderTimeout),
		readTimeout:       timeoutOr(s.ReadTimeout, -1),
		writeTimeout:      timeoutOr(s.WriteTimeout, -1),
		idleTimeout:       timeoutOr(s.IdleTimeout, DefaultIdleTimeout),
		header:            make(nethttp.Header),
		respHeader:        make(nethttp.Header),
	}
	c.reqTemplate = *(&nethttp.Request{}).WithContext(ctx)
	c.state.Store(stateIdle)
	return c
}

func (c *conn) serve() {
	c.br = newBufReader(c.rwc)
	c.bw = newBufWriter(c.rwc)
	linger := false
	defer func() {
		c.cancelCtx()
		c.srv.trackConn(c, false)
		if c.hijacked {
			return
		}
		if linger {
			c.lingeringClose()
		} else {
			c.rwc.Close()
		}
		c.br.Reset(nil)
		c.bw.Reset(nil)
		bufReaderPool.Put(c.br)
		bufWriterPool.Put(c.bw)
	}()

	first := true
	for {
		// Wait for the first byte of the next request. A request that is
		// already buffered (pipelining) needs no wait and no deadline.
		if c.br.Buffered() == 0 {
			wait := c.idleTimeout
			if first {
				wait = c.readHeaderTimeout
			}
			c.setReadDeadline(wait)
			if _, err := c.br.Peek(1); err != nil {
				return
			}
		}
		if !c.state.CompareAndSwap(stateIdle, stateActive) {
			return // Shutdown closed us while idle
		}
		first = false
		headStart := time.Now()
		c.setReadDeadline(c.readHeaderTimeout)
		req, err := c.readRequest()
		if err != nil {
			var pe *protocolError
			if errors.As(err, &pe) {
				c.srv.logger().Debug("http: rejected request", "remote", c.remoteAddr,
					"status", pe.status, "reason", pe.reason)
				c.writeErrorResponse(pe.status, pe.reason)
				linger = true
			}
			return
		}
		if c.readTimeout > 0 {
			c.rwc.SetReadDeadline(headStart.Add(c.readTimeout))
		} else if c.readHeaderTimeout > 0 || c.idleTimeout > 0 {
			c.rwc.SetReadDeadline(time.Time{})
		}
		if c.writeTimeout > 0 {
			c.rwc.SetWriteDeadline(time.Now().Add(c.writeTimeout))
		}
		if ex, ok := req.Header["Expect"]; ok && req.ProtoAtLeast(1, 1) {
			if len(ex) != 1 || !asciiEqualFold(ex[0], "100-continue") {
				// RFC 9110 section 10.1.1: a server that receives an
				// expectation it does not support MAY answer 417.
				c.writeErrorResponse(417, "unsupported expectation")
				linger = true
				return
			}
			c.body.continuePending = c.body.framing != framingNone
		}
		keepGoing := c.serveRequest(req)
		if c.hijacked {
			return
		}
		if err := c.bw.Flush(); err != nil || !keepGoing {
			linger = err == nil
			return
		}
		c.state.Store(stateIdle)
		if c.srv.shuttingDown.Load() {
			return
		}
	}
}

// setReadDeadline sets the read deadline d from now, or clears it when d
// is zero (no limit), so that one stage's deadline never leaks into the next.
func (c *conn) setReadDeadline(d time.Duration) {
	if d > 0 {
		c.rwc.SetReadDeadline(time.Now().Add(d))
	} else if c.readHeaderTimeout > 0 || c.idleTimeout > 0 || c.readTimeout > 0 {
		c.rwc.SetReadDeadline(time.Time{})
	}
}

// serveRequest runs the handler and finishes the response. It reports
// whether the connection may carry another request.
func (c *conn) serveRequest(req *nethttp.Request) (keepGoing bool) {
	w := &c.resp
	w.reset(c, req)
	defer func() {
		if r := recover(); r != nil {
			keepGoing = false
			if c.hijacked {
				return
			}
			if r != nethttp.ErrAbortHandler {
				c.srv.logger().Error("http: panic serving request",
					"remote", c.remoteAddr, "method", req.Method, "uri", req.RequestURI,
					"panic", r, "stack", string(debug.Stack()))
			}
			if !w.committed {
				c.writeErrorResponse(500, "handler failed")
			}
		}
	}()
	c.handler(req).ServeHTTP(w, req)
	if c.hijacked {
		return false
	}
	w.finish()
	return !w.closeAfter
}

func (c *conn) handler(req *nethttp.Request) nethttp.Handler {
	if req.RequestURI == "*" && req.Method == "OPTIONS" && !c.srv.DisableGeneralOptionsHandler {
		return generalOptionsHandler{}
	}
	if c.srv.Handler != nil {
		return c.srv.Handler
	}
	return nethttp.DefaultServeMux
}

// generalOptionsHandler answers "OPTIONS *", a question about the server as
// a whole (RFC 9110 section 9.3.7), with 200 and no body.
type generalOptionsHandler struct{}

func (generalOptionsHandler) ServeHTTP(w nethttp.ResponseWriter, r *nethttp.Request) {
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(nethttp.StatusOK)
}

// writeErrorResponse answers a request the server itself refuses. The
// connection is always closed afterwards: after a framing error nothing
// that follows on it can be trusted.
func (c *conn) writeErrorResponse(status int, reason string) {
	text := nethttp.StatusText(status)
	body := make([]byte, 0, 64)
	body = appendContentLength(body, int64(status))
	body = append(body, ' ')
	body = append(body, text...)
	body = append(body, ": "...)
	body = append(body, reason...)
	body = append(body, '\n')
	writeStatusLine(c.bw, status)
	c.bw.WriteString("Content-Type: text/plain; charset=utf-8\r\nConnection: close\r\nContent-Length: ")
	writeDecimal(c.bw, int64(len(body)))
	c.bw.WriteString("\r\n\r\n")
	c.bw.Write(body)
	c.bw.Flush()
}

// lingeringClose closes a connection we chose to close while the client may
// still be sending (more pipelined requests, an unread body). Closing at
// once with unread data makes the kernel send RST, which can destroy the
// response before the client reads it; so we half-close, read and drop
// what is still coming for a short, bounded time, and then close.
func (c *conn) lingeringClose() {
	c.bw.Flush()
	if cw, ok := c.rwc.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
		c.rwc.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		io.CopyN(io.Discard, c.rwc, 256<<10)
	}
	c.rwc.Close()
}

// readRequest reads and checks one request head and prepares its body.
func (c *conn) readRequest() (*nethttp.Request, error) {
	head, lines, err := c.hr.read(c.br, c.lim, true)
	if err != nil {
		return nil, err
	}
	rl, err := parseRequestLine(head[lines[0].start:lines[0].end])
	if err != nil {
		return nil, err
	}

	var req *nethttp.Request
	var u *url.URL
	var h nethttp.Header
	if c.srv.DisableRequestReuse {
		req = new(nethttp.Request)
		u = new(url.URL)
		h = make(nethttp.Header, len(lines))
		c.fields = fieldStore{}
	} else {
		req, u, h = &c.req, &c.url, c.header
		clear(h)
		c.fields.reset()
	}
	*req = c.reqTemplate
	if err := parseFields(head, lines[1:], h, &c.fields); err != nil {
		return nil, err
	}
	if err := parseTarget(rl.method, rl.target, u); err != nil {
		return nil, err
	}

	req.Method = rl.method
	req.URL = u
	req.Proto = rl.proto
	req.ProtoMajor, req.ProtoMinor = rl.major, rl.minor
	if rl.minor > 1 {
		// RFC 9110 section 6.2: treat a later 1.x as the highest 1.x we know.
		req.ProtoMinor = 1
	}
	req.Header = h
	req.RequestURI = rl.target
	req.RemoteAddr = c.remoteAddr

	// Host (RFC 9112 section 3.2): an HTTP/1.1 request carries exactly
	// one; none or several is a 400. An absolute-form target overrides it.
	hosts := h["Host"]
	if len(hosts) > 1 || (len(hosts) == 0 && req.ProtoAtLeast(1, 1)) {
		return nil, badRequest("missing or repeated Host header")
	}
	if len(hosts) == 1 && !validHost(hosts[0]) {
		return nil, badRequest("invalid Host header")
	}
	req.Host = u.Host
	if req.Host == "" && len(hosts) == 1 {
		req.Host = hosts[0]
	}
	delete(h, "Host")

	// Persistence (RFC 9112 section 9.3): 1.1 persists unless told to
	// close; 1.0 closes unless the client asked for keep-alive.
	conn := h["Connection"]
	if req.ProtoAtLeast(1, 1) {
		req.Close = hasToken(conn, "close")
	} else {
		req.Close = !hasToken(conn, "keep-alive")
	}

	f, length, err := messageFraming(h, rl.major, rl.minor, true)
	if err != nil {
		return nil, err
	}
	c.body.reset(c, req, f, length)
	switch f {
	case framingNone:
		req.Body = nethttp.NoBody
		req.ContentLength = 0
	case framingLength:
		req.Body = &c.body
		req.ContentLength = length
	case framingChunked:
		req.Body = &c.body
		req.ContentLength = -1
		if c.chunkedTE == nil || c.srv.DisableRequestReuse {
			c.chunkedTE = make([]string, 1)
		}
		c.chunkedTE[0] = "chunked"
		req.TransferEncoding = c.chunkedTE
		if declared, ok := h["Trailer"]; ok {
			req.Trailer = make(nethttp.Header)
			for _, v := range declared {
				for _, k := range splitList(v) {
					if validToken(k) {
						req.Trailer[canonicalKey(k)] = nil
					}
				}
			}
		}
	}
	if cs, ok := c.rwc.(interface{ ConnectionState() tls.ConnectionState }); ok {
		if c.tlsState == nil {
			state := cs.ConnectionState()
			c.tlsState = &state
		}
		req.TLS = c.tlsState
	}
	return req, nil
}

// splitList splits a comma-separated list (RFC 9110 section 5.6.1) into
// its non-empty elements.
func splitList(v string) []string {
	var out []string
	for v != "" {
		var elem string
		if i := indexByte(v, ','); i >= 0 {
			elem, v = v[:i], v[i+1:]
		} else {
			elem, v = v, ""
		}
		if elem = trimOWS(elem); elem != "" {
			out = append(out, elem)
		}
	}
	return out
}

// parseTarget interprets a request-target (RFC 9112 section 3.2) into u.
// The common case, an origin-form path with no percent-escapes, is split by
// hand without allocating; everything else goes through net/url.
func parseTarget(method, target string, u *url.URL) error {
	*u = url.URL{}
	switch {
	case method == "CONNECT":
		// authority-form: uri-host ":" port (section 3.2.3)
		host, port, err := net.SplitHostPort(target)
		if err != nil || host == "" || !validHost(target) || !validPort(port) {
			return badRequest("CONNECT needs host:port")
		}
		u.Host = target
		return nil
	case target == "*":
		// asterisk-form, only for a server-wide OPTIONS (section 3.2.4)
		if method != "OPTIONS" {
			return badRequest("* target is only for OPTIONS")
		}
		u.Path = "*"
		return nil
	case indexByte(target, '#') >= 0:
		// A fragment is never part of a request-target (section 3.2).
		return badRequest("fragment in request target")
	case target[0] == '/':
		simple := true
		q := -1
		for i := 0; i < len(target); i++ {
			switch target[i] {
			case '%':
				simple = false
			case '?':
				if q < 0 {
					q = i
				}
			}
		}
		if simple {
			if q >= 0 {
				u.Path, u.RawQuery = target[:q], target[q+1:]
				if u.RawQuery == "" {
					u.ForceQuery = true
				}
			} else {
				u.Path = target
			}
			return nil
		}
	}
	// absolute-form (section 3.2.2) or an origin-form with escapes.
	parsed, err := url.ParseRequestURI(target)
	if err != nil {
		return badRequest("invalid request target")
	}
	if parsed.Fragment != "" || (target[0] != '/' && (parsed.Scheme == "" || parsed.Host == "")) {
		return badRequest("invalid request target")
	}
	*u = *parsed
	return nil
}

// validPort reports whether p is a decimal port number, 0 to 65535.
func validPort(p string) bool {
	n, ok := parseContentLength(p)
	return ok && len(p) <= 5 && n <= 65535
}

// requestBody is a request's Body as the handler sees it. It sends
// "100 Continue" on the first read when the client asked for one.
type requestBody struct {
	bodyReader
	c               *conn
	req             *nethttp.Request
	continuePending bool
	closed          bool
}

func (b *requestBody) reset(c *conn, req *nethttp.Request, f framing, length int64) {
	b.c, b.req = c, req
	b.continuePending = false
	b.closed = false
	b.bodyReader.reset(c.br, f, length, c.lim)
}

var errBodyClosed = errors.New("http: invalid Read on closed Body")

func (b *requestBody) Read(p []byte) (int, error) {
	if b.closed {
		return 0, errBodyClosed
	}
	if b.continuePending {
		b.continuePending = false
		// RFC 9110 section 10.1.1: the client waits for 100 (Continue)
		// before sending the body; send it now that the handler wants the
		// body, unless a final response has already gone out.
		if !b.c.resp.committed {
			b.c.bw.WriteString("HTTP/1.1 100 Continue\r\n\r\n")
			if err := b.c.bw.Flush(); err != nil {
				return 0, err
			}
		}
	}
	n, err := b.bodyReader.Read(p)
	if err == io.EOF && b.framing == framingChunked && b.chunked.trailer != nil {
		if b.req.Trailer == nil {
			b.req.Trailer = make(nethttp.Header)
		}
		for k, v := range b.chunked.trailer {
			b.req.Trailer[k] = v
		}
		b.chunked.trailer = nil
	}
	return n, err
}

// Close marks the body closed; the server reads whatever is left (within
// MaxBodyDrainBytes) after the handler returns.
func (b *requestBody) Close() error {
	b.closed = true
	return nil
}

// framingFailed reports whether reading the body found a protocol error.
func (b *requestBody) framingFailed() bool {
	_, isChunkError := b.err.(*chunkError)
	return isChunkError || b.err == io.ErrUnexpectedEOF
}
