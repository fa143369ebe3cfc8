package http

import (
	"bufio"
	"bytes"
	"io"
	nethttp "net/http"
	"net/http/httputil"
	"strings"
	"testing"
)

// FuzzReadRequest feeds arbitrary bytes to the request parser. It must
// never panic, and whatever it accepts net/http's own parser must accept
// too, with the same method, path, host and body: we are meant to be the
// stricter of the two, never the one that sees a different message.
func FuzzReadRequest(f *testing.F) {
	for _, seed := range []string{
		"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
		"GET /x?y=z HTTP/1.0\r\n\r\n",
		"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
		"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n0\r\nT: v\r\n\r\n",
		"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n",
		"GET http://a/b HTTP/1.1\r\nHost: a\r\n\r\n",
		"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
		"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		req, body, err := readTestRequest(t, raw)
		if err != nil {
			return
		}
		if !validToken(req.Method) {
			t.Fatalf("accepted method %q", req.Method)
		}
		if req.ProtoAtLeast(1, 1) && req.Host == "" && !strings.Contains(strings.ToLower(raw), "\r\nhost:") {
			t.Fatalf("accepted HTTP/1.1 without Host")
		}
		// RFC 9112 section 2.2 has a server skip empty lines before the
		// request line; net/http.ReadRequest does not, so skip them for it.
		goRaw := raw
		for strings.HasPrefix(goRaw, "\r\n") {
			goRaw = goRaw[2:]
		}
		goReq, goErr := nethttp.ReadRequest(bufio.NewReader(strings.NewReader(goRaw)))
		if goErr != nil {
			t.Fatalf("we accepted what net/http rejects (%v): %q", goErr, raw)
		}
		goBody, goErr := io.ReadAll(goReq.Body)
		if goErr != nil {
			t.Fatalf("we read a body net/http cannot (%v): %q", goErr, raw)
		}
		if goReq.Method != req.Method || goReq.URL.Path != req.URL.Path || goReq.Host != req.Host || string(goBody) != body {
			t.Fatalf("disagreement on %q: ours %s %q %q body %q; net/http %s %q %q body %q",
				raw, req.Method, req.URL.Path, req.Host, body, goReq.Method, goReq.URL.Path, goReq.Host, goBody)
		}
	})
}

// FuzzChunkedReader feeds arbitrary bytes to the chunked decoder. It must
// never panic; what it decodes must survive a round trip through our
// encoder; and net/http's decoder must read the same data from it.
func FuzzChunkedReader(f *testing.F) {
	for _, seed := range []string{
		"0\r\n\r\n",
		"5\r\nhello\r\n0\r\n\r\n",
		"3;a=b\r\nabc\r\n0;c=\"d\"\r\nX-T: 1\r\n\r\n",
		"ffffffffffffffffff\r\n",
		"1\nX\r\n0\r\n\r\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		data, err := io.ReadAll(newChunkedReader(strings.NewReader(in)))
		if err != nil {
			return
		}
		var enc bytes.Buffer
		bw := bufio.NewWriter(&enc)
		chunkedWriter{bw}.Write(data)
		chunkedWriter{bw}.close(nil)
		bw.Flush()
		again, err := io.ReadAll(newChunkedReader(&enc))
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("round trip of %q: got %q, %v", data, again, err)
		}
		goData, goErr := io.ReadAll(httputil.NewChunkedReader(strings.NewReader(in)))
		if goErr != nil {
			t.Fatalf("we decoded what net/http rejects (%v): %q", goErr, in)
		}
		if !bytes.Equal(goData, data) {
			t.Fatalf("decoders disagree on %q: ours %q, net/http %q", in, data, goData)
		}
	})
}

// FuzzReadResponse feeds arbitrary bytes to the client's response parser.
// It must never panic, and what it accepts net/http must read the same
// way: same status and same body.
func FuzzReadResponse(f *testing.F) {
	for _, seed := range []string{
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
		"HTTP/1.0 200 OK\r\n\r\nto the end",
		"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nX: y\r\n\r\n",
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
		"HTTP/1.1 301\nLocation: /x\n\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		resp, body, err := readTestResponse(t, "GET", raw)
		if err != nil {
			return
		}
		br := bufio.NewReader(strings.NewReader(raw))
		goResp, goErr := nethttp.ReadResponse(br, &nethttp.Request{Method: "GET"})
		for goErr == nil && goResp.StatusCode >= 100 && goResp.StatusCode < 200 && goResp.StatusCode != 101 {
			goResp, goErr = nethttp.ReadResponse(br, &nethttp.Request{Method: "GET"})
		}
		if goErr != nil && strings.Contains(goErr.Error(), "unsupported transfer encoding") {
			// RFC 9112 section 6.3 item 4: a response whose transfer
			// coding does not end in chunked is read until the connection
			// closes. net/http refuses it instead; both are safe.
			return
		}
		if goErr != nil {
			t.Fatalf("we accepted what net/http rejects (%v): %q", goErr, raw)
		}
		goBody, goErr := io.ReadAll(goResp.Body)
		if goErr != nil {
			t.Fatalf("we read a body net/http cannot (%v): %q", goErr, raw)
		}
		if goResp.StatusCode != resp.StatusCode || string(goBody) != body {
			t.Fatalf("disagreement on %q: ours %d %q, net/http %d %q", raw, resp.StatusCode, body, goResp.StatusCode, goBody)
		}
	})
}
