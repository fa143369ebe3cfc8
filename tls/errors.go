package tls

import (
	cryptotls "crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
)

// The reasons a certificate is refused. A *VerifyError or *AlertError wraps
// one of them, so errors.Is(err, ErrUnknownAuthority) works on whichever
// side saw the failure.
var (
	// ErrUnknownAuthority: the chain does not lead to a trusted CA.
	ErrUnknownAuthority = errors.New("signed by an unknown authority")
	// ErrExpired: the certificate (or one in its chain) is expired or not
	// yet valid.
	ErrExpired = errors.New("expired or not yet valid")
	// ErrWrongName: the certificate does not name the server that was asked
	// for.
	ErrWrongName = errors.New("wrong name")
	// ErrNoCertificate: a certificate was required and none was given.
	ErrNoCertificate = errors.New("no certificate given")
	// ErrBadCertificate: the certificate was refused for another reason
	// (wrong key usage, broken chain, bad signature, ...).
	ErrBadCertificate = errors.New("bad certificate")
)

// VerifyError reports that this side refused the peer's certificate. Its
// message says whose certificate failed, why and with which names or dates.
type VerifyError struct {
	// Owner is the side whose certificate was refused: ServerSide when a client
	// refused the server's certificate.
	Owner Side
	// Reason is ErrUnknownAuthority, ErrExpired, ErrWrongName,
	// ErrNoCertificate or ErrBadCertificate.
	Reason error
	// Detail says what exactly was wrong, in words.
	Detail string
	// Err is the error from crypto/tls or crypto/x509 underneath.
	Err error
}

// Error says whose certificate failed and why.
func (e *VerifyError) Error() string {
	msg := fmt.Sprintf("tls: %s certificate refused: %v", e.Owner, e.Reason)
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}

// Unwrap returns the reason and the underlying error, for errors.Is and
// errors.As.
func (e *VerifyError) Unwrap() []error { return []error{e.Reason, e.Err} }

// AlertError reports a fatal alert received from the peer during or after
// the handshake (RFC 8446 section 6.2): the peer ended the connection and
// said why. Alerts about certificates mean the peer refused ours.
type AlertError struct {
	// From is the side that sent the alert.
	From Side
	// Alert is the alert's code; its Error method gives the RFC name.
	Alert cryptotls.AlertError
	// Reason is one of the Err* certificate reasons when the alert is about
	// our certificate, and nil otherwise.
	Reason error
	// Hint explains the alert in words; empty means the usual meaning of
	// the alert.
	Hint string
	// Err is the error from crypto/tls underneath.
	Err error
}

// Error names the alert and explains it.
func (e *AlertError) Error() string {
	name := strings.TrimPrefix(e.Alert.Error(), "tls: ")
	msg := fmt.Sprintf("tls: the %s sent alert %d (%s)", e.From, uint8(e.Alert), name)
	hint := e.Hint
	if hint == "" {
		hint = alertHint(uint8(e.Alert), e.From)
	}
	if hint != "" {
		msg += ": " + hint
	}
	return msg
}

// Unwrap returns the reason (if any), the alert and the underlying error.
func (e *AlertError) Unwrap() []error {
	if e.Reason != nil {
		return []error{e.Reason, e.Alert, e.Err}
	}
	return []error{e.Alert, e.Err}
}

// Alert codes this package explains (RFC 8446 section 6 and RFC 7301).
const (
	alertHandshakeFailure       = 40
	alertBadCertificate         = 42
	alertUnsupportedCertificate = 43
	alertCertificateRevoked     = 44
	alertCertificateExpired     = 45
	alertCertificateUnknown     = 46
	alertUnknownCA              = 48
	alertProtocolVersion        = 70
	alertUnrecognizedName       = 112
	alertCertificateRequired    = 116
	alertNoApplicationProtocol  = 120
)

// alertReason maps certificate alerts to the reason they stand for.
func alertReason(code uint8) error {
	switch code {
	case alertUnknownCA:
		return ErrUnknownAuthority
	case alertCertificateExpired:
		return ErrExpired
	case alertCertificateRequired:
		return ErrNoCertificate
	case alertBadCertificate, alertUnsupportedCertificate, alertCertificateRevoked, alertCertificateUnknown:
		return ErrBadCertificate
	}
	return nil
}

// alertHint explains an alert from the point of view of its receiver.
func alertHint(code uint8, from Side) string {
	switch code {
	case alertUnknownCA:
		return fmt.Sprintf("the %s does not trust the CA that signed our certificate", from)
	case alertCertificateExpired:
		return fmt.Sprintf("the %s says our certificate is expired or not yet valid", from)
	case alertCertificateRequired:
		return fmt.Sprintf("the %s requires a client certificate and we sent none", from)
	case alertBadCertificate, alertUnsupportedCertificate, alertCertificateUnknown:
		return fmt.Sprintf("the %s refused our certificate (or sent none when one was required, before TLS 1.3)", from)
	case alertCertificateRevoked:
		return fmt.Sprintf("the %s says our certificate was revoked", from)
	case alertHandshakeFailure:
		return "no cipher suite, group or signature scheme in common"
	case alertProtocolVersion:
		return "no TLS version in common"
	case alertUnrecognizedName:
		return fmt.Sprintf("the %s has no certificate for the name we asked for (SNI)", from)
	case alertNoApplicationProtocol:
		return "no ALPN protocol in common"
	}
	return ""
}

// alertCodes maps the text crypto/tls gives an alert back to its code.
// crypto/tls reports a received alert as a *net.OpError whose Err has an
// unexported type; its text is the only way to the code.
var alertCodes = func() map[string]uint8 {
	m := make(map[string]uint8, 40)
	for code := range 256 {
		text := cryptotls.AlertError(code).Error()
		if !strings.HasPrefix(text, "tls: alert(") {
			m[text] = uint8(code)
		}
	}
	return m
}()

// errClientSentNoCertificate is the text crypto/tls uses when a server that
// requires a client certificate got none.
const errClientSentNoCertificate = "tls: client didn't provide a certificate"

// explain turns the certificate errors and received alerts that crypto/tls
// reports into *VerifyError and *AlertError. Other errors, io.EOF and
// timeouts among them, come back unchanged. side is the side that got err.
func explain(err error, side Side) error {
	if err == nil {
		return nil
	}
	var verr *VerifyError
	var aerr *AlertError
	if errors.As(err, &verr) || errors.As(err, &aerr) {
		return err // explained already (a sticky handshake error seen twice)
	}
	var certErr *cryptotls.CertificateVerificationError
	if errors.As(err, &certErr) {
		return explainVerification(certErr, side.peer())
	}
	if err.Error() == errClientSentNoCertificate {
		return &VerifyError{Owner: ClientSide, Reason: ErrNoCertificate,
			Detail: "the server requires a client certificate and the client sent none", Err: err}
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) && opErr.Op == "remote error" && opErr.Err != nil {
		if code, ok := alertCodes[opErr.Err.Error()]; ok && code != 0 {
			return &AlertError{From: side.peer(), Alert: cryptotls.AlertError(code), Reason: alertReason(code), Err: err}
		}
	}
	return err
}

// explainVerification says why the certificate of owner failed to verify.
func explainVerification(certErr *cryptotls.CertificateVerificationError, owner Side) *VerifyError {
	e := &VerifyError{Owner: owner, Reason: ErrBadCertificate, Err: certErr}
	var leaf *x509.Certificate
	if len(certErr.UnverifiedCertificates) > 0 {
		leaf = certErr.UnverifiedCertificates[0]
	}

	var unknown x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	switch {
	case errors.As(certErr.Err, &unknown):
		e.Reason = ErrUnknownAuthority
		cert := unknown.Cert
		if cert == nil {
			cert = leaf
		}
		if cert != nil {
			e.Detail = fmt.Sprintf("%q was issued by %q, which is not among the trusted CAs", cert.Subject, cert.Issuer)
		}
	case errors.As(certErr.Err, &hostname):
		e.Reason = ErrWrongName
		e.Detail = fmt.Sprintf("it is valid for %s, not for %q", namesOf(hostname.Certificate), hostname.Host)
	case errors.As(certErr.Err, &invalid) && invalid.Reason == x509.Expired:
		e.Reason = ErrExpired
		e.Detail = expiryDetail(invalid.Cert, invalid.Detail)
	case errors.As(certErr.Err, &invalid):
		e.Detail = strings.TrimPrefix(invalid.Error(), "x509: ")
	default:
		e.Detail = strings.TrimPrefix(certErr.Err.Error(), "x509: ")
	}
	return e
}

// expiryDetail describes a certificate's validity period against the time
// check's own detail text ("current time ... is after ...").
func expiryDetail(cert *x509.Certificate, checkDetail string) string {
	if cert == nil {
		return checkDetail
	}
	return fmt.Sprintf("%q is valid from %s to %s (%s)", cert.Subject,
		cert.NotBefore.UTC().Format(time.RFC3339), cert.NotAfter.UTC().Format(time.RFC3339), checkDetail)
}

// namesOf lists the names a certificate is valid for, as "DNS:a, IP:b".
func namesOf(cert *x509.Certificate) string {
	if cert == nil {
		return "no names"
	}
	var names []string
	for _, n := range cert.DNSNames {
		names = append(names, "DNS:"+n)
	}
	for _, ip := range cert.IPAddresses {
		names = append(names, "IP:"+ip.String())
	}
	if len(names) == 0 {
		return "no names (the certificate has no subject alternative names)"
	}
	return strings.Join(names, ", ")
}
