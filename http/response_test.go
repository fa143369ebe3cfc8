package http

import (
	"bufio"
	"io"
	nethttp "net/http"
	"strings"
	"testing"
)

// readTestResponse parses raw as the client does after sending a request
// with the given method, and returns the response with its whole body.
func readTestResponse(t *testing.T, method, raw string) (*nethttp.Response, string, error) {
	c := &Client{}
	pc := &persistConn{pool: &hostPool{client: c}, br: bufio.NewReader(strings.NewReader(raw))}
	req, _ := nethttp.NewRequest(method, "http://example.test/", nil)
	resp, err := pc.readResponse(req, c)
	if err != nil {
		return nil, "", err
	}
	body, err := io.ReadAll(resp.Body)
	return resp, string(body), err
}

// Vectors from nodejs/llhttp test/response/sample.md, connection.md and
// transfer-encoding.md (written there with "\n", sent as CRLF), and from
// Go's src/net/http/response_test.go.
func TestReadResponse(t *testing.T) {
	tests := []struct {
		name, method, raw string
		status            string
		contentLength     int64
		close             bool
		header            map[string]string
		body              string
	}{
		{
			name: "llhttp/simple response", method: "GET",
			raw:    crlf("HTTP/1.1 200 OK\nHeader1: Value1\nHeader2:\t Value2\nContent-Length: 0\n\n"),
			status: "200 OK", header: map[string]string{"Header1": "Value1", "Header2": "Value2"},
		},
		{
			name: "llhttp/google 301, padded Content-Length", method: "GET",
			raw:    crlf("HTTP/1.1 301 Moved Permanently\nLocation: http://www.google.com/\nX-$PrototypeBI-Version: 1.6.0.3\nContent-Length:  9  \n\n<HTML>..!"),
			status: "301 Moved Permanently", contentLength: 9, body: "<HTML>..!",
			header: map[string]string{"Location": "http://www.google.com/", "X-$prototypebi-Version": "1.6.0.3"},
		},
		{
			name: "llhttp/amazon chunked", method: "GET",
			raw:    crlf("HTTP/1.1 301 MovedPermanently\nx-amz-id-1: 0GPHKXSJQ826RK7GZEB2\nTransfer-Encoding: chunked\n\n") + "1\r\n\n\r\n0\r\n\r\n",
			status: "301 MovedPermanently", contentLength: -1, body: "\n",
			header: map[string]string{"X-Amz-Id-1": "0GPHKXSJQ826RK7GZEB2"},
		},
		{
			name: "llhttp/no headers and no body: read to close", method: "GET",
			raw:    crlf("HTTP/1.1 404 Not Found\n\n"),
			status: "404 Not Found", contentLength: -1, close: true,
		},
		{
			name: "llhttp/no reason phrase", method: "GET",
			raw:    "HTTP/1.1 301\r\nContent-Length: 0\r\n\r\n",
			status: "301",
		},
		{
			name: "llhttp/empty reason phrase after space", method: "GET",
			raw:    "HTTP/1.1 200 \r\nContent-Length: 0\r\n\r\n",
			status: "200 ",
		},
		{
			name: "llhttp/no carriage return (lenient for responses)", method: "GET",
			raw:    "HTTP/1.1 200 OK\nContent-Type: text/html; charset=utf-8\nConnection: close\n\nthese headers are from http://news.ycombinator.com/",
			status: "200 OK", contentLength: -1, close: true, body: "these headers are from http://news.ycombinator.com/",
		},
		{
			name: "llhttp/underscore in header key", method: "GET",
			raw:    crlf("HTTP/1.1 200 OK\nServer: DCLK-AdSvr\nContent-Length: 0\nDCLK_imp: v7;x;114750856\n\n"),
			status: "200 OK", header: map[string]string{"Dclk_imp": "v7;x;114750856"},
		},
		{
			name: "llhttp/bonjourmadame: empty value, 1.0 keep-alive", method: "GET",
			raw:    crlf("HTTP/1.0 301 Moved Permanently\nPragma: \nLocation: http://www.bonjourmadame.fr/\nContent-Length: 0\nConnection: keep-alive\n\n"),
			status: "301 Moved Permanently", header: map[string]string{"Pragma": "", "Location": "http://www.bonjourmadame.fr/"},
		},
		{
			name: "llhttp/connection close in 1.1", method: "GET",
			raw:    crlf("HTTP/1.1 200 OK\nContent-Length: 2\nConnection: close\n\nok"),
			status: "200 OK", contentLength: 2, close: true, body: "ok",
		},
		{
			name: "llhttp/1.0 without keep-alive closes", method: "GET",
			raw:    crlf("HTTP/1.0 200 OK\nContent-Length: 2\n\nok"),
			status: "200 OK", contentLength: 2, close: true, body: "ok",
		},
		{
			name: "go/HEAD keeps the Content-Length but has no body", method: "HEAD",
			raw:    "HTTP/1.1 200 OK\r\nContent-Length: 256\r\n\r\n",
			status: "200 OK", contentLength: 256,
		},
		{
			name: "go/204 has no body", method: "GET",
			raw:    "HTTP/1.1 204 No Content\r\n\r\nleftover",
			status: "204 No Content",
		},
		{
			name: "go/304 has no body", method: "GET",
			raw:    "HTTP/1.1 304 Not Modified\r\nContent-Length: 100\r\n\r\n",
			status: "304 Not Modified",
		},
		{
			name: "go/identical repeated Content-Length", method: "GET",
			raw:    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok",
			status: "200 OK", contentLength: 2, body: "ok",
		},
		{
			name: "chunked wins over Content-Length, connection suspect", method: "GET",
			raw:    "HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
			status: "200 OK", contentLength: -1, close: true, body: "ok",
		},
		{
			name: "interim 100 and 103 skipped", method: "GET",
			raw:    "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx",
			status: "200 OK", contentLength: 1, body: "x",
		},
		{
			name: "gzip transfer coding without chunked: read to close", method: "GET",
			raw:    "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nraw bytes",
			status: "200 OK", contentLength: -1, close: true, body: "raw bytes",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body, err := readTestResponse(t, tt.method, tt.raw)
			if err != nil {
				t.Fatal(err)
			}
			if resp.Status != tt.status || resp.ContentLength != tt.contentLength || resp.Close != tt.close || body != tt.body {
				t.Errorf("got status %q length %d close %v body %q", resp.Status, resp.ContentLength, resp.Close, body)
			}
			for k, v := range tt.header {
				if got, ok := resp.Header[k]; !ok || got[0] != v {
					t.Errorf("header %s = %q, want %q (all: %v)", k, got, v, resp.Header)
				}
			}
		})
	}
}

func TestReadResponseRejected(t *testing.T) {
	for name, raw := range map[string]string{
		"llhttp/HTTPER":            "HTTPER/1.1 200 OK\r\n\r\n",
		"llhttp/RTSP":              "RTSP/1.1 200 OK\r\n\r\n",
		"llhttp/ICE":               "ICE/1.1 200 OK\r\n\r\n",
		"llhttp/invalid version":   "HTTP/2.0 200 OK\r\n\r\n",
		"two-digit status":         "HTTP/1.1 20 OK\r\n\r\n",
		"conflicting lengths":      "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx",
		"negative length":          "HTTP/1.1 200 OK\r\nContent-Length: -2\r\n\r\n",
		"obs-fold":                 "HTTP/1.1 200 OK\r\nX: a\r\n b\r\nContent-Length: 0\r\n\r\n",
		"space before colon":       "HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n",
		"bad chunk":                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n",
		"truncated length body":    "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
		"chunked twice":            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n",
		"empty":                    "",
		"truncated head":           "HTTP/1.1 200 OK\r\nContent-Le",
		"NUL in header":            "HTTP/1.1 200 OK\r\nX: \x00\r\nContent-Length: 0\r\n\r\n",
		"gzip then chunked in TE":  "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
		"bare CR in a header line": "HTTP/1.1 200 OK\r\nX: a\rb\r\nContent-Length: 0\r\n\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			if _, _, err := readTestResponse(t, "GET", raw); err == nil {
				t.Fatalf("accepted %q", raw)
			}
		})
	}
}
