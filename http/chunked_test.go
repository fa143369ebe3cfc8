package http

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	nethttp "net/http"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

// Vectors in this file follow Go's src/net/http/internal/chunked_test.go,
// adapted to this reader, which also reads the trailer section (so a body
// ends "0\r\n\r\n", not "0\r\n") and requires CRLF everywhere.

func newChunkedReader(r io.Reader) *chunkedReader {
	cr := &chunkedReader{}
	cr.reset(bufio.NewReaderSize(r, 4096), Limits{}.withDefaults())
	return cr
}

func TestChunkedRoundTrip(t *testing.T) {
	// Go: TestChunk.
	var b bytes.Buffer
	bw := bufio.NewWriter(&b)
	cw := chunkedWriter{bw}
	cw.Write([]byte("hello, "))
	cw.Write([]byte("world! 0123456789abcdef"))
	cw.Write(nil) // must not end the body early
	cw.close(nethttp.Header{"Checksum": {"abc"}, "Content-Length": {"9"}})
	bw.Flush()
	want := "7\r\nhello, \r\n17\r\nworld! 0123456789abcdef\r\n0\r\nChecksum: abc\r\n\r\n"
	if b.String() != want {
		t.Fatalf("wrote %q, want %q", b.String(), want)
	}
	cr := newChunkedReader(&b)
	data, err := io.ReadAll(cr)
	if err != nil || string(data) != "hello, world! 0123456789abcdef" {
		t.Fatalf("read %q, %v", data, err)
	}
	if !reflect.DeepEqual(cr.trailer, nethttp.Header{"Checksum": {"abc"}}) {
		t.Fatalf("trailer %v", cr.trailer)
	}
}

func TestChunkedReadMultipleInOneRead(t *testing.T) {
	// Go: TestChunkReadMultiple. Small chunks all buffered are returned by
	// successive Reads, and the last one reports EOF promptly.
	cr := newChunkedReader(strings.NewReader("3\r\nfoo\r\n3\r\nbar\r\n0\r\n\r\n"))
	got, err := io.ReadAll(cr)
	if err != nil || string(got) != "foobar" {
		t.Fatalf("got %q, %v", got, err)
	}
}

func TestChunkedIgnoresExtensions(t *testing.T) {
	// Go: TestChunkReadingIgnoresExtensions.
	in := "7;ext=\"some quoted string\"\r\n" +
		"hello, \r\n" +
		"17;someext\r\n" +
		"world! 0123456789abcdef\r\n" +
		"0;someextension=sometoken\r\n\r\n"
	data, err := io.ReadAll(newChunkedReader(strings.NewReader(in)))
	if err != nil || string(data) != "hello, world! 0123456789abcdef" {
		t.Fatalf("read %q, %v", data, err)
	}
	// BWS around ";" and "=" is allowed by RFC 9112 section 7.1.1.
	data, err = io.ReadAll(newChunkedReader(strings.NewReader("5 ; a = b\r\nhello\r\n0\r\n\r\n")))
	if err != nil || string(data) != "hello" {
		t.Fatalf("BWS: read %q, %v", data, err)
	}
}

func TestChunkedReadPartial(t *testing.T) {
	// Go: TestChunkReadPartial (issue 17355). A Read returns the data it
	// has without waiting for the CRLF after it; the next Read finds the
	// bad framing.
	pr, pw := io.Pipe()
	go pw.Write([]byte("7\r\n1234567"))
	cr := newChunkedReader(pr)
	buf := make([]byte, 7)
	n, err := cr.Read(buf)
	if err != nil || n != 7 || string(buf) != "1234567" {
		t.Fatalf("Read: %d %q %v", n, buf[:n], err)
	}
	go pw.Write([]byte("xx"))
	if _, err := cr.Read(buf); !errors.Is(err, ErrChunkedSyntax) {
		t.Fatalf("second Read = %v, want a syntax error", err)
	}
}

func TestChunkedIncomplete(t *testing.T) {
	// Go: TestIncompleteChunk (issue 48861): every prefix of a valid body
	// is an unexpected EOF, never a clean one.
	const valid = "4\r\nabcd\r\n" + "5\r\nabc\r\n\r\n" + "0\r\n\r\n"
	for i := 0; i < len(valid); i++ {
		if _, err := io.ReadAll(newChunkedReader(strings.NewReader(valid[:i]))); err != io.ErrUnexpectedEOF {
			t.Errorf("%q: got %v, want io.ErrUnexpectedEOF", valid[:i], err)
		}
	}
	if _, err := io.ReadAll(newChunkedReader(strings.NewReader(valid))); err != nil {
		t.Errorf("valid body: %v", err)
	}
}

func TestChunkedReadErrorPassesThrough(t *testing.T) {
	// Go: TestChunkEndReadError.
	readErr := fmt.Errorf("chunk end read error")
	r := io.MultiReader(strings.NewReader("4\r\nabcd"), iotest.ErrReader(readErr))
	if _, err := io.ReadAll(newChunkedReader(r)); err != readErr {
		t.Errorf("got %v, want %v", err, readErr)
	}
}

// repeatReader returns chunk n times, then tail.
type repeatReader struct {
	chunk, tail []byte
	n           int
	buf         []byte
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if len(r.buf) == 0 {
		if r.n > 0 {
			r.buf = r.chunk
			r.n--
		} else if r.tail != nil {
			r.buf, r.tail = r.tail, nil
		} else {
			return 0, io.EOF
		}
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

func TestChunkedTooMuchOverhead(t *testing.T) {
	// Go: TestChunkReaderTooMuchOverhead: 100 bytes of extension per byte
	// of data is rejected at some point.
	chunk := []byte("1;" + strings.Repeat("a", 100) + "\r\nX\r\n")
	_, err := io.ReadAll(newChunkedReader(&repeatReader{chunk: chunk, n: 1 << 16, tail: []byte("0\r\n\r\n")}))
	if !errors.Is(err, ErrChunkedSyntax) {
		t.Fatalf("got %v, want a syntax error", err)
	}
}

func TestChunkedByteAtATime(t *testing.T) {
	// Go: TestChunkReaderByteAtATime: honest 1-byte chunks are fine.
	const n = 1 << 16
	got, err := io.ReadAll(newChunkedReader(&repeatReader{chunk: []byte("1\r\nX\r\n"), n: n, tail: []byte("0\r\n\r\n")}))
	if err != nil || len(got) != n {
		t.Fatalf("read %d bytes, %v", len(got), err)
	}
}

func TestChunkedInvalid(t *testing.T) {
	// Go: TestChunkInvalidInputs, and TestParseHexUint's bad sizes, plus
	// extension grammar cases from llhttp test/request/transfer-encoding.md.
	for name, in := range map[string]string{
		"bare LF in chunk size":        "1\na\r\n0\r\n\r\n",
		"extra CR in chunk size":       "1\r\r\na\r\n0\r\n\r\n",
		"bare LF in chunk data":        "1\r\na\n0\r\n\r\n",
		"bare LF in chunk extension":   "1;\na\r\n0\r\n\r\n",
		"x":                            "x\r\n\r\n",
		"bogus digits":                 "000000000000bogus\r\n\r\n",
		"size above 2^63-1":            "10000000000000000\r\n",
		"size 2^64-1":                  "ffffffffffffffff\r\n",
		"empty size":                   "\r\nabc\r\n0\r\n\r\n",
		"space then garbage":           "2 erfrferferf\r\naa\r\n0\r\n\r\n",
		"semicolon without name":       "2;\r\naa\r\n0\r\n\r\n",
		"equals without value":         "2;a=\r\naa\r\n0\r\n\r\n",
		"unterminated quote":           "2;a=\"b\r\naa\r\n0\r\n\r\n",
		"CTL in quoted value":          "2;a=\"\x01\"\r\naa\r\n0\r\n\r\n",
		"LF only after last chunk":     "0\r\n\n",
		"bare CR in trailer":           "0\r\nA: b\rc\r\n\r\n",
		"obs-fold in trailer":          "0\r\nA: b\r\n c\r\n\r\n",
		"garbage after final CRLF run": "0\r\nX\r\n\r\n",
	} {
		t.Run(name, func(t *testing.T) {
			got, err := io.ReadAll(newChunkedReader(strings.NewReader(in)))
			if err == nil {
				t.Fatalf("parsed invalid chunked data %q as %q", in, got)
			}
		})
	}
}

func TestChunkSizeLeadingZeros(t *testing.T) {
	// Go's TestParseHexUint caps at 16 digits; we accept any number of
	// leading zeros, since the value, not the spelling, is what overflows.
	n, rest, err := parseChunkSize([]byte("00000000000000000001"))
	if err != nil || n != 1 || len(rest) != 0 {
		t.Fatalf("got %d %q %v", n, rest, err)
	}
	n, _, err = parseChunkSize([]byte("7fffffffffffffff"))
	if err != nil || n != 1<<63-1 {
		t.Fatalf("max: got %d %v", n, err)
	}
}

func TestChunkedTrailerForbiddenFieldsDropped(t *testing.T) {
	cr := newChunkedReader(strings.NewReader("0\r\nContent-Length: 5\r\nHost: evil\r\nX-Sum: 1\r\n\r\n"))
	if _, err := io.ReadAll(cr); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cr.trailer, nethttp.Header{"X-Sum": {"1"}}) {
		t.Fatalf("trailer %v", cr.trailer)
	}
}

func TestChunkedReaderAllocs(t *testing.T) {
	// Go: TestChunkReaderAllocs. Decoding allocates nothing per chunk.
	body := strings.Repeat("5\r\nhello\r\n", 10) + "0\r\n\r\n"
	sr := strings.NewReader(body)
	br := bufio.NewReaderSize(sr, 4096)
	var cr chunkedReader
	buf := make([]byte, 64)
	allocs := testing.AllocsPerRun(100, func() {
		sr.Reset(body)
		br.Reset(sr)
		cr.reset(br, Limits{}.withDefaults())
		for {
			if _, err := cr.Read(buf); err != nil {
				break
			}
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocations per body", allocs)
	}
}
