package tls

import (
	"encoding/binary"
	"errors"
	"net"
	"sync"
	"sync/atomic"
)

// TLS wire constants used to read a ClientHello (RFC 8446 sections 4 and
// 5.1).
const (
	recordHeaderLen       = 5     // content type, legacy version, length
	maxRecordPayload      = 16384 // 2^14 bytes of plaintext
	recordTypeHandshake   = 22
	handshakeHeaderLen    = 4 // msg_type, 24-bit length
	handshakeClientHello  = 1
	extServerName         = 0
	extSupportedGroups    = 10
	extSignatureAlgs      = 13
	extALPN               = 16
	extSupportedVersions  = 43
	extKeyShare           = 51
	serverNameTypeHost    = 0
	clientHelloRandomSize = 32
)

var errMalformedHello = errors.New("tls: malformed ClientHello")

// clientHelloView is a view over a TLS record that carries a whole
// ClientHello (RFC 8446 section 4.1.2):
//
//	record:    type(1)=22  legacy_version(2)  length(2)
//	handshake: msg_type(1)=1  length(3)
//	body:      legacy_version(2)  random(32)  legacy_session_id<0..32>
//	           cipher_suites<2..2^16-2>  legacy_compression_methods<1..2^8-1>
//	           extensions<8..2^16-1>, each type(2) length(2) data
//
// parseClientHello checks every length once; the accessors then only read
// within the checked bounds and never panic. Parsing does not allocate.
type clientHelloView struct {
	legacyVersion uint16
	suites        []byte // the cipher_suites vector's contents
	extensions    []byte // the extensions vector's contents, framing checked
}

// parseClientHello reads a record holding one ClientHello. A ClientHello
// split over several records is reported as malformed: a trace only.
func parseClientHello(record []byte) (clientHelloView, error) {
	var v clientHelloView
	if len(record) < recordHeaderLen+handshakeHeaderLen || record[0] != recordTypeHandshake {
		return v, errMalformedHello
	}
	payload := record[recordHeaderLen:]
	if int(binary.BigEndian.Uint16(record[3:5])) != len(payload) {
		return v, errMalformedHello
	}
	if payload[0] != handshakeClientHello {
		return v, errMalformedHello
	}
	bodyLen := int(payload[1])<<16 | int(payload[2])<<8 | int(payload[3])
	body := payload[handshakeHeaderLen:]
	if bodyLen != len(body) {
		return v, errMalformedHello
	}
	if len(body) < 2+clientHelloRandomSize {
		return v, errMalformedHello
	}
	v.legacyVersion = binary.BigEndian.Uint16(body)
	rest := body[2+clientHelloRandomSize:]
	var ok bool
	if _, rest, ok = vector8(rest); !ok { // legacy_session_id
		return v, errMalformedHello
	}
	if v.suites, rest, ok = vector16(rest); !ok || len(v.suites)%2 != 0 {
		return v, errMalformedHello
	}
	if _, rest, ok = vector8(rest); !ok { // legacy_compression_methods
		return v, errMalformedHello
	}
	if v.extensions, rest, ok = vector16(rest); !ok || len(rest) != 0 {
		return v, errMalformedHello
	}
	for exts := v.extensions; len(exts) > 0; {
		if len(exts) < 4 {
			return v, errMalformedHello
		}
		if _, exts, ok = vector16(exts[2:]); !ok {
			return v, errMalformedHello
		}
	}
	return v, nil
}

// vector8 splits off a vector with a one-byte length (RFC 8446 section 3.4).
func vector8(b []byte) (body, rest []byte, ok bool) {
	if len(b) < 1 || len(b) < 1+int(b[0]) {
		return nil, nil, false
	}
	n := 1 + int(b[0])
	return b[1:n], b[n:], true
}

// vector16 splits off a vector with a two-byte length.
func vector16(b []byte) (body, rest []byte, ok bool) {
	if len(b) < 2 {
		return nil, nil, false
	}
	n := 2 + int(binary.BigEndian.Uint16(b))
	if len(b) < n {
		return nil, nil, false
	}
	return b[2:n], b[n:], true
}

// LegacyVersion is the version field of the hello; TLS 1.3 clients put
// TLS 1.2 here and list the versions in the supported_versions extension.
func (v clientHelloView) LegacyVersion() uint16 { return v.legacyVersion }

// CipherSuites calls yield with each offered suite, in order.
func (v clientHelloView) CipherSuites(yield func(uint16) bool) {
	eachUint16(v.suites, yield)
}

// Extension returns the data of the first extension of type typ.
func (v clientHelloView) Extension(typ uint16) ([]byte, bool) {
	for exts := v.extensions; len(exts) >= 4; {
		t := binary.BigEndian.Uint16(exts)
		data, rest, ok := vector16(exts[2:])
		if !ok {
			return nil, false
		}
		if t == typ {
			return data, true
		}
		exts = rest
	}
	return nil, false
}

// SupportedVersions calls yield with each version in supported_versions
// (RFC 8446 section 4.2.1).
func (v clientHelloView) SupportedVersions(yield func(uint16) bool) {
	if data, ok := v.Extension(extSupportedVersions); ok {
		if list, _, ok := vector8(data); ok {
			eachUint16(list, yield)
		}
	}
}

// SupportedGroups calls yield with each group in supported_groups (RFC 8446
// section 4.2.7).
func (v clientHelloView) SupportedGroups(yield func(uint16) bool) {
	v.uint16List(extSupportedGroups, yield)
}

// SignatureAlgorithms calls yield with each scheme in signature_algorithms
// (RFC 8446 section 4.2.3).
func (v clientHelloView) SignatureAlgorithms(yield func(uint16) bool) {
	v.uint16List(extSignatureAlgs, yield)
}

// KeyShareGroups calls yield with the group of each key share the client
// sent (RFC 8446 section 4.2.8).
func (v clientHelloView) KeyShareGroups(yield func(uint16) bool) {
	data, ok := v.Extension(extKeyShare)
	if !ok {
		return
	}
	shares, _, ok := vector16(data)
	for ok && len(shares) >= 2 {
		group := binary.BigEndian.Uint16(shares)
		var rest []byte
		if _, rest, ok = vector16(shares[2:]); !ok {
			return
		}
		if !yield(group) {
			return
		}
		shares = rest
	}
}

// ServerName returns the host name in server_name (RFC 6066 section 3).
func (v clientHelloView) ServerName() []byte {
	data, ok := v.Extension(extServerName)
	if !ok {
		return nil
	}
	list, _, ok := vector16(data)
	for ok && len(list) >= 1 {
		nameType := list[0]
		var name, rest []byte
		if name, rest, ok = vector16(list[1:]); !ok {
			return nil
		}
		if nameType == serverNameTypeHost {
			return name
		}
		list = rest
	}
	return nil
}

// ALPN calls yield with each protocol name offered (RFC 7301 section 3.1).
func (v clientHelloView) ALPN(yield func([]byte) bool) {
	data, ok := v.Extension(extALPN)
	if !ok {
		return
	}
	list, _, ok := vector16(data)
	for ok && len(list) > 0 {
		var name []byte
		if name, list, ok = vector8(list); !ok || !yield(name) {
			return
		}
	}
}

func (v clientHelloView) uint16List(typ uint16, yield func(uint16) bool) {
	if data, ok := v.Extension(typ); ok {
		if list, _, ok := vector16(data); ok {
			eachUint16(list, yield)
		}
	}
}

func eachUint16(b []byte, yield func(uint16) bool) {
	for ; len(b) >= 2; b = b[2:] {
		if !yield(binary.BigEndian.Uint16(b)) {
			return
		}
	}
}

// helloCapture watches a client's first record on its way out and reports
// the ClientHello in it. After that first record every Write goes straight
// through.
type helloCapture struct {
	net.Conn
	onHello      func(*ClientHelloEvent)
	onFirstWrite func()

	done atomic.Bool // the first record was reported, or given up on
	mu   sync.Mutex
	buf  []byte
}

// Write passes b on after looking at it while the first record is
// incomplete.
func (h *helloCapture) Write(b []byte) (int, error) {
	if !h.done.Load() {
		h.observe(b)
	}
	return h.Conn.Write(b)
}

func (h *helloCapture) observe(b []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.done.Load() {
		return
	}
	if h.buf == nil {
		h.onFirstWrite()
	}
	h.buf = append(h.buf, b...)
	if len(h.buf) < recordHeaderLen {
		return
	}
	recordLen := recordHeaderLen + int(binary.BigEndian.Uint16(h.buf[3:5]))
	if h.buf[0] != recordTypeHandshake || recordLen > recordHeaderLen+maxRecordPayload {
		h.giveUp()
		return
	}
	if len(h.buf) < recordLen {
		return
	}
	if view, err := parseClientHello(h.buf[:recordLen]); err == nil {
		h.onHello(helloEventFromWire(view, h.Conn))
	}
	h.giveUp()
}

func (h *helloCapture) giveUp() {
	h.buf = nil
	h.done.Store(true)
}
