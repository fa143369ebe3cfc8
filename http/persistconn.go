package http

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	nethttp "net/http"
	"sync"
	"sync/atomic"
	"time"
)

// persistConn is one client connection, reused for request after request.
type persistConn struct {
	pool      *hostPool
	conn      net.Conn
	br        *bufio.Reader
	bw        *bufio.Writer
	hr        headReader
	reused    bool
	idleSince time.Time
	idleTimer *time.Timer
	closeOnce sync.Once
}

func newPersistConn(p *hostPool, conn net.Conn) *persistConn {
	return &persistConn{
		pool: p,
		conn: conn,
		br:   bufio.NewReaderSize(conn, 16<<10),
		bw:   bufio.NewWriterSize(conn, 16<<10),
	}
}

// close closes the connection and frees its slot in the pool, once.
func (pc *persistConn) close() {
	pc.closeOnce.Do(func() {
		pc.conn.Close()
		c := pc.pool.client
		c.mu.Lock()
		pc.pool.open--
		pc.pool.wakeOne()
		c.mu.Unlock()
	})
}

// idleExpired runs when the connection has been idle for IdleConnTimeout.
func (pc *persistConn) idleExpired() {
	c := pc.pool.client
	c.mu.Lock()
	found := false
	for i, q := range pc.pool.idle {
		if q == pc {
			pc.pool.idle = append(pc.pool.idle[:i], pc.pool.idle[i+1:]...)
			found = true
			break
		}
	}
	c.mu.Unlock()
	if found {
		pc.close()
	}
}

// nothingReceived wraps an error that happened before any byte of a
// response arrived, which makes a retry on a new connection safe for a
// replayable request.
type nothingReceived struct{ err error }

func (e *nothingReceived) Error() string { return e.err.Error() }
func (e *nothingReceived) Unwrap() error { return e.err }

// roundTrip writes req and reads the response head. The body is read
// later, through the returned Response's Body.
func (pc *persistConn) roundTrip(ctx context.Context, req *nethttp.Request) (*nethttp.Response, error) {
	c := pc.pool.client
	var cancelled atomic.Bool
	stop := context.AfterFunc(ctx, func() {
		cancelled.Store(true)
		pc.conn.Close()
	})
	fail := func(err error) (*nethttp.Response, error) {
		stop()
		pc.close()
		if ctx.Err() != nil && cancelled.Load() {
			return nil, ctx.Err()
		}
		return nil, err
	}

	f, length, err := pc.writeHead(req, c)
	if err != nil {
		closeBody(req)
		return fail(err)
	}
	var resp *nethttp.Response
	var bodyErr error
	if f != framingNone {
		expect := req.Header["Expect"]
		if len(expect) == 1 && asciiEqualFold(expect[0], "100-continue") {
			resp, err = pc.awaitContinue(req, c)
			if err != nil {
				closeBody(req)
				return fail(err)
			}
		}
		if resp == nil {
			bodyErr = pc.writeBody(req, f, length)
		} else {
			// The server answered before asking for the body, which it
			// never got: the connection cannot be reused.
			closeBody(req)
			resp.Close = true
		}
	} else {
		closeBody(req)
		bodyErr = pc.bw.Flush()
	}
	if resp == nil {
		if c.ResponseHeaderTimeout > 0 {
			pc.conn.SetReadDeadline(time.Now().Add(c.ResponseHeaderTimeout))
		}
		// A server may answer and close before reading the whole body
		// (a 413, say); try to read that answer even after a write error.
		resp, err = pc.readResponse(req, c)
		if err != nil {
			if bodyErr != nil {
				// Report the write error, but keep the news that nothing
				// came back: on a stale pooled connection, that is what
				// makes a retry safe.
				var nr *nothingReceived
				if errors.As(err, &nr) {
					err = &nothingReceived{bodyErr}
				} else {
					err = bodyErr
				}
			}
			return fail(err)
		}
		if bodyErr != nil {
			resp.Close = true
		}
		if c.ResponseHeaderTimeout > 0 {
			pc.conn.SetReadDeadline(time.Time{})
		}
	}
	if req.Close || c.MaxIdleConnsPerHost < 0 {
		resp.Close = true
	}
	rb := resp.Body.(*responseBody)
	rb.pc, rb.ctx, rb.stop, rb.cancelled = pc, ctx, stop, &cancelled
	if rb.body.done() {
		rb.finish(true)
	}
	return resp, nil
}

func closeBody(req *nethttp.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// writeHead writes the request line and header fields and returns the
// body's framing.
func (pc *persistConn) writeHead(req *nethttp.Request, c *Client) (framing, int64, error) {
	method := req.Method
	if method == "" {
		method = "GET"
	}
	if !validToken(method) {
		return 0, 0, fmt.Errorf("invalid method %q", method)
	}
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	if !validHost(host) {
		return 0, 0, fmt.Errorf("invalid Host %q", host)
	}
	target := req.URL.RequestURI()
	if method == "CONNECT" {
		target = host
	}
	for i := 0; i < len(target); i++ {
		if target[i] <= ' ' || target[i] >= 0x7f {
			return 0, 0, fmt.Errorf("invalid request target %q", target)
		}
	}

	// RFC 9112 section 6: choose the body's framing. A known length is
	// sent as Content-Length; an unknown one as chunked. A method that
	// defines a body but has none gets "Content-Length: 0" (RFC 9110
	// section 8.6).
	f, length := framingNone, int64(0)
	hasBody := req.Body != nil && req.Body != nethttp.NoBody
	switch {
	case hasBody && req.ContentLength > 0:
		f, length = framingLength, req.ContentLength
	case hasBody:
		f, length = framingChunked, -1
	}

	bw := pc.bw
	bw.WriteString(method)
	bw.WriteByte(' ')
	bw.WriteString(target)
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(host)
	bw.WriteString("\r\n")
	if u := req.URL.User; u != nil && req.Header.Get("Authorization") == "" {
		// Credentials in the URL become Basic authentication (RFC 7617);
		// they are never sent as part of the request target.
		password, _ := u.Password()
		writeField(bw, "Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(u.Username()+":"+password)))
	}
	if _, ok := req.Header["User-Agent"]; !ok {
		ua := c.UserAgent
		if ua == "" {
			ua = DefaultUserAgent
		}
		writeField(bw, "User-Agent", ua)
	}
	for k, vs := range req.Header {
		switch canonicalKey(k) {
		case "Host", "Content-Length", "Transfer-Encoding", "Connection", "Trailer":
			continue
		}
		if !validToken(k) {
			return 0, 0, fmt.Errorf("invalid header field name %q", k)
		}
		for _, v := range vs {
			if !validFieldValue(trimOWS(v)) {
				return 0, 0, fmt.Errorf("invalid header field value for %q", k)
			}
			writeField(bw, k, v)
		}
	}
	switch f {
	case framingLength:
		bw.WriteString("Content-Length: ")
		writeDecimal(bw, length)
		bw.WriteString("\r\n")
	case framingChunked:
		bw.WriteString("Transfer-Encoding: chunked\r\n")
		if len(req.Trailer) > 0 {
			first := true
			bw.WriteString("Trailer: ")
			for k := range req.Trailer {
				if !first {
					bw.WriteString(", ")
				}
				bw.WriteString(k)
				first = false
			}
			bw.WriteString("\r\n")
		}
	default:
		switch method {
		case "POST", "PUT", "PATCH":
			bw.WriteString("Content-Length: 0\r\n")
		}
	}
	if req.Close || c.MaxIdleConnsPerHost < 0 || hasToken(req.Header["Connection"], "close") {
		req.Close = true
		bw.WriteString("Connection: close\r\n")
	}
	_, err := bw.WriteString("\r\n")
	return f, length, err
}

// awaitContinue flushes the head of a request that expects 100-continue
// and waits up to ExpectContinueTimeout for the server's answer (RFC 9110
// section 10.1.1). It returns a final response if the server sent one
// instead of 100, or nil when the body should be sent.
func (pc *persistConn) awaitContinue(req *nethttp.Request, c *Client) (*nethttp.Response, error) {
	if err := pc.bw.Flush(); err != nil {
		return nil, err
	}
	wait := c.ExpectContinueTimeout
	if wait <= 0 {
		wait = DefaultExpectContinueTimeout
	}
	pc.conn.SetReadDeadline(time.Now().Add(wait))
	_, err := pc.br.Peek(1)
	pc.conn.SetReadDeadline(time.Time{})
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return nil, nil // no answer: send the body anyway
	}
	if err != nil {
		return nil, err
	}
	resp, err := pc.readResponseHead(req, c)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode == 100 {
		return nil, nil
	}
	if resp.StatusCode > 100 && resp.StatusCode < 200 && resp.StatusCode != 101 {
		// Another interim response (103, say): the final one follows.
		final, err := pc.readResponse(req, c)
		return final, err
	}
	return resp, nil
}

var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// writeBody sends the request body in its framing and flushes.
func (pc *persistConn) writeBody(req *nethttp.Request, f framing, length int64) error {
	defer closeBody(req)
	bp := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(bp)
	switch f {
	case framingLength:
		n, err := io.CopyBuffer(onlyWriter{pc.bw}, io.LimitReader(onlyReader{req.Body}, length), *bp)
		if err != nil {
			return err
		}
		if n != length {
			return fmt.Errorf("http: ContentLength=%d with Body length %d", length, n)
		}
	case framingChunked:
		cw := chunkedWriter{pc.bw}
		if _, err := io.CopyBuffer(cw, onlyReader{req.Body}, *bp); err != nil {
			return err
		}
		if err := cw.close(req.Trailer); err != nil {
			return err
		}
	}
	return pc.bw.Flush()
}

// readResponse reads response heads until a final one (interim 1xx
// responses other than 101 are skipped, RFC 9110 section 15.2).
func (pc *persistConn) readResponse(req *nethttp.Request, c *Client) (*nethttp.Response, error) {
	for {
		resp, err := pc.readResponseHead(req, c)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode >= 200 || resp.StatusCode == 101 {
			return resp, nil
		}
	}
}

// readResponseHead reads one response head and sets up its body.
func (pc *persistConn) readResponseHead(req *nethttp.Request, c *Client) (*nethttp.Response, error) {
	if _, err := pc.br.Peek(1); err != nil {
		return nil, &nothingReceived{err}
	}
	head, lines, err := pc.hr.read(pc.br, c.Limits.withDefaults(), false)
	if err != nil {
		return nil, err
	}
	sl, err := parseStatusLine(head[lines[0].start:lines[0].end])
	if err != nil {
		return nil, err
	}
	h := make(nethttp.Header, len(lines)-1)
	if err := parseFields(head, lines[1:], h, &fieldStore{}); err != nil {
		return nil, fmt.Errorf("malformed response header: %w", err)
	}
	resp := &nethttp.Response{
		Status:     sl.status,
		StatusCode: sl.code,
		Proto:      sl.proto,
		ProtoMajor: sl.major,
		ProtoMinor: sl.minor,
		Header:     h,
		Request:    req,
	}
	if sl.minor >= 1 {
		resp.Close = hasToken(h["Connection"], "close")
	} else {
		resp.Close = !hasToken(h["Connection"], "keep-alive")
	}

	// Body length, RFC 9112 section 6.3, items 1 and 2 first: no body for
	// HEAD, 1xx, 204, 304, or a 2xx to CONNECT.
	f, length := framingNone, int64(0)
	switch {
	case sl.code < 200 || req.Method == "HEAD" || sl.code == 204 || sl.code == 304:
		if sl.code == 101 {
			resp.Close = true // upgrades are not supported: never reuse
		}
		if n, ok := parseContentLength(h.Get("Content-Length")); ok && req.Method == "HEAD" {
			length = n
		}
	case req.Method == "CONNECT" && sl.code < 300:
		resp.Close = true
	default:
		f, length, err = messageFraming(h, sl.major, sl.minor, false)
		if err != nil {
			return nil, err
		}
		if f == framingChunked {
			if _, both := h["Content-Length"]; both {
				// Item 3: Transfer-Encoding wins, but the connection is
				// suspect afterwards.
				delete(h, "Content-Length")
				resp.Close = true
			}
			delete(h, "Transfer-Encoding")
			resp.TransferEncoding = []string{"chunked"}
			if declared, ok := h["Trailer"]; ok {
				resp.Trailer = make(nethttp.Header)
				for _, v := range declared {
					for _, k := range splitList(v) {
						if validToken(k) {
							resp.Trailer[canonicalKey(k)] = nil
						}
					}
				}
			}
		}
		if f == framingToEOF {
			resp.Close = true
		}
	}
	resp.ContentLength = length
	rb := &responseBody{resp: resp}
	rb.body.reset(pc.br, f, length, c.Limits.withDefaults())
	resp.Body = rb
	if f == framingNone && req.Method != "HEAD" {
		resp.ContentLength = 0
	}
	return resp, nil
}

// responseBody is a client Response's Body. Reading it to the end returns
// the connection to the pool.
type responseBody struct {
	body      bodyReader
	resp      *nethttp.Response
	pc        *persistConn
	ctx       context.Context
	stop      func() bool
	cancelled *atomic.Bool
	mu        sync.Mutex
	finished  bool
	closed    bool
	done      func() // called once the exchange is over
}

var errReadOnClosedBody = errors.New("http: read on closed response body")

// Read reads body bytes.
func (b *responseBody) Read(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, errReadOnClosedBody
	}
	n, err := b.body.Read(p)
	switch {
	case err == io.EOF:
		if b.body.framing == framingChunked && b.body.chunked.trailer != nil {
			if b.resp.Trailer == nil {
				b.resp.Trailer = make(nethttp.Header)
			}
			for k, v := range b.body.chunked.trailer {
				b.resp.Trailer[k] = v
			}
			b.body.chunked.trailer = nil
		}
		b.finish(true)
	case err != nil:
		if b.cancelled != nil && b.cancelled.Load() && b.ctx.Err() != nil {
			err = b.ctx.Err()
		}
		b.finish(false)
	}
	return n, err
}

// Close ends the body. A small unread remainder is read and dropped so the
// connection can be reused; otherwise the connection is closed.
func (b *responseBody) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return nil
	}
	b.closed = true
	if b.finished {
		return nil
	}
	reusable := false
	if !b.resp.Close && b.body.framing != framingToEOF {
		b.pc.conn.SetReadDeadline(time.Now().Add(maxCloseDrainTime))
		reusable = b.body.discard(maxCloseDrainBytes)
		b.pc.conn.SetReadDeadline(time.Time{})
	}
	b.finish(reusable)
	return nil
}

// finish ends the exchange: the connection goes back to the pool if the
// body was read to its end, the response allows it, and the context did
// not fire; otherwise it is closed. The caller holds b.mu (or owns b).
func (b *responseBody) finish(reusable bool) {
	if b.finished || b.pc == nil {
		return
	}
	b.finished = true
	stopped := b.stop()
	if reusable && stopped && !b.resp.Close {
		b.pc.pool.put(b.pc)
	} else {
		b.pc.close()
	}
	if b.done != nil {
		b.done()
	}
}

// onDone arranges for f to run when the exchange ends, or now if it has.
func (b *responseBody) onDone(f func()) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.finished {
		f()
		return
	}
	b.done = f
}
