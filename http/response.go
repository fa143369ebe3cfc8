package http

import (
	"bufio"
	"errors"
	"io"
	"net"
	nethttp "net/http"
	"strings"
	"sync/atomic"
	"time"
)

// response is the server's nethttp.ResponseWriter. It also implements
// nethttp.Flusher and nethttp.Hijacker, and the deadline methods that
// nethttp.ResponseController looks for.
//
// Until the handler writes more than pendingBufferSize bytes or flushes,
// the body is held back. If the handler returns first, the response gets an
// exact Content-Length; otherwise the server must commit to a framing
// without knowing the length: chunked for HTTP/1.1 clients, and for
// HTTP/1.0 clients, which do not know chunked, closing the connection to
// mark the end (RFC 9112 section 6.3 item 8).
type response struct {
	c      *conn
	req    *nethttp.Request
	header nethttp.Header

	status      int
	wroteHeader bool // the status is decided
	committed   bool // the head is in the write buffer
	framing     framing
	declared    int64 // Content-Length set by the handler, or -1
	written     int64 // body bytes the handler has written
	pending     []byte
	closeAfter  bool
	isHead      bool
	trailers    []string // trailer names declared in the "Trailer" header
}

func (w *response) reset(c *conn, req *nethttp.Request) {
	h := c.respHeader
	if c.srv.DisableRequestReuse {
		h = make(nethttp.Header)
	} else {
		clear(h)
	}
	if c.pending == nil {
		c.pending = make([]byte, 0, pendingBufferSize)
	}
	*w = response{
		c:        c,
		req:      req,
		header:   h,
		declared: -1,
		pending:  c.pending[:0],
		isHead:   req.Method == "HEAD",
	}
}

// Header returns the response header map, which the handler fills before
// WriteHeader or the first Write.
func (w *response) Header() nethttp.Header { return w.header }

// WriteHeader sends the status code. Informational codes (1xx other than
// 101) are written at once and may be repeated; any other code is final.
func (w *response) WriteHeader(code int) {
	if w.c.hijacked {
		w.c.srv.logger().Warn("http: WriteHeader on hijacked connection")
		return
	}
	if w.wroteHeader {
		w.c.srv.logger().Warn("http: superfluous WriteHeader call", "code", code)
		return
	}
	if code < 100 || code > 999 {
		panic("http: invalid WriteHeader code " + itoa(code))
	}
	if code >= 100 && code <= 199 && code != 101 {
		// An interim response (RFC 9110 section 15.2), with the header
		// fields set so far (as for 103 Early Hints).
		if code == 100 {
			w.c.body.continuePending = false
		}
		bw := w.c.bw
		writeStatusLine(bw, code)
		for k, vs := range w.header {
			if validToken(k) {
				for _, v := range vs {
					writeField(bw, k, v)
				}
			}
		}
		bw.WriteString("\r\n")
		bw.Flush()
		return
	}
	w.wroteHeader = true
	w.status = code
	if cl, ok := w.header["Content-Length"]; ok {
		if len(cl) == 1 {
			if n, ok := parseContentLength(strings.TrimSpace(cl[0])); ok {
				w.declared = n
				return
			}
		}
		w.c.srv.logger().Warn("http: handler set an invalid Content-Length; ignoring it", "value", cl)
		delete(w.header, "Content-Length")
	}
}

// bodyAllowedForStatus reports whether a response with this status may
// have a body (RFC 9110 sections 15.2, 15.3.5 and 15.4.5).
func bodyAllowedForStatus(code int) bool {
	return !(code >= 100 && code <= 199) && code != 204 && code != 304
}

// Write writes body bytes, sending the head first if needed.
func (w *response) Write(p []byte) (int, error) { return w.write(p, "") }

// WriteString writes body bytes from a string without copying it.
func (w *response) WriteString(s string) (int, error) { return w.write(nil, s) }

func (w *response) write(p []byte, s string) (int, error) {
	if w.c.hijacked {
		return 0, nethttp.ErrHijacked
	}
	if !w.wroteHeader {
		w.WriteHeader(nethttp.StatusOK)
	}
	n := len(p) + len(s)
	if n == 0 {
		return 0, nil
	}
	if !bodyAllowedForStatus(w.status) {
		return 0, nethttp.ErrBodyNotAllowed
	}
	if w.declared >= 0 && w.written+int64(n) > w.declared {
		return 0, nethttp.ErrContentLength
	}
	w.written += int64(n)
	if w.isHead {
		return n, nil // counted for Content-Length, never sent
	}
	if !w.committed {
		if len(w.pending)+n <= cap(w.pending) {
			w.pending = append(w.pending, p...)
			w.pending = append(w.pending, s...)
			return n, nil
		}
		w.commit(false)
		if err := w.writeBody(w.pending, ""); err != nil {
			return 0, err
		}
		w.pending = w.pending[:0]
	}
	if err := w.writeBody(p, s); err != nil {
		return 0, err
	}
	return n, nil
}

// ReadFrom copies r into the body through a pooled buffer. io.Copy, and
// *os.File's WriteTo, use it, which saves a 32 KiB buffer per copy.
func (w *response) ReadFrom(r io.Reader) (int64, error) {
	bp := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(bp)
	return io.CopyBuffer(onlyWriter{w}, onlyReader{r}, *bp)
}

func (w *response) writeBody(p []byte, s string) error {
	bw := w.c.bw
	if w.framing == framingChunked && len(p)+len(s) > 0 {
		writeHex(bw, uint64(len(p)+len(s)))
		bw.WriteString("\r\n")
		bw.Write(p)
		bw.WriteString(s)
		_, err := bw.WriteString("\r\n")
		return err
	}
	if _, err := bw.Write(p); err != nil {
		return err
	}
	_, err := bw.WriteString(s)
	return err
}

// commit decides the framing and the connection's fate and writes the
// response head. final means the handler has returned, so the body length
// is known.
func (w *response) commit(final bool) {
	w.committed = true
	c, req, h := w.c, w.req, w.header
	bodyAllowed := bodyAllowedForStatus(w.status)

	if c.srv.DisableKeepAlives || req.Close || c.srv.shuttingDown.Load() ||
		hasToken(h["Connection"], "close") {
		w.closeAfter = true
	}
	if final && c.body.continuePending {
		// The client is still waiting to send a body nobody read; the
		// connection cannot carry another request after it.
		w.closeAfter = true
	}

	w.framing = framingNone
	switch {
	case !bodyAllowed:
	case w.declared >= 0:
		w.framing = framingLength
	case final && (!w.isHead || w.written > 0):
		w.framing = framingLength
		w.declared = w.written
	case w.isHead:
	case req.ProtoAtLeast(1, 1):
		w.framing = framingChunked
	default:
		w.framing = framingToEOF
		w.closeAfter = true
	}

	bw := c.bw
	writeStatusLine(bw, w.status)
	_, hasDate := h["Date"]
	_, hasType := h["Content-Type"]
	for k, vs := range h {
		switch k {
		case "Content-Length":
			// Written below from w.declared, if at all. A 304 may carry the
			// handler's (the length of the selected representation); a
			// 1xx or 204 never does (RFC 9110 section 8.6).
			if bodyAllowed || w.status != 304 {
				continue
			}
		case "Transfer-Encoding", "Connection", "Keep-Alive":
			continue
		case "Trailer":
			if w.framing == framingChunked {
				w.trailers = w.trailers[:0]
				for _, v := range vs {
					w.trailers = append(w.trailers, splitList(v)...)
				}
			}
		}
		if strings.HasPrefix(k, nethttp.TrailerPrefix) || !validToken(k) {
			continue
		}
		for _, v := range vs {
			writeField(bw, k, v)
		}
	}
	if !hasDate {
		bw.WriteString("Date: ")
		bw.Write(httpDate())
		bw.WriteString("\r\n")
	}
	if !hasType && bodyAllowed && len(w.pending) > 0 && h["Content-Encoding"] == nil {
		bw.WriteString("Content-Type: ")
		bw.WriteString(nethttp.DetectContentType(w.pending))
		bw.WriteString("\r\n")
	}
	switch w.framing {
	case framingLength:
		bw.WriteString("Content-Length: ")
		writeDecimal(bw, w.declared)
		bw.WriteString("\r\n")
	case framingChunked:
		bw.WriteString("Transfer-Encoding: chunked\r\n")
	}
	switch {
	case w.closeAfter:
		bw.WriteString("Connection: close\r\n")
	case !req.ProtoAtLeast(1, 1):
		bw.WriteString("Connection: keep-alive\r\n")
	}
	bw.WriteString("\r\n")
}

// finish completes the response after the handler returns.
func (w *response) finish() {
	c := w.c
	if !w.wroteHeader {
		w.WriteHeader(nethttp.StatusOK)
	}
	if !w.committed {
		// Read what is left of the request body before answering, so that a
		// broken body can still be answered with 400 instead of the
		// handler's response.
		w.drainRequestBody()
		if c.body.framingFailed() {
			w.closeAfter = true
			c.writeErrorResponse(400, c.body.err.Error())
			w.committed = true
			return
		}
		w.commit(true)
		w.writeBody(w.pending, "")
		w.pending = w.pending[:0]
	} else {
		w.drainRequestBody()
	}
	switch {
	case w.framing == framingChunked:
		chunkedWriter{c.bw}.close(w.trailerHeader())
	case w.framing == framingLength && w.written < w.declared && !w.isHead:
		// The handler wrote less than it declared: the client would wait
		// for the rest forever, so end the connection to signal it.
		w.closeAfter = true
	}
	if c.body.err != nil && c.body.err != io.EOF {
		w.closeAfter = true
	}
}

// drainRequestBody reads and drops the unread rest of the request body,
// within MaxBodyDrainBytes, so the next request can be read. If the client
// is still waiting for 100 Continue it has not sent the body, and the
// connection is closed instead.
func (w *response) drainRequestBody() {
	c := w.c
	if c.body.framing == framingNone {
		return
	}
	if c.body.continuePending {
		w.closeAfter = true
		return
	}
	limit := c.srv.MaxBodyDrainBytes
	if limit <= 0 {
		limit = DefaultMaxBodyDrainBytes
	}
	if !c.body.discard(limit) {
		w.closeAfter = true
	}
}

// trailerHeader collects the trailer fields the handler set: those it
// declared in "Trailer" before writing, and those named with
// nethttp.TrailerPrefix.
func (w *response) trailerHeader() nethttp.Header {
	var t nethttp.Header
	for _, k := range w.trailers {
		k = canonicalKey(k)
		if vs, ok := w.header[k]; ok {
			if t == nil {
				t = make(nethttp.Header)
			}
			t[k] = vs
		}
	}
	for k, vs := range w.header {
		if name, ok := strings.CutPrefix(k, nethttp.TrailerPrefix); ok && validToken(name) {
			if t == nil {
				t = make(nethttp.Header)
			}
			t[canonicalKey(name)] = vs
		}
	}
	return t
}

// Flush sends the head, if not yet sent, and everything buffered.
func (w *response) Flush() {
	w.FlushError()
}

// FlushError is Flush that reports the write error; ResponseController uses it.
func (w *response) FlushError() error {
	if w.c.hijacked {
		return nethttp.ErrHijacked
	}
	if !w.wroteHeader {
		w.WriteHeader(nethttp.StatusOK)
	}
	if !w.committed {
		w.commit(false)
		w.writeBody(w.pending, "")
		w.pending = w.pending[:0]
	}
	return w.c.bw.Flush()
}

var errHijackAfterWrite = errors.New("http: Hijack after the response was sent")

// Hijack hands the connection to the handler, which then owns it: the
// server neither writes to nor closes it. Buffered request bytes are in the
// returned reader.
func (w *response) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c := w.c
	if c.hijacked {
		return nil, nil, nethttp.ErrHijacked
	}
	if w.committed {
		return nil, nil, errHijackAfterWrite
	}
	c.hijacked = true
	c.rwc.SetDeadline(time.Time{})
	c.srv.trackConn(c, false)
	return c.rwc, bufio.NewReadWriter(c.br, c.bw), nil
}

// SetReadDeadline sets the connection's read deadline, for
// nethttp.ResponseController.
func (w *response) SetReadDeadline(t time.Time) error { return w.c.rwc.SetReadDeadline(t) }

// SetWriteDeadline sets the connection's write deadline, for
// nethttp.ResponseController.
func (w *response) SetWriteDeadline(t time.Time) error { return w.c.rwc.SetWriteDeadline(t) }

// The Date header (RFC 9110 section 6.6.1) changes once a second, so it is
// formatted once a second and shared.
type cachedDate struct {
	unix int64
	text []byte
}

var dateCache atomic.Pointer[cachedDate]

func httpDate() []byte {
	now := time.Now()
	if d := dateCache.Load(); d != nil && d.unix == now.Unix() {
		return d.text
	}
	d := &cachedDate{unix: now.Unix(), text: now.UTC().AppendFormat(nil, nethttp.TimeFormat)}
	dateCache.Store(d)
	return d.text
}

func itoa(n int) string {
	var b [20]byte
	return string(appendContentLength(b[:0], int64(n)))
}
