package http

import (
	"strings"
)

// This file holds the message-syntax pieces of RFC 9112 and RFC 9110 that
// look at single lines: character classes, the request line, the status
// line and one field line. They are views: they take a string that is
// already in memory, check it once, and hand back substrings of it. None of
// them allocates.

// isTokenChar reports whether a byte is a tchar (RFC 9110 section 5.6.2):
//
//	tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
//	        "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
var isTokenChar = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c] = true
		t[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()

// validToken reports whether s is a non-empty token (RFC 9110 section 5.6.2).
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTokenChar[s[i]] {
			return false
		}
	}
	return true
}

// validFieldValueByte reports whether c may appear in a field value after
// the surrounding whitespace is removed (RFC 9110 section 5.5):
//
//	field-value = *field-content
//	field-vchar = VCHAR / obs-text
//
// with SP and HTAB allowed inside. Every other control character, including
// a CR that does not end the line ("bare CR", RFC 9112 section 2.2) and NUL,
// makes the value invalid.
func validFieldValueByte(c byte) bool {
	return c == '\t' || (c >= 0x20 && c != 0x7f)
}

// validFieldValue reports whether every byte of v is allowed in a field value.
func validFieldValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if !validFieldValueByte(v[i]) {
			return false
		}
	}
	return true
}

// trimOWS removes optional whitespace (SP and HTAB, RFC 9110 section 5.6.3)
// from both ends of s.
func trimOWS(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// requestLine is the parsed first line of a request (RFC 9112 section 3):
//
//	request-line = method SP request-target SP HTTP-version
type requestLine struct {
	method string
	target string
	proto  string
	major  int
	minor  int
}

// parseRequestLine splits the request line. It accepts exactly one SP
// between the parts: RFC 9112 section 3 allows a recipient to be lenient
// about whitespace, but every leniency is a place where two parsers can
// disagree, and that is how requests get smuggled.
func parseRequestLine(line string) (requestLine, error) {
	var rl requestLine
	sp1 := strings.IndexByte(line, ' ')
	if sp1 <= 0 {
		return rl, badRequest("malformed request line")
	}
	rest := line[sp1+1:]
	sp2 := strings.IndexByte(rest, ' ')
	if sp2 <= 0 {
		return rl, badRequest("malformed request line")
	}
	rl.method = line[:sp1]
	rl.target = rest[:sp2]
	rl.proto = rest[sp2+1:]
	if !validToken(rl.method) {
		return rl, badRequest("invalid method")
	}
	// request-target is a URI form (RFC 9112 section 3.2): visible ASCII
	// only. Anything else (a second SP, a control character, obs-text) is
	// rejected here rather than guessed at.
	for i := 0; i < len(rl.target); i++ {
		if c := rl.target[i]; c <= ' ' || c >= 0x7f {
			return rl, badRequest("invalid character in request target")
		}
	}
	var ok bool
	rl.major, rl.minor, ok = parseHTTPVersion(rl.proto)
	if !ok {
		return rl, badRequest("malformed HTTP version")
	}
	if rl.major != 1 {
		return rl, &protocolError{status: 505, reason: "HTTP version not supported"}
	}
	return rl, nil
}

// parseHTTPVersion parses HTTP-version = "HTTP/" DIGIT "." DIGIT
// (RFC 9112 section 2.3). The name is case-sensitive.
func parseHTTPVersion(s string) (major, minor int, ok bool) {
	if len(s) != 8 || s[:5] != "HTTP/" || s[6] != '.' {
		return 0, 0, false
	}
	ma, mi := s[5], s[7]
	if ma < '0' || ma > '9' || mi < '0' || mi > '9' {
		return 0, 0, false
	}
	return int(ma - '0'), int(mi - '0'), true
}

// statusLine is the parsed first line of a response (RFC 9112 section 4):
//
//	status-line = HTTP-version SP status-code SP [ reason-phrase ]
type statusLine struct {
	proto  string
	major  int
	minor  int
	code   int
	status string // "200 OK": the code and the reason, as net/http wants it
}

// parseStatusLine splits a response's status line.
func parseStatusLine(line string) (statusLine, error) {
	var sl statusLine
	if len(line) < 12 || line[8] != ' ' {
		return sl, badResponse("malformed status line")
	}
	var ok bool
	sl.proto = line[:8]
	sl.major, sl.minor, ok = parseHTTPVersion(sl.proto)
	if !ok || sl.major != 1 {
		return sl, badResponse("unsupported HTTP version in status line")
	}
	code := line[9:12]
	for i := 0; i < 3; i++ {
		if code[i] < '0' || code[i] > '9' {
			return sl, badResponse("malformed status code")
		}
	}
	sl.code = int(code[0]-'0')*100 + int(code[1]-'0')*10 + int(code[2]-'0')
	if sl.code < 100 {
		return sl, badResponse("malformed status code")
	}
	// The reason phrase is optional, but the SP before it is not; be lenient
	// and accept its absence, as many servers omit it.
	if len(line) > 12 {
		if line[12] != ' ' {
			return sl, badResponse("malformed status line")
		}
		for i := 13; i < len(line); i++ {
			if !validFieldValueByte(line[i]) {
				return sl, badResponse("invalid character in reason phrase")
			}
		}
	}
	sl.status = line[9:]
	if len(line) == 12 {
		sl.status = code
	}
	return sl, nil
}

// parseFieldLine splits one field line (RFC 9112 section 5):
//
//	field-line = field-name ":" OWS field-value OWS
//
// No whitespace is allowed between the name and the colon (section 5.1: a
// server MUST reject such a message with 400), and a line that starts with
// whitespace is obsolete line folding (section 5.2), which we reject rather
// than unfold.
func parseFieldLine(line string) (name, value string, err error) {
	if line[0] == ' ' || line[0] == '\t' {
		return "", "", badRequest("obsolete line folding")
	}
	colon := strings.IndexByte(line, ':')
	if colon <= 0 {
		return "", "", badRequest("malformed header line")
	}
	name = line[:colon]
	if !validToken(name) {
		return "", "", badRequest("invalid header name")
	}
	value = trimOWS(line[colon+1:])
	if !validFieldValue(value) {
		return "", "", badRequest("invalid character in header value")
	}
	return name, value, nil
}

// commonHeaders maps the lower-case form of header names seen on nearly
// every message to their canonical form, so canonicalizing them never
// allocates.
var commonHeaders = func() map[string]string {
	m := make(map[string]string)
	for _, k := range []string{
		"Accept", "Accept-Charset", "Accept-Encoding", "Accept-Language",
		"Accept-Ranges", "Age", "Allow", "Authorization", "Cache-Control",
		"Connection", "Content-Disposition", "Content-Encoding",
		"Content-Language", "Content-Length", "Content-Location",
		"Content-Range", "Content-Type", "Cookie", "Date", "Etag", "Expect",
		"Expires", "From", "Host", "If-Match", "If-Modified-Since",
		"If-None-Match", "If-Range", "If-Unmodified-Since", "Keep-Alive",
		"Last-Modified", "Location", "Origin", "Pragma",
		"Proxy-Authenticate", "Proxy-Authorization", "Proxy-Connection",
		"Range", "Referer", "Retry-After", "Server", "Set-Cookie", "Te",
		"Trailer", "Transfer-Encoding", "Upgrade", "User-Agent", "Vary",
		"Via", "Www-Authenticate", "X-Forwarded-For", "X-Forwarded-Host",
		"X-Forwarded-Proto", "X-Request-Id",
	} {
		m[strings.ToLower(k)] = k
	}
	return m
}()

// canonicalKey returns the canonical form of a valid header name, as
// net/textproto.CanonicalMIMEHeaderKey would ("content-type" becomes
// "Content-Type"). Names already canonical are returned as they are and
// common names come from a table, so neither case allocates.
func canonicalKey(name string) string {
	upper := true
	canonical := true
	for i := 0; i < len(name); i++ {
		c := name[i]
		if upper && 'a' <= c && c <= 'z' || !upper && 'A' <= c && c <= 'Z' {
			canonical = false
			break
		}
		upper = c == '-'
	}
	if canonical {
		return name
	}
	var small [64]byte
	var buf []byte
	if len(name) <= len(small) {
		buf = small[:len(name)]
	} else {
		buf = make([]byte, len(name))
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	if k, ok := commonHeaders[string(buf)]; ok { // this lookup does not allocate
		return k
	}
	upper = true
	for i, c := range buf {
		if upper && 'a' <= c && c <= 'z' {
			buf[i] = c - ('a' - 'A')
		}
		upper = c == '-'
	}
	return string(buf)
}

// asciiEqualFold reports whether a and b are equal ignoring ASCII case.
func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// hasToken reports whether any of the comma-separated lists in values
// (RFC 9110 section 5.6.1) contains token, compared without case.
// It is how "Connection: keep-alive, Upgrade" is searched for "keep-alive".
func hasToken(values []string, token string) bool {
	for _, v := range values {
		for v != "" {
			var elem string
			if i := strings.IndexByte(v, ','); i >= 0 {
				elem, v = v[:i], v[i+1:]
			} else {
				elem, v = v, ""
			}
			if asciiEqualFold(trimOWS(elem), token) {
				return true
			}
		}
	}
	return false
}

// validHost reports whether h is acceptable as a Host field value
// (RFC 9110 section 7.2: uri-host [ ":" port ]). It allows the characters of
// reg-name, IPv4 and IP-literal forms and rejects the rest, notably "/",
// "@", whitespace and controls, which have been used to confuse routing.
func validHost(h string) bool {
	for i := 0; i < len(h); i++ {
		c := h[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("-._~!$&'()*+,;=:[]%", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// protocolError is a message that breaks the HTTP/1.1 syntax. It carries the
// status code a server answers with; the connection is always closed after
// it, since the framing can no longer be trusted.
type protocolError struct {
	status int
	reason string
}

func (e *protocolError) Error() string { return "http: " + e.reason }

func badRequest(reason string) error { return &protocolError{status: 400, reason: reason} }

func badResponse(reason string) error { return &protocolError{status: 502, reason: reason} }
