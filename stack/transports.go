package stack

// initTransports registers the transport protocols the stack serves.
func (s *Stack) initTransports() {}

// closeTransports aborts every socket.
func (s *Stack) closeTransports() {}
