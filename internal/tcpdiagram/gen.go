package tcpdiagram

//go:generate go run ./gen -out ../../docs
