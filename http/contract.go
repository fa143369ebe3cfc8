package http

import (
	"io"
	nethttp "net/http"
	"strconv"
	"strings"
)

// MaxContractBytes bounds N in the contract's /bytes/N: 1 GiB.
const MaxContractBytes = 1 << 30

// ContractHandler returns the handler of the benchmark contract in
// DESIGN.md, which `tundra serve` mounts on port 80 (and 443 over TLS):
//
//	GET /          "hello, world\n"
//	GET /bytes/N   N bytes (0 <= N <= MaxContractBytes), streamed with a
//	               Content-Length; 400 for a bad N
//	POST /echo     the request body back, with its Content-Length if the
//	               request had one, chunked otherwise
//
// HEAD works wherever GET does. Other methods get 405, other paths 404.
func ContractHandler() nethttp.Handler {
	return contractHandler{}
}

type contractHandler struct{}

var (
	helloBody = []byte("hello, world\n")
	// patternBlock is what /bytes/N repeats: printable, so a human looking
	// at a capture can read it, and 32 KiB, so each Write is a large one.
	patternBlock = func() []byte {
		const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789\n"
		b := make([]byte, 32<<10)
		for i := range b {
			b[i] = alphabet[i%len(alphabet)]
		}
		return b
	}()
)

// The header values the contract sets, shared so that setting them costs
// no allocation per request. Handlers never modify the slices.
var (
	textPlain   = []string{"text/plain; charset=utf-8"}
	octetStream = []string{"application/octet-stream"}
)

func (contractHandler) ServeHTTP(w nethttp.ResponseWriter, r *nethttp.Request) {
	path := r.URL.Path
	switch {
	case path == "/":
		if !getOrHead(w, r) {
			return
		}
		h := w.Header()
		h["Content-Type"] = textPlain
		w.Write(helloBody)
	case strings.HasPrefix(path, "/bytes/"):
		if !getOrHead(w, r) {
			return
		}
		n, err := strconv.ParseInt(path[len("/bytes/"):], 10, 64)
		if err != nil || n < 0 || n > MaxContractBytes {
			nethttp.Error(w, "bad byte count: want /bytes/N with 0 <= N <= "+strconv.Itoa(MaxContractBytes), nethttp.StatusBadRequest)
			return
		}
		h := w.Header()
		h["Content-Type"] = octetStream
		h.Set("Content-Length", strconv.FormatInt(n, 10))
		if r.Method == "HEAD" {
			return
		}
		for n > 0 {
			chunk := patternBlock[:min(n, int64(len(patternBlock)))]
			if _, err := w.Write(chunk); err != nil {
				return
			}
			n -= int64(len(chunk))
		}
	case path == "/echo":
		if r.Method != "POST" {
			w.Header().Set("Allow", "POST")
			nethttp.Error(w, "use POST", nethttp.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h["Content-Type"] = octetStream
		if r.ContentLength >= 0 {
			h.Set("Content-Length", strconv.FormatInt(r.ContentLength, 10))
		}
		bp := copyBuffers.Get().(*[]byte)
		defer copyBuffers.Put(bp)
		io.CopyBuffer(onlyWriter{w}, onlyReader{r.Body}, *bp)
	default:
		nethttp.NotFound(w, r)
	}
}

func getOrHead(w nethttp.ResponseWriter, r *nethttp.Request) bool {
	if r.Method == "GET" || r.Method == "HEAD" {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	nethttp.Error(w, "use GET or HEAD", nethttp.StatusMethodNotAllowed)
	return false
}

// onlyWriter and onlyReader hide ReadFrom and WriteTo, so io.CopyBuffer uses
// the pooled buffer instead of allocating its own.
type onlyWriter struct{ io.Writer }
type onlyReader struct{ io.Reader }
