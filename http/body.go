package http

import (
	"bufio"
	"io"
	nethttp "net/http"
	"strconv"
)

// framing says how the end of a message body is found (RFC 9112 section 6.3).
type framing uint8

const (
	framingNone    framing = iota // no body at all
	framingLength                 // Content-Length bytes
	framingChunked                // the chunked transfer coding
	framingToEOF                  // everything until the connection closes
)

// bodyReader reads one message body off a connection's bufio.Reader,
// stopping exactly at the body's end so the next message can be read after
// it.
type bodyReader struct {
	br        *bufio.Reader
	framing   framing
	remaining int64 // for framingLength
	chunked   chunkedReader
	err       error // sticky: io.EOF once the body is over
}

func (b *bodyReader) reset(br *bufio.Reader, f framing, length int64, lim Limits) {
	b.br = br
	b.framing = f
	b.remaining = length
	b.err = nil
	if f == framingChunked {
		b.chunked.reset(br, lim)
	}
	if f == framingNone || (f == framingLength && length == 0) {
		b.err = io.EOF
	}
}

func (b *bodyReader) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	var n int
	var err error
	switch b.framing {
	case framingLength:
		if int64(len(p)) > b.remaining {
			p = p[:b.remaining]
		}
		n, err = b.br.Read(p)
		b.remaining -= int64(n)
		if b.remaining == 0 {
			err = io.EOF
		} else if err == io.EOF {
			// The peer closed before sending Content-Length bytes: the
			// message is incomplete (RFC 9112 section 8).
			err = io.ErrUnexpectedEOF
		}
	case framingChunked:
		n, err = b.chunked.Read(p)
	case framingToEOF:
		n, err = b.br.Read(p)
	default:
		err = io.EOF
	}
	b.err = err
	return n, err
}

// done reports whether the body has been read to its end.
func (b *bodyReader) done() bool { return b.err == io.EOF }

// discard reads and drops the rest of the body, up to limit bytes. It
// reports whether the end was reached, so that the connection can be used
// for another message.
func (b *bodyReader) discard(limit int64) bool {
	if b.err != nil {
		return b.err == io.EOF
	}
	if b.framing == framingLength && b.remaining > limit {
		return false
	}
	var buf [512]byte
	for n := int64(0); n <= limit; {
		m, err := b.Read(buf[:])
		n += int64(m)
		if err == io.EOF {
			return true
		}
		if err != nil {
			return false
		}
	}
	return false
}

// messageFraming decides how a message's body is delimited, following
// RFC 9112 section 6.3 in order. It never guesses: any doubt about the
// length is an error, because a request whose length two parsers read
// differently is a smuggled request (section 11.2).
//
// For requests (isRequest), the rules are:
//
//   - Transfer-Encoding and Content-Length together: rejected (section 6.1
//     allows a server to reject it; section 6.3 item 3 calls it a probable
//     smuggling attempt).
//   - Transfer-Encoding in an HTTP/1.0 message, request or response:
//     rejected (section 6.1 says the framing MUST be treated as faulty).
//   - Transfer-Encoding whose final coding is not chunked: 400 (section 6.3
//     item 4); chunked applied twice: 400 (section 7); another coding
//     before chunked: 501, as we implement no other coding (section 6.1).
//   - Content-Length must be one run of digits, given once; a repeated or
//     list-valued Content-Length is rejected even when the values agree.
//   - Neither: no body (section 6.3 item 7).
//
// Responses follow the same rules, except that a response without framing
// headers is read until the connection closes (item 8), a response with
// both headers uses chunked (item 3), and identical repeated lengths are
// accepted (RFC 9110 section 8.6).
func messageFraming(h nethttp.Header, major, minor int, isRequest bool) (framing, int64, error) {
	te, hasTE := h["Transfer-Encoding"]
	cl, hasCL := h["Content-Length"]
	fail := badRequest
	if !isRequest {
		fail = badResponse
	}
	if hasTE {
		if isRequest && hasCL {
			return 0, 0, fail("both Transfer-Encoding and Content-Length")
		}
		if major == 1 && minor == 0 {
			return 0, 0, fail("Transfer-Encoding in an HTTP/1.0 message")
		}
		codings, chunkedCount, lastChunked := 0, 0, false
		for _, v := range te {
			for v != "" {
				var elem string
				if i := indexByte(v, ','); i >= 0 {
					elem, v = v[:i], v[i+1:]
				} else {
					elem, v = v, ""
				}
				elem = trimOWS(elem)
				if elem == "" {
					continue
				}
				codings++
				lastChunked = asciiEqualFold(elem, "chunked")
				if lastChunked {
					chunkedCount++
				}
			}
		}
		switch {
		case codings == 0:
			return 0, 0, fail("empty Transfer-Encoding")
		case chunkedCount > 1:
			return 0, 0, fail("chunked applied more than once")
		case !lastChunked && isRequest:
			return 0, 0, fail("Transfer-Encoding does not end in chunked")
		case !lastChunked:
			return framingToEOF, -1, nil
		case codings > 1 && isRequest:
			return 0, 0, &protocolError{status: 501, reason: "unsupported transfer coding"}
		case codings > 1:
			return 0, 0, fail("unsupported transfer coding")
		}
		return framingChunked, -1, nil
	}
	if hasCL {
		if len(cl) != 1 && isRequest {
			return 0, 0, fail("repeated Content-Length")
		}
		n, ok := parseContentLength(cl[0])
		if !ok {
			return 0, 0, fail("invalid Content-Length")
		}
		for _, v := range cl[1:] {
			if v != cl[0] {
				return 0, 0, fail("conflicting Content-Length")
			}
		}
		if n == 0 {
			return framingNone, 0, nil
		}
		return framingLength, n, nil
	}
	if isRequest {
		return framingNone, 0, nil
	}
	return framingToEOF, -1, nil
}

// parseContentLength parses Content-Length = 1*DIGIT (RFC 9110 section
// 8.6): no sign, no spaces, no list, and no value past 2^63-1.
func parseContentLength(s string) (int64, bool) {
	if s == "" || len(s) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

// appendContentLength formats a Content-Length value without allocating.
func appendContentLength(dst []byte, n int64) []byte {
	return strconv.AppendInt(dst, n, 10)
}
