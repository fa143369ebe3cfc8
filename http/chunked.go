package http

import (
	"bufio"
	"errors"
	"io"
	nethttp "net/http"
	"strconv"
)

// The chunked transfer coding (RFC 9112 section 7.1):
//
//	chunked-body   = *chunk
//	                 last-chunk
//	                 trailer-section
//	                 CRLF
//	chunk          = chunk-size [ chunk-ext ] CRLF
//	                 chunk-data CRLF
//	chunk-size     = 1*HEXDIG
//	last-chunk     = 1*("0") [ chunk-ext ] CRLF
//	chunk-ext      = *( BWS ";" BWS chunk-ext-name
//	                    [ BWS "=" BWS chunk-ext-val ] )
//	chunk-ext-name = token
//	chunk-ext-val  = token / quoted-string
//
// The reader is strict: every line ends in CRLF (a lone LF or CR is an
// error), sizes that overflow 63 bits are errors, and extensions must follow
// the grammar even though their meaning is ignored (section 7.1.1 says a
// recipient MUST ignore unrecognized extensions). Differences between
// parsers on exactly these points are what chunked-body smuggling exploits.

// ErrChunkedSyntax wraps every framing error found in a chunked body.
var ErrChunkedSyntax = errors.New("http: malformed chunked encoding")

// maxChunkLineBytes bounds a chunk-size line including its extensions; the
// bufio.Reader's size bounds it too.
const maxChunkLineBytes = 4096

type chunkedState uint8

const (
	chunkSize chunkedState = iota // expecting a chunk-size line
	chunkData                     // inside chunk-data
	chunkCRLF                     // expecting the CRLF after chunk-data
	chunkDone                     // trailer section read; body over
)

// chunkedReader decodes a chunked body from br. After io.EOF the trailer
// fields, if any, are in trailer.
type chunkedReader struct {
	br        *bufio.Reader
	state     chunkedState
	remaining int64 // bytes left in the current chunk
	err       error
	lim       Limits
	trailer   nethttp.Header // filled at the end; created if nil and needed
	overhead  int64          // framing bytes not yet paid for by data
}

// maxChunkOverhead bounds how far chunk framing may outgrow the data it
// frames. Each chunk line costs its length; each chunk pays back a little
// plus twice its size. A peer sending a 1-byte chunk with 4 KiB of
// extensions, over and over, runs out of credit quickly, while one honest
// 1-byte chunk after another never does (the idea of Go's chunked reader).
const maxChunkOverhead = 16 << 10

func (cr *chunkedReader) reset(br *bufio.Reader, lim Limits) {
	*cr = chunkedReader{br: br, lim: lim}
}

func syntaxError(reason string) error {
	return &chunkError{reason: reason}
}

// chunkError is a framing error in a chunked body. It is a protocolError
// for the server (400) and matches ErrChunkedSyntax for errors.Is.
type chunkError struct{ reason string }

func (e *chunkError) Error() string        { return "http: malformed chunked encoding: " + e.reason }
func (e *chunkError) Is(target error) bool { return target == ErrChunkedSyntax }

func (cr *chunkedReader) Read(p []byte) (int, error) {
	for cr.err == nil {
		switch cr.state {
		case chunkSize:
			cr.err = cr.readSizeLine()
		case chunkData:
			if len(p) == 0 {
				return 0, nil
			}
			if int64(len(p)) > cr.remaining {
				p = p[:cr.remaining]
			}
			n, err := cr.br.Read(p)
			cr.remaining -= int64(n)
			if cr.remaining == 0 {
				cr.state = chunkCRLF
			}
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			cr.err = err
			if n > 0 {
				return n, nil
			}
		case chunkCRLF:
			cr.err = cr.readCRLF()
			if cr.err == nil {
				cr.state = chunkSize
			}
		case chunkDone:
			return 0, io.EOF
		}
	}
	return 0, cr.err
}

func (cr *chunkedReader) readCRLF() error {
	b, err := cr.br.Peek(2)
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return err
	}
	if b[0] != '\r' || b[1] != '\n' {
		return syntaxError("chunk data not followed by CRLF")
	}
	cr.br.Discard(2)
	return nil
}

// readLine reads one CRLF-terminated line and returns it without the CRLF.
// The slice is only valid until the next read from br.
func (cr *chunkedReader) readLine() ([]byte, error) {
	line, err := cr.br.ReadSlice('\n')
	if err != nil {
		if err == io.EOF {
			return nil, io.ErrUnexpectedEOF
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			return nil, syntaxError("chunk line too long")
		}
		return nil, err
	}
	if len(line) > maxChunkLineBytes {
		return nil, syntaxError("chunk line too long")
	}
	if len(line) < 2 || line[len(line)-2] != '\r' {
		return nil, syntaxError("chunk line not terminated by CRLF")
	}
	return line[:len(line)-2], nil
}

func (cr *chunkedReader) readSizeLine() error {
	line, err := cr.readLine()
	if err != nil {
		return err
	}
	size, rest, err := parseChunkSize(line)
	if err != nil {
		return err
	}
	cr.overhead += int64(len(line)) + 2 - 16 - 2*min(size, maxChunkOverhead)
	cr.overhead = max(cr.overhead, 0)
	if cr.overhead > maxChunkOverhead {
		return syntaxError("too much chunk framing for the data")
	}
	if err := checkChunkExtensions(rest); err != nil {
		return err
	}
	if size == 0 {
		if err := cr.readTrailer(); err != nil {
			return err
		}
		cr.state = chunkDone
		return nil
	}
	cr.remaining = size
	cr.state = chunkData
	return nil
}

// parseChunkSize parses 1*HEXDIG at the start of line and returns the rest.
// Leading zeros are allowed; a value above 2^63-1 is an error, not a wrap.
func parseChunkSize(line []byte) (int64, []byte, error) {
	var n int64
	i := 0
	for ; i < len(line); i++ {
		c := line[i]
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		default:
			goto end
		}
		if n > (1<<63-1)>>4 {
			return 0, nil, syntaxError("chunk size overflows")
		}
		n = n<<4 | int64(d)
	}
end:
	if i == 0 {
		return 0, nil, syntaxError("chunk size is not hexadecimal")
	}
	return n, line[i:], nil
}

// checkChunkExtensions validates chunk-ext (RFC 9112 section 7.1.1) and
// ignores its meaning. BWS is allowed only where the grammar puts it.
func checkChunkExtensions(ext []byte) error {
	i := 0
	skipBWS := func() {
		for i < len(ext) && (ext[i] == ' ' || ext[i] == '\t') {
			i++
		}
	}
	token := func() bool {
		s := i
		for i < len(ext) && isTokenChar[ext[i]] {
			i++
		}
		return i > s
	}
	for i < len(ext) {
		skipBWS()
		if i >= len(ext) || ext[i] != ';' {
			return syntaxError("invalid character after chunk size")
		}
		i++
		skipBWS()
		if !token() {
			return syntaxError("invalid chunk extension name")
		}
		skipBWS()
		if i < len(ext) && ext[i] == '=' {
			i++
			skipBWS()
			if i < len(ext) && ext[i] == '"' {
				// quoted-string (RFC 9110 section 5.6.4)
				i++
				closed := false
				for i < len(ext) {
					c := ext[i]
					if c == '"' {
						closed = true
						i++
						break
					}
					if c == '\\' {
						i++
						if i >= len(ext) || !validFieldValueByte(ext[i]) {
							return syntaxError("invalid quoted-pair in chunk extension")
						}
					} else if !validFieldValueByte(c) {
						return syntaxError("invalid character in chunk extension")
					}
					i++
				}
				if !closed {
					return syntaxError("unterminated quoted chunk extension")
				}
			} else if !token() {
				return syntaxError("invalid chunk extension value")
			}
		}
	}
	return nil
}

// trailerForbidden lists fields that must not come from a trailer because
// they control framing, routing or authentication (RFC 9110 section 6.5.1).
// They are dropped, as section 6.5.2 allows a recipient to do.
var trailerForbidden = map[string]bool{
	"Content-Length": true, "Transfer-Encoding": true, "Host": true,
	"Trailer": true, "Te": true, "Connection": true, "Keep-Alive": true,
	"Content-Type": true, "Content-Encoding": true, "Content-Range": true,
	"Authorization": true, "Set-Cookie": true, "Cache-Control": true,
	"Expect": true, "Range": true,
}

// readTrailer reads the trailer section and the final CRLF. Field lines are
// held to the same rules and limits as header lines, but must end in CRLF.
func (cr *chunkedReader) readTrailer() error {
	total, count := 0, 0
	for {
		line, err := cr.readLine()
		if err != nil {
			return err
		}
		if len(line) == 0 {
			return nil
		}
		total += len(line) + 2
		count++
		if total > cr.lim.MaxHeaderBytes || count > cr.lim.MaxHeaderCount {
			return syntaxError("trailer section too large")
		}
		for _, c := range line {
			if c == '\r' {
				return syntaxError("bare CR in trailer")
			}
		}
		name, value, err := parseFieldLine(string(line))
		if err != nil {
			return syntaxError("invalid trailer field")
		}
		key := canonicalKey(name)
		if trailerForbidden[key] {
			continue
		}
		if cr.trailer == nil {
			cr.trailer = make(nethttp.Header)
		}
		cr.trailer[key] = append(cr.trailer[key], value)
	}
}

// chunkedWriter writes the chunked coding to a bufio.Writer. Each Write
// becomes one chunk; Close writes the last chunk and the trailer section.
type chunkedWriter struct {
	bw *bufio.Writer
}

func (cw chunkedWriter) Write(p []byte) (int, error) {
	if len(p) == 0 {
		// A zero-size chunk would end the body.
		return 0, nil
	}
	writeHex(cw.bw, uint64(len(p)))
	if _, err := cw.bw.WriteString("\r\n"); err != nil {
		return 0, err
	}
	n, err := cw.bw.Write(p)
	if err != nil {
		return n, err
	}
	_, err = cw.bw.WriteString("\r\n")
	return n, err
}

// close writes the last chunk, the trailer fields and the final CRLF.
func (cw chunkedWriter) close(trailer nethttp.Header) error {
	if _, err := cw.bw.WriteString("0\r\n"); err != nil {
		return err
	}
	for k, vs := range trailer {
		if !validToken(k) || trailerForbidden[canonicalKey(k)] {
			continue
		}
		for _, v := range vs {
			writeField(cw.bw, k, v)
		}
	}
	_, err := cw.bw.WriteString("\r\n")
	return err
}

// writeField writes "name: value\r\n". Bytes that would break the field
// apart (CR, LF, NUL and other controls) are replaced by SP, so a value
// taken from untrusted input cannot inject a header (response splitting).
func writeField(bw *bufio.Writer, name, value string) {
	bw.WriteString(name)
	bw.WriteString(": ")
	if validFieldValue(value) {
		bw.WriteString(value)
	} else {
		for i := 0; i < len(value); i++ {
			c := value[i]
			if !validFieldValueByte(c) {
				c = ' '
			}
			bw.WriteByte(c)
		}
	}
	bw.WriteString("\r\n")
}

// writeHex writes n in lower-case hexadecimal. It goes byte by byte
// because a stack array handed to bufio.Writer.Write escapes to the heap,
// and this runs once per chunk.
func writeHex(bw *bufio.Writer, n uint64) {
	const digits = "0123456789abcdef"
	shift := 60
	for shift > 0 && n>>shift == 0 {
		shift -= 4
	}
	for ; shift >= 0; shift -= 4 {
		bw.WriteByte(digits[(n>>shift)&0xf])
	}
}

// writeDecimal writes n >= 0 in decimal, without allocating.
func writeDecimal(bw *bufio.Writer, n int64) {
	if n >= 10 {
		writeDecimal(bw, n/10)
	}
	bw.WriteByte(byte('0' + n%10))
}

// String forms of status codes for status lines, computed once.
var statusLines = func() map[int]string {
	m := make(map[int]string)
	for code := 100; code < 600; code++ {
		if t := nethttp.StatusText(code); t != "" {
			m[code] = "HTTP/1.1 " + strconv.Itoa(code) + " " + t + "\r\n"
		}
	}
	return m
}()

// writeStatusLine writes "HTTP/1.1 code reason\r\n".
func writeStatusLine(bw *bufio.Writer, code int) {
	if s, ok := statusLines[code]; ok {
		bw.WriteString(s)
		return
	}
	bw.WriteString("HTTP/1.1 ")
	writeDecimal(bw, int64(code))
	bw.WriteString(" status code ")
	writeDecimal(bw, int64(code))
	bw.WriteString("\r\n")
}
