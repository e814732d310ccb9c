package linux

// PLACEHOLDER: replaced by the full table of amd64 syscall names.
var syscallNames = map[int]string{0: "read", 1: "write"}
