package http

import (
	"bufio"
	"errors"
	"io"
	nethttp "net/http"
)

// Limits bounds what a peer may make us hold for one message head. Every
// field has a default that is used when the field is zero.
type Limits struct {
	// MaxStartLineBytes bounds the request line (or status line), without
	// its line ending. A longer request line gets 414 URI Too Long
	// (RFC 9112 section 3). Default 8 KiB.
	MaxStartLineBytes int
	// MaxHeaderBytes bounds the whole head: start line, field lines and line
	// endings. Past it a server answers 431 Request Header Fields Too Large
	// (RFC 6585 section 5). Default 1 MiB.
	MaxHeaderBytes int
	// MaxHeaderCount bounds the number of field lines. Default 100.
	MaxHeaderCount int
}

// Default limits.
const (
	DefaultMaxStartLineBytes = 8 << 10
	DefaultMaxHeaderBytes    = 1 << 20
	DefaultMaxHeaderCount    = 100
)

func (l Limits) withDefaults() Limits {
	if l.MaxStartLineBytes <= 0 {
		l.MaxStartLineBytes = DefaultMaxStartLineBytes
	}
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if l.MaxHeaderCount <= 0 {
		l.MaxHeaderCount = DefaultMaxHeaderCount
	}
	return l
}

// maxRetainedHeadBytes is the largest head buffer kept for reuse.
const maxRetainedHeadBytes = 64 << 10

// maxLeadingEmptyLines is how many empty lines we skip before a request
// line. RFC 9112 section 2.2 says a server SHOULD ignore at least one (some
// clients send a CRLF after a POST body); we allow a few and no more.
const maxLeadingEmptyLines = 4

// headReader reads message heads off a connection into reusable memory.
// The head is copied into buf line by line, with the line boundaries in
// lines, so that one string conversion of buf gives the whole head and
// every name and value can be a substring of it: one allocation per head.
type headReader struct {
	buf   []byte
	lines []lineSpan
}

// lineSpan is one line of a head, without its line ending, as offsets into
// the head.
type lineSpan struct{ start, end int32 }

var (
	errHeadTooLarge = &protocolError{status: 431, reason: "request header fields too large"}
	errLineTooLong  = &protocolError{status: 414, reason: "request line too long"}
	errTooManyLines = &protocolError{status: 431, reason: "too many header fields"}
	errBareCR       = badRequest("bare CR in message head")
	errBareLF       = badRequest("line ends in LF without CR")
)

// errEmptyHead is io.EOF seen before the first byte of a head: the peer
// closed an idle connection, which is not an error worth reporting.
var errEmptyHead = io.EOF

// read reads one head: a start line, field lines, and the empty line that
// ends them. In a request every line must end in CRLF. RFC 9112 section 2.2
// allows a recipient to accept a lone LF, but a proxy in front of us that
// does not would see "A: x\nContent-Length: 5" as one field where we see
// two, and that difference is a smuggling vector (llhttp rejects it too).
// Responses, read by our client, may use lone LFs, for old servers. A CR
// anywhere but before the LF is a bare CR and rejects the message (section
// 2.2 allows rejecting or replacing it; we reject). It returns the head as one string and the lines as spans into
// it; the start line is lines[0].
func (hr *headReader) read(br *bufio.Reader, lim Limits, isRequest bool) (string, []lineSpan, error) {
	if cap(hr.buf) > maxRetainedHeadBytes {
		hr.buf = nil // one huge head must not pin its memory to the connection
	}
	hr.buf = hr.buf[:0]
	hr.lines = hr.lines[:0]
	empties := 0
	for {
		start := len(hr.buf)
		line, err := hr.readLine(br, lim, isRequest)
		if err != nil {
			if err == io.EOF && len(hr.lines) == 0 && start == 0 && empties == 0 {
				return "", nil, errEmptyHead
			}
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return "", nil, err
		}
		if len(hr.lines) == 0 {
			if len(line) == 0 {
				if !isRequest || empties >= maxLeadingEmptyLines {
					return "", nil, badRequest("empty start line")
				}
				empties++
				hr.buf = hr.buf[:start]
				continue
			}
			if len(line) > lim.MaxStartLineBytes {
				if isRequest {
					return "", nil, errLineTooLong
				}
				return "", nil, badResponse("status line too long")
			}
		} else if len(line) == 0 {
			break
		}
		if len(hr.lines) > lim.MaxHeaderCount {
			return "", nil, errTooManyLines
		}
		hr.lines = append(hr.lines, lineSpan{int32(start), int32(start + len(line))})
	}
	return string(hr.buf), hr.lines, nil
}

// readLine appends the next line, without its ending, to hr.buf and returns
// the appended part.
func (hr *headReader) readLine(br *bufio.Reader, lim Limits, strict bool) ([]byte, error) {
	start := len(hr.buf)
	for {
		frag, err := br.ReadSlice('\n')
		if len(hr.buf)+len(frag) > lim.MaxHeaderBytes {
			return nil, errHeadTooLarge
		}
		hr.buf = append(hr.buf, frag...)
		if err == nil {
			break
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return nil, err
	}
	end := len(hr.buf) - 1 // drop LF
	if end > start && hr.buf[end-1] == '\r' {
		end--
	} else if strict {
		return nil, errBareLF
	}
	hr.buf = hr.buf[:end]
	line := hr.buf[start:end]
	for _, c := range line {
		if c == '\r' {
			return nil, errBareCR
		}
	}
	return line, nil
}

// fieldStore hands out one-element []string values for a header map from a
// shared backing array, so that building a header of n fields costs no
// allocation per field. Each value slice has its capacity capped at one, so
// a caller that appends to it gets a fresh array and cannot clobber its
// neighbour.
type fieldStore struct {
	vals []string
}

func (fs *fieldStore) reset() { fs.vals = fs.vals[:0] }

func (fs *fieldStore) one(v string) []string {
	if len(fs.vals) == cap(fs.vals) {
		// Start a new backing array rather than growing this one: slices
		// already handed out keep pointing at the old one.
		fs.vals = make([]string, 0, max(16, 2*cap(fs.vals)))
	}
	fs.vals = append(fs.vals, v)
	n := len(fs.vals)
	return fs.vals[n-1 : n : n]
}

// parseFields parses the field lines of a head (lines[1:]) into h, which
// the caller has emptied. Names are canonicalized; repeated names collect
// their values in order (RFC 9110 section 5.3).
func parseFields(head string, lines []lineSpan, h nethttp.Header, fs *fieldStore) error {
	for _, sp := range lines {
		name, value, err := parseFieldLine(head[sp.start:sp.end])
		if err != nil {
			return err
		}
		key := canonicalKey(name)
		if old, ok := h[key]; ok {
			h[key] = append(old, value)
		} else {
			h[key] = fs.one(value)
		}
	}
	return nil
}
