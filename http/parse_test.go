package http

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	nethttp "net/http"
	"reflect"
	"strings"
	"testing"
)

// readTestRequest parses raw exactly as the server's connection loop does
// and returns the request with its whole body.
func readTestRequest(t testing.TB, raw string) (*nethttp.Request, string, error) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	s := &Server{DisableRequestReuse: true}
	c := s.newConn(context.Background(), a)
	c.br = bufio.NewReaderSize(strings.NewReader(raw), connReadBufferSize)
	c.bw = bufio.NewWriter(io.Discard)
	req, err := c.readRequest()
	if err != nil {
		return nil, "", err
	}
	body, err := io.ReadAll(req.Body)
	return req, string(body), err
}

// statusOf returns the status a server answers a parse error with, or 0.
func statusOf(err error) int {
	var pe *protocolError
	if errors.As(err, &pe) {
		return pe.status
	}
	var ce *chunkError
	if errors.As(err, &ce) {
		return 400
	}
	return 0
}

// crlf turns the "\n" line ends of a readable test vector into CRLF, as
// llhttp's test runner does with its markdown vectors.
func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

type wantRequest struct {
	method, host, path, rawQuery, urlHost, proto string
	contentLength                                int64
	close                                        bool
	header                                       nethttp.Header
	trailer                                      nethttp.Header
	body                                         string
}

func TestReadRequestValid(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want wantRequest
	}{
		{
			// Go src/net/http/readrequest_test.go, "baseline test".
			name: "go/absolute-form with body",
			raw: "GET http://www.techcrunch.com/ HTTP/1.1\r\n" +
				"Host: www.techcrunch.com\r\n" +
				"User-Agent: Fake\r\n" +
				"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n" +
				"Accept-Language: en-us,en;q=0.5\r\n" +
				"Accept-Encoding: gzip,deflate\r\n" +
				"Accept-Charset: ISO-8859-1,utf-8;q=0.7,*;q=0.7\r\n" +
				"Keep-Alive: 300\r\n" +
				"Content-Length: 7\r\n" +
				"Proxy-Connection: keep-alive\r\n\r\n" +
				"abcdef\n???",
			want: wantRequest{
				method: "GET", host: "www.techcrunch.com", path: "/", urlHost: "www.techcrunch.com",
				proto: "HTTP/1.1", contentLength: 7, body: "abcdef\n",
				header: nethttp.Header{
					"User-Agent":       {"Fake"},
					"Accept":           {"text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"},
					"Accept-Language":  {"en-us,en;q=0.5"},
					"Accept-Encoding":  {"gzip,deflate"},
					"Accept-Charset":   {"ISO-8859-1,utf-8;q=0.7,*;q=0.7"},
					"Keep-Alive":       {"300"},
					"Content-Length":   {"7"},
					"Proxy-Connection": {"keep-alive"},
				},
			},
		},
		{
			// Go readrequest_test.go: a path that looks like an authority.
			name: "go/double-slash path",
			raw:  "GET //user@host/is/actually/a/path/ HTTP/1.1\r\nHost: test\r\n\r\n",
			want: wantRequest{method: "GET", host: "test", path: "//user@host/is/actually/a/path/", proto: "HTTP/1.1", header: nethttp.Header{}},
		},
		{
			// Go readrequest_test.go: chunked body with a trailer.
			name: "go/chunked with trailer",
			raw: "POST / HTTP/1.1\r\nHost: foo.com\r\nTransfer-Encoding: chunked\r\nTrailer: Trailer-Key\r\n\r\n" +
				"3\r\nfoo\r\n3\r\nbar\r\n0\r\nTrailer-Key: Trailer-Value\r\n\r\n",
			want: wantRequest{
				method: "POST", host: "foo.com", path: "/", proto: "HTTP/1.1", contentLength: -1, body: "foobar",
				header:  nethttp.Header{"Transfer-Encoding": {"chunked"}, "Trailer": {"Trailer-Key"}},
				trailer: nethttp.Header{"Trailer-Key": {"Trailer-Value"}},
			},
		},
		{
			// Go readrequest_test.go: CONNECT in authority-form.
			name: "go/CONNECT authority-form",
			raw:  "CONNECT www.google.com:443 HTTP/1.1\r\nHost: www.google.com:443\r\n\r\n",
			want: wantRequest{method: "CONNECT", host: "www.google.com:443", urlHost: "www.google.com:443", proto: "HTTP/1.1", header: nethttp.Header{}},
		},
		{
			// Go readrequest_test.go: OPTIONS with the asterisk form.
			name: "go/OPTIONS *",
			raw:  "OPTIONS * HTTP/1.1\r\nHost: foo.com\r\n\r\n",
			want: wantRequest{method: "OPTIONS", host: "foo.com", path: "*", proto: "HTTP/1.1", header: nethttp.Header{}},
		},
		{
			// HTTP/1.0 needs no Host and closes by default (RFC 1945).
			name: "1.0 without Host",
			raw:  "GET /index.html HTTP/1.0\r\n\r\n",
			want: wantRequest{method: "GET", path: "/index.html", proto: "HTTP/1.0", close: true, header: nethttp.Header{}},
		},
		{
			name: "1.0 keep-alive",
			raw:  "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
			want: wantRequest{method: "GET", path: "/", proto: "HTTP/1.0", header: nethttp.Header{"Connection": {"Keep-Alive"}}},
		},
		{
			// llhttp test/request/connection.md: "Connection: close" in 1.1.
			name: "llhttp/1.1 connection close",
			raw:  crlf("PUT /url HTTP/1.1\nHost: a\nConnection: close\n\n"),
			want: wantRequest{method: "PUT", host: "a", path: "/url", proto: "HTTP/1.1", close: true, header: nethttp.Header{"Connection": {"close"}}},
		},
		{
			// llhttp test/request/connection.md: a token list.
			name: "llhttp/connection token list",
			raw:  crlf("PUT /url HTTP/1.1\nHost: a\nConnection: upgrade, close, keep-alive\n\n"),
			want: wantRequest{method: "PUT", host: "a", path: "/url", proto: "HTTP/1.1", close: true, header: nethttp.Header{"Connection": {"upgrade, close, keep-alive"}}},
		},
		{
			// llhttp test/request/transfer-encoding.md: lowercase and
			// uppercase chunk sizes, leading zeros in the last chunk.
			name: "llhttp/chunk sizes",
			raw:  crlf("POST /two_chunks_mult_zero_end HTTP/1.1\nHost: a\nTransfer-Encoding: chunked\n\na\n0123456789\nA\n0123456789\n000\n\n"),
			want: wantRequest{method: "POST", host: "a", path: "/two_chunks_mult_zero_end", proto: "HTTP/1.1", contentLength: -1, body: "01234567890123456789", header: nethttp.Header{"Transfer-Encoding": {"chunked"}}},
		},
		{
			// llhttp test/request/transfer-encoding.md: chunk extensions,
			// with quoted values and escapes; all ignored.
			name: "llhttp/chunk extensions",
			raw: crlf("POST /chunked_w_unicorns_after_length HTTP/1.1\nHost: a\nTransfer-Encoding: chunked\n\n" +
				"5;ilovew3=\"I \\\"love\\\"; \\\\extensions\\\\\";somuchlove=\"aretheseparametersfor\";blah;foo=bar\nhello\n" +
				"6;blahblah;blah\n world\n0\n\n"),
			want: wantRequest{method: "POST", host: "a", path: "/chunked_w_unicorns_after_length", proto: "HTTP/1.1", contentLength: -1, body: "hello world", header: nethttp.Header{"Transfer-Encoding": {"chunked"}}},
		},
		{
			// llhttp test/request/transfer-encoding.md: "Trailing headers".
			name: "llhttp/trailing headers",
			raw:  crlf("POST /chunked_w_trailing_headers HTTP/1.1\nHost: a\nTransfer-Encoding: chunked\n\n5\nhello\n6\n world\n0\nVary: *\nX-Checksum: 42\n\n"),
			want: wantRequest{
				method: "POST", host: "a", path: "/chunked_w_trailing_headers", proto: "HTTP/1.1", contentLength: -1, body: "hello world",
				header:  nethttp.Header{"Transfer-Encoding": {"chunked"}},
				trailer: nethttp.Header{"Vary": {"*"}, "X-Checksum": {"42"}},
			},
		},
		{
			// llhttp test/request/method.md: methods are tokens; any is allowed.
			name: "llhttp/extension method",
			raw:  crlf("MKCALENDAR /cal HTTP/1.1\nHost: a\n\n"),
			want: wantRequest{method: "MKCALENDAR", host: "a", path: "/cal", proto: "HTTP/1.1", header: nethttp.Header{}},
		},
		{
			// llhttp test/request/uri.md: query string; and Go's URL parsing
			// of percent-escapes.
			name: "query and escapes",
			raw:  "GET /a%20b/c?x=1&y=%2F HTTP/1.1\r\nHost: a\r\n\r\n",
			want: wantRequest{method: "GET", host: "a", path: "/a b/c", rawQuery: "x=1&y=%2F", proto: "HTTP/1.1", header: nethttp.Header{}},
		},
		{
			name: "header names canonicalized, OWS trimmed, repeats kept in order",
			raw:  "GET / HTTP/1.1\r\nhost: a\r\nx-custom-thing: \t v1 \t\r\nX-CUSTOM-THING: v2\r\nACCEPT:*/*\r\n\r\n",
			want: wantRequest{method: "GET", host: "a", path: "/", proto: "HTTP/1.1", header: nethttp.Header{"X-Custom-Thing": {"v1", "v2"}, "Accept": {"*/*"}}},
		},
		{
			// RFC 9112 section 2.2: ignore an empty line before the request.
			name: "leading empty line",
			raw:  "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
			want: wantRequest{method: "GET", host: "a", path: "/", proto: "HTTP/1.1", header: nethttp.Header{}},
		},
		{
			name: "obs-text in value",
			raw:  "GET / HTTP/1.1\r\nHost: a\r\nX-Name: caf\xc3\xa9\r\n\r\n",
			want: wantRequest{method: "GET", host: "a", path: "/", proto: "HTTP/1.1", header: nethttp.Header{"X-Name": {"caf\xc3\xa9"}}},
		},
		{
			// RFC 9110 section 6.2: a later 1.x is handled as 1.1.
			name: "HTTP/1.2 as 1.1",
			raw:  "GET / HTTP/1.2\r\nHost: a\r\n\r\n",
			want: wantRequest{method: "GET", host: "a", path: "/", proto: "HTTP/1.2", header: nethttp.Header{}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, body, err := readTestRequest(t, tt.raw)
			if err != nil {
				t.Fatalf("error %v", err)
			}
			w := tt.want
			if req.Method != w.method || req.Host != w.host || req.URL.Path != w.path ||
				req.URL.RawQuery != w.rawQuery || req.URL.Host != w.urlHost || req.Proto != w.proto {
				t.Errorf("got method %q host %q path %q query %q url host %q proto %q",
					req.Method, req.Host, req.URL.Path, req.URL.RawQuery, req.URL.Host, req.Proto)
			}
			if req.ContentLength != w.contentLength || req.Close != w.close {
				t.Errorf("ContentLength %d Close %v, want %d %v", req.ContentLength, req.Close, w.contentLength, w.close)
			}
			if !reflect.DeepEqual(req.Header, w.header) {
				t.Errorf("header %v, want %v", req.Header, w.header)
			}
			if body != w.body {
				t.Errorf("body %q, want %q", body, w.body)
			}
			if len(w.trailer) > 0 && !reflect.DeepEqual(req.Trailer, w.trailer) {
				t.Errorf("trailer %v, want %v", req.Trailer, w.trailer)
			}
			if req.RequestURI == "" {
				t.Errorf("RequestURI not set")
			}
		})
	}
}

// TestReadRequestRejected covers malformed and ambiguous requests: each
// must fail with the given status, never be guessed at.
func TestReadRequestRejected(t *testing.T) {
	tests := []struct {
		name   string
		raw    string
		status int
	}{
		// Request line.
		{"llhttp/ICE protocol", "GET /music/sweet/music ICE/1.0\r\nHost: a\r\n\r\n", 400},
		{"llhttp/IHTTP protocol", "GET /music/sweet/music IHTTP/1.0\r\nHost: a\r\n\r\n", 400},
		{"llhttp/invalid HTTP version 5.6", "GET / HTTP/5.6\r\nHost: a\r\n\r\n", 505},
		{"llhttp/method without space", "MKCOLA/ HTTP/1.1\r\n\r\n", 400},
		{"two spaces", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"go/empty target", "GET  HTTP/1.1\r\nHost: test\r\n\r\n", 400},
		{"go/relative target", "GET ../../../../etc/passwd HTTP/1.1\r\nHost: test\r\n\r\n", 400},
		{"lowercase http", "GET / http/1.1\r\nHost: a\r\n\r\n", 400},
		{"HTTP/0.9 style", "GET /\r\n\r\n", 400},
		{"tab in request line", "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"invalid method char", "G@T / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"fragment in target", "POST /post?q=search#hey HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"asterisk with GET", "GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"CONNECT without port", "CONNECT example.com HTTP/1.1\r\nHost: example.com\r\n\r\n", 400},
		{"too many empty lines", "\r\n\r\n\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		// Host (RFC 9112 section 3.2).
		{"1.1 without Host", "GET / HTTP/1.1\r\n\r\n", 400},
		{"two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
		{"Host with userinfo", "GET / HTTP/1.1\r\nHost: user@evil\r\n\r\n", 400},
		{"Host with slash", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400},
		// Field lines (RFC 9112 section 5, RFC 9110 section 5.5).
		{"llhttp/headers separated by CR", "GET / HTTP/1.1\r\nHost: a\r\nFoo: 1\rBar: 2\r\n\r\n", 400},
		{"llhttp/headers separated by LF", "POST / HTTP/1.1\r\nHost: localhost:5000\r\nx:x\nTransfer-Encoding: chunked\r\n\r\n1\r\nA\r\n0\r\n\r\n", 400},
		{"llhttp/dummy characters after CR", "GET / HTTP/1.1\r\nConnection: close\r\nHost: a\r\n\rZGET /evil: HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"llhttp/empty header separated by CR", "POST / HTTP/1.1\r\nHost: a\r\nx:\rTransfer-Encoding: chunked\r\n\r\n1\r\nA\r\n0\r\n\r\n", 400},
		{"llhttp/missing CR between headers", "GET / HTTP/1.1\r\nHost: localhost\r\nDummy: x\nContent-Length: 23\r\n\r\nGET / HTTP/1.1\r\nDummy: GET /admin HTTP/1.1\r\nHost: localhost\r\n\r\n", 400},
		{"llhttp/invalid header token @", "GET / HTTP/1.1\r\nHost: a\r\nFo@: Failure\r\n\r\n", 400},
		{"llhttp/invalid header token ctl", "GET / HTTP/1.1\r\nHost: a\r\nFoo\x01test: Bar\r\n\r\n", 400},
		{"llhttp/empty header name", "GET / HTTP/1.1\r\nHost: a\r\n: Bar\r\n\r\n", 400},
		{"llhttp/name line folding", "GET / HTTP/1.1\r\nHost: a\r\nname\r\n : value\r\n\r\n", 400},
		{"llhttp/corrupted Connection header", "GET / HTTP/1.1\r\nHost: www.example.com\r\nConnection\r\x1b\x35\xd5eep-Alive\r\nAccept-Encoding: gzip\r\n\r\n", 400},
		{"llhttp/space after start line", "GET / HTTP/1.1\r\n Host: foo\r\n\r\n", 400},
		{"llhttp/spaces before header (obs-fold)", "POST /hello HTTP/1.1\r\nHost: localhost\r\nFoo: bar\r\n Content-Length: 38\r\n\r\nGET /bye HTTP/1.1\r\nHost: localhost\r\n\r\n", 400},
		{"llhttp/only LFs", "POST / HTTP/1.1\nTransfer-Encoding: chunked\n\n1\nA\n0\n\n", 400},
		{"go/space before colon", "GET / HTTP/1.1\r\nHost: a\r\nFoo : bar\r\n\r\n", 400},
		{"tab before colon", "GET / HTTP/1.1\r\nHost: a\r\nFoo\t: bar\r\n\r\n", 400},
		{"no colon", "GET / HTTP/1.1\r\nHost: a\r\nFoo bar\r\n\r\n", 400},
		{"NUL in value", "GET / HTTP/1.1\r\nHost: a\r\nFoo: b\x00r\r\n\r\n", 400},
		{"DEL in value", "GET / HTTP/1.1\r\nHost: a\r\nFoo: b\x7fr\r\n\r\n", 400},
		{"bare CR in request line", "GET /\r HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		// Framing (RFC 9112 sections 6.1, 6.3, 11.2).
		{"llhttp/TE and CL", "POST /post_identity_body_world?q=search HTTP/1.1\r\nHost: a\r\nAccept: */*\r\nTransfer-Encoding: identity\r\nContent-Length: 5\r\n\r\nWorld", 400},
		{"TE chunked and CL", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n", 400},
		{"CL and TE chunked", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
		{"llhttp/empty TE with CL", "POST /first HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\nContent-Length: 5\r\n\r\nhello", 400},
		{"empty TE", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\r\n", 400},
		{"llhttp/TE pigeons", "PUT /url HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: pigeons\r\n\r\n", 400},
		{"TE chunked not last", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400},
		{"TE chunked twice", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
		{"TE chunked twice in a list", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", 400},
		{"TE gzip then chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501},
		{"TE with a near miss", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", 400},
		{"TE in HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
		{"go/duplicate CL", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabc", 400},
		{"identical duplicate CL", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", 400},
		{"CL list", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\nabc", 400},
		{"go/negative CL", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400},
		{"go/plus CL", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\nabc", 400},
		{"hex CL", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x3\r\n\r\nabc", 400},
		{"CL overflow", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n", 400},
		{"empty CL", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n", 400},
		// Chunked body (RFC 9112 section 7.1).
		{"llhttp/no semicolon before extension", "POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-encoding: chunked\r\n\r\n2 erfrferferf\r\naa\r\n0 rrrr\r\n\r\n", 400},
		{"llhttp/no extension after semicolon", "POST / HTTP/1.1\r\nHost: localhost\r\nTransfer-encoding: chunked\r\n\r\n2;\r\naa\r\n0\r\n\r\n", 400},
		{"llhttp/unbalanced quote in extension", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;ilovew3=\"abc\";somuchlove=\"def; ghi\r\nhello\r\n0\r\n\r\n", 400},
		{"chunk size overflow", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\nx\r\n0\r\n\r\n", 400},
		{"chunk size 2^63", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n8000000000000000\r\nx\r\n0\r\n\r\n", 400},
		{"non-hex chunk size", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nx\r\n0\r\n\r\n", 400},
		{"negative chunk size", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\nx\r\n0\r\n\r\n", 400},
		{"0x prefix chunk size", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n", 400},
		{"empty chunk size", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n\r\nhello\r\n0\r\n\r\n", 400},
		{"chunk size with LF only", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n", 400},
		{"chunk data too long", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n", 400},
		{"chunk data not followed by CRLF", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n", 400},
		{"chunk data followed by LF", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\n0\r\n\r\n", 400},
		{"trailing space after size", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n", 400},
		{"bad trailer line", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nBad Trailer\r\n\r\n", 400},
		{"truncated chunked body", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", 0},
		{"truncated CL body", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhel", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := readTestRequest(t, tt.raw)
			if err == nil {
				t.Fatalf("accepted")
			}
			if got := statusOf(err); got != tt.status {
				t.Fatalf("status %d (%v), want %d", got, err, tt.status)
			}
		})
	}
}

func TestReadRequestLimits(t *testing.T) {
	longTarget := "GET /" + strings.Repeat("a", DefaultMaxStartLineBytes) + " HTTP/1.1\r\nHost: a\r\n\r\n"
	if _, _, err := readTestRequest(t, longTarget); statusOf(err) != 414 {
		t.Errorf("long request line: %v, want 414", err)
	}
	var many strings.Builder
	many.WriteString("GET / HTTP/1.1\r\nHost: a\r\n")
	for i := 0; i < DefaultMaxHeaderCount; i++ {
		many.WriteString("X-A: b\r\n")
	}
	many.WriteString("\r\n")
	if _, _, err := readTestRequest(t, many.String()); statusOf(err) != 431 {
		t.Errorf("too many headers: %v, want 431", err)
	}
	huge := "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + strings.Repeat("b", DefaultMaxHeaderBytes) + "\r\n\r\n"
	if _, _, err := readTestRequest(t, huge); statusOf(err) != 431 {
		t.Errorf("huge header: %v, want 431", err)
	}
	// Exactly at the count limit is fine.
	var ok strings.Builder
	ok.WriteString("GET / HTTP/1.1\r\nHost: a\r\n")
	for i := 0; i < DefaultMaxHeaderCount-1; i++ {
		ok.WriteString("X-A: b\r\n")
	}
	ok.WriteString("\r\n")
	if _, _, err := readTestRequest(t, ok.String()); err != nil {
		t.Errorf("header count at the limit: %v", err)
	}
}

func TestCanonicalKey(t *testing.T) {
	for in, want := range map[string]string{
		"content-type":     "Content-Type",
		"CONTENT-LENGTH":   "Content-Length",
		"x-my-header":      "X-My-Header",
		"X-Already-Fine":   "X-Already-Fine",
		"www-authenticate": "Www-Authenticate",
		"a":                "A",
		"foo_bar":          "Foo_bar",
		"x--y":             "X--Y",
	} {
		if got := canonicalKey(in); got != want {
			t.Errorf("canonicalKey(%q) = %q, want %q", in, got, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { canonicalKey("content-type"); canonicalKey("X-Custom") }); n != 0 {
		t.Errorf("canonicalKey allocates %v times", n)
	}
}

func TestHasToken(t *testing.T) {
	cases := []struct {
		values []string
		token  string
		want   bool
	}{
		{[]string{"close"}, "close", true},
		{[]string{"Keep-Alive"}, "keep-alive", true},
		{[]string{"upgrade, close"}, "close", true},
		{[]string{"upgrade", " Close "}, "close", true},
		{[]string{"closed"}, "close", false},
		{[]string{"keep-alive-ish"}, "keep-alive", false},
		{nil, "close", false},
	}
	for _, c := range cases {
		if got := hasToken(c.values, c.token); got != c.want {
			t.Errorf("hasToken(%q, %q) = %v", c.values, c.token, got)
		}
	}
}

func TestParseStatusLine(t *testing.T) {
	good := map[string]statusLine{
		"HTTP/1.1 200 OK":                {proto: "HTTP/1.1", major: 1, minor: 1, code: 200, status: "200 OK"},
		"HTTP/1.0 404 Not Found":         {proto: "HTTP/1.0", major: 1, minor: 0, code: 404, status: "404 Not Found"},
		"HTTP/1.1 200 ":                  {proto: "HTTP/1.1", major: 1, minor: 1, code: 200, status: "200 "},
		"HTTP/1.1 599":                   {proto: "HTTP/1.1", major: 1, minor: 1, code: 599, status: "599"},
		"HTTP/1.1 301 Moved Permanently": {proto: "HTTP/1.1", major: 1, minor: 1, code: 301, status: "301 Moved Permanently"},
	}
	for in, want := range good {
		got, err := parseStatusLine(in)
		if err != nil || got != want {
			t.Errorf("parseStatusLine(%q) = %+v, %v", in, got, err)
		}
	}
	// llhttp test/response/invalid.md style rejects.
	for _, in := range []string{"HTTP/1.1 20 OK", "HTTP/1.1 2000 OK", "HTTP/2.0 200 OK", "HTTP/1.1  200 OK", "ICE/1.0 200 OK", "HTTP/1.1 abc OK", "HTTP/1.1 200 O\x00K", "HTTP/1.1 099 X"} {
		if _, err := parseStatusLine(in); err == nil {
			t.Errorf("parseStatusLine(%q) accepted", in)
		}
	}
}
