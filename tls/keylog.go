package tls

import (
	"fmt"
	"io"
	"os"
)

// KeyLogEnv is the environment variable that names a key log file, the
// convention of NSS, curl, Firefox and Chrome.
const KeyLogEnv = "SSLKEYLOGFILE"

// OpenKeyLog opens (creating it, mode 0600) the file at path for appending
// connection secrets in the NSS key log format, one line per secret:
//
//	CLIENT_RANDOM <client random, hex> <master secret, hex>          (TLS 1.2)
//	CLIENT_HANDSHAKE_TRAFFIC_SECRET <client random> <secret>         (TLS 1.3)
//	SERVER_HANDSHAKE_TRAFFIC_SECRET, CLIENT_TRAFFIC_SECRET_0, ...
//
// Put the result in Config.KeyLogWriter, and point Wireshark's TLS
// preference "(Pre)-Master-Secret log filename" at the file to read a
// capture of those connections decrypted. Anyone with the file can decrypt
// them too: use it on test traffic only, and Close it when done.
func OpenKeyLog(path string) (io.WriteCloser, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("tls: opening key log: %w", err)
	}
	return f, nil
}

// KeyLogFromEnv opens the key log named by the SSLKEYLOGFILE environment
// variable. It returns nil and no error when the variable is unset or
// empty, so that
//
//	cfg.KeyLogWriter, err = tls.KeyLogFromEnv()
//
// logs keys only when the user asked for it (a nil io.WriteCloser becomes a
// nil io.Writer, which crypto/tls ignores).
func KeyLogFromEnv() (io.WriteCloser, error) {
	path := os.Getenv(KeyLogEnv)
	if path == "" {
		return nil, nil
	}
	return OpenKeyLog(path)
}
